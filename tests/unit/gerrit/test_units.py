"""Unit tests of the emulator's parts: query language, auth, passwords, groups, events."""

import base64
import hashlib
import json
import os
import stat

import fixtures
import testtools

from ci_tools.gerrit import events, passwords, query
from ci_tools.gerrit.auth import REALM, Authenticator
from ci_tools.gerrit.repos import change_id_of, change_ref
from ci_tools.gerrit.store import Store


def change(**kw):
    base = {
        "number": 7,
        "project": "openstack/cinder",
        "branch": "master",
        "status": "NEW",
        "change_id": "Iabc123",
        "topic": None,
        "updated": 0,
        "owner_id": 1,
    }
    return {**base, **kw}


class TestQuery(testtools.TestCase):
    def match(self, text, c):
        pred, _ = query.compile_query(text)
        return pred(c, None)

    def test_zuul_and_gertty_queries(self):
        c = change()
        self.assertTrue(self.match("project:{openstack/cinder} status:open", c))
        self.assertTrue(
            self.match("project:openstack/cinder -age:30s status:open", change(updated=0)) is False
        )
        self.assertTrue(self.match("change:7", c))
        self.assertTrue(self.match("7", c))
        self.assertFalse(self.match("status:open is:mergeable conflicts:7", c))
        self.assertFalse(self.match("status:merged", c))
        self.assertTrue(self.match("NOT status:merged branch:refs/heads/master", c))
        self.assertEqual(5, query.compile_query("status:open limit:5")[1])

    def test_unknown_operator_is_an_error(self):
        e = self.assertRaises(query.QueryError, query.compile_query, "frob:x")
        self.assertEqual("Unsupported operator frob:x", str(e))
        self.assertRaises(query.QueryError, query.compile_query, "status:weird")
        self.assertRaises(query.QueryError, query.compile_query, "age:soon")


class TestHelpers(testtools.TestCase):
    def test_change_id_is_last_footer(self):
        msg = (
            "S\n\nChange-Id: I1111111111111111111111111111111111111111\n"
            "Change-Id: I2222222222222222222222222222222222222222\n"
        )
        self.assertEqual("I2222222222222222222222222222222222222222", change_id_of(msg))
        self.assertIsNone(change_id_of("no footer"))

    def test_change_ref(self):
        self.assertEqual("refs/changes/05/105/3", change_ref(105, 3))
        self.assertEqual("refs/changes/01/1/1", change_ref(1, 1))

    def test_events_are_one_ascii_line(self):
        line = events.encode({"comment": "a\nb\u2028c\x00☃"})
        self.assertEqual(1, line.count("\n"))
        self.assertTrue(line.isascii())
        self.assertEqual("a\nb\u2028c\x00☃", json.loads(line)["comment"])


class TestAuth(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.store = Store(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(self.store.close)
        self.store.add_account("ci", http_password="s3cret")
        self.store.add_account("uni", http_password="pässwörd")
        self.auth = Authenticator(self.store)

    @staticmethod
    def basic(raw):
        return "Basic " + base64.b64encode(raw).decode()

    def test_basic(self):
        self.assertEqual("ci", self.auth.authenticate(self.basic(b"ci:s3cret"))["username"])
        # Cached the second time, and still refused with another password.
        self.assertEqual("ci", self.auth.authenticate(self.basic(b"ci:s3cret"))["username"])
        self.assertIsNone(self.auth.authenticate(self.basic(b"ci:wrong")))
        self.assertIsNone(self.auth.authenticate(None))
        self.assertEqual(
            "uni", self.auth.authenticate(self.basic("uni:pässwörd".encode()))["username"]
        )
        self.assertEqual('Basic realm="Gerrit Code Review"', self.auth.challenge())

    def test_digest_is_not_offered_nor_accepted(self):
        # Gerrit 3.10 speaks Basic only: a well-formed digest answer is no account.
        ha1 = hashlib.md5(f"ci:{REALM}:s3cret".encode()).hexdigest()
        header = (
            f'Digest username="ci", realm="{REALM}", nonce="x", uri="/a/accounts/self", '
            f'response="{ha1}"'
        )
        self.assertIsNone(self.auth.authenticate(header, "GET", "/a/accounts/self"))
        self.assertNotIn("Digest", self.auth.challenge())

    def test_bad_encodings_are_no_account(self):
        for header in (
            "Basic " + "ä" * 8,  # non-ASCII where base64 belongs
            self.basic("ci:s3crét".encode("latin-1")),  # not UTF-8
            self.basic(b"ci:s3cret") + "!",  # not base64
            self.basic(b"ci"),  # no colon
            self.basic(b":s3cret"),
            "Basic",
            "Bearer abc",
        ):
            self.assertIsNone(self.auth.authenticate(header), header)


class TestPasswordsAndModes(testtools.TestCase):
    def test_only_salted_hashes_in_a_private_database(self):
        path = self.useFixture(fixtures.TempDir()).path
        data = os.path.join(path, "data")
        store = Store(data)
        self.addCleanup(store.close)
        store.add_account("a", http_password="same-password")
        store.add_account("b", http_password="same-password")
        a, b = store.account_by_username("a"), store.account_by_username("b")
        self.assertTrue(a["http_password"].startswith("scrypt$"))
        self.assertNotEqual(a["http_password"], b["http_password"])  # salted
        self.assertEqual("a", store.check_password("a", "same-password")["username"])
        self.assertIsNone(store.check_password("a", "other"))
        with open(os.path.join(data, "state.sqlite"), "rb") as f:
            self.assertNotIn(b"same-password", f.read())
        self.assertEqual(0o700, stat.S_IMODE(os.stat(data).st_mode))
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(os.path.join(data, "state.sqlite" + suffix)):
                mode = os.stat(os.path.join(data, "state.sqlite" + suffix)).st_mode
                self.assertEqual(0o600, stat.S_IMODE(mode), suffix)

    def test_old_clear_text_passwords_are_hashed_on_open(self):
        data = self.useFixture(fixtures.TempDir()).path
        store = Store(data)
        store.add_account("old")
        store._write("UPDATE accounts SET http_password='plain' WHERE username='old'")
        store.close()
        os.chmod(data, 0o755)
        store = Store(data)
        self.addCleanup(store.close)
        self.assertTrue(passwords.is_hash(store.account_by_username("old")["http_password"]))
        self.assertEqual("old", store.check_password("old", "plain")["username"])
        self.assertEqual(0o700, stat.S_IMODE(os.stat(data).st_mode))


class TestGroupsAndPermissions(testtools.TestCase):
    def test_members_and_capabilities_through_groups(self):
        store = Store(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(store.close)
        ci = store.add_account("ci")
        dev = store.add_account("dev")
        admin = store.add_account("root", is_admin=True)
        group = store.add_group("Third-Party CI", visible_to_all=True, members=["ci"])
        self.assertEqual(group["id"], store.group(group["uuid"])["id"])
        self.assertEqual(group["id"], store.group(str(group["id"]))["id"])
        self.assertEqual(["ci"], [a["username"] for a in store.group_members(group["id"])])
        self.assertFalse(store.has_permission(ci, "streamEvents"))
        store.grant_permission("streamEvents", group="Third-Party CI")
        store.grant_permission("streamEvents", group="Third-Party CI")  # idempotent
        self.assertTrue(store.has_permission(ci, "streamEvents"))
        self.assertFalse(store.has_permission(dev, "streamEvents"))
        self.assertTrue(store.has_permission(admin, "streamEvents"))
        store.grant_permission("abandon", account="dev", project_pattern="openstack/*")
        self.assertTrue(store.has_permission(dev, "abandon", "openstack/cinder"))
        self.assertFalse(store.has_permission(dev, "abandon", "other"))
        from ci_tools.errors import UsageError

        self.assertRaises(UsageError, store.grant_permission, "submit", account="dev")
        self.assertRaises(UsageError, store.add_member, "Third-Party CI", "nobody")


class TestPushOptions(testtools.TestCase):
    def test_git_review_options(self):
        from ci_tools.gerrit.service import GerritError, parse_push_options

        opts = parse_push_options("topic=bug/123,hashtag=a,t=%23b,r=jo,wip,notify=NONE")
        self.assertEqual(
            ("bug/123", ["a", "b"], True, "jo"),
            (opts["topic"], opts["hashtags"], opts["wip"], opts["r"]),
        )
        self.assertEqual({"hashtags": []}, parse_push_options(""))
        # git push -o: one option each, so values may hold commas.
        opts = parse_push_options("topic=a", ["topic=b,c", "hashtag=d"])
        self.assertEqual(("b,c", ["d"]), (opts["topic"], opts["hashtags"]))
        e = self.assertRaises(GerritError, parse_push_options, "frobnicate")
        self.assertEqual('"--frobnicate" is not a valid option', e.message)


class _FakeService:
    """Just what label: predicates read: current patch set and approvals."""

    def __init__(self, store):
        self.store = store

    def current_patchset(self, number):
        return self.store.patchsets(number)[-1]


class TestLabelQueries(testtools.TestCase):
    def test_label_operators(self):
        store = Store(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(store.close)
        owner = store.add_account("dev")
        ci = store.add_account("ci")
        number = store.create_change("p", "master", "I1", owner["id"], "s", "1" * 40)
        store.set_approval(number, 1, ci["id"], "Verified", 1)
        store.set_approval(number, 1, owner["id"], "Code-Review", -1)
        svc = _FakeService(store)
        c = store.change(number)

        def match(text):
            pred, _ = query.compile_query(text)
            return pred(c, svc)

        for text in (
            "label:Verified+1",
            "label:Verified=1",
            "label:verified>=1",
            "label:Verified=ANY",
            "label:Verified+1,user=ci",
            "label:Code-Review-1",
            "label:Code-Review-1,owner",
            "label:Workflow=NONE",
            "label:Workflow=0",
            "label:Code-Review<=-1 -label:Verified-1",
        ):
            self.assertTrue(match(text), text)
        for text in (
            "label:Verified-1",
            "label:Verified=MAX",
            "label:Verified+1,user=dev",
            "label:Code-Review+1",
            "label:Verified=NONE",
        ):
            self.assertFalse(match(text), text)
        # A new patch set starts without votes.
        store.add_patchset(number, "2" * 40, owner["id"], "s")
        self.assertFalse(match("label:Verified+1"))
        self.assertRaises(query.QueryError, query.compile_query, "label:Nope+1")
        self.assertRaises(query.QueryError, query.compile_query, "label:Verified~1")


class TestStore(testtools.TestCase):
    def test_label_ranges_and_key_ownership(self):
        store = Store(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(store.close)
        ci = store.add_account("ci", ssh_keys=["ssh-ed25519 AAAAkey ci@x"])
        store.add_grant(ci["id"], "Verified", -1, 1, "openstack/*")
        self.assertEqual((-1, 1), store.label_range(ci, "Verified", "openstack/cinder"))
        self.assertIsNone(store.label_range(ci, "Verified", "other/project"))
        self.assertEqual((-1, 1), store.label_range(ci, "Code-Review", "other/project"))
        self.assertIsNone(store.label_range(ci, "Workflow", "openstack/cinder"))
        from ci_tools.errors import UsageError

        e = self.assertRaises(
            UsageError, store.add_account, "bob", ssh_keys=["ssh-ed25519 AAAAkey bob@x"]
        )
        self.assertIn("already belongs to account", e.message)
        self.assertRaises(UsageError, store.add_account, "eve", ssh_keys=["not a key"])


class TestQueryGrammar(testtools.TestCase):
    def match(self, text, c):
        pred, _ = query.compile_query(text)
        return pred(c, None)

    def test_or_parentheses_and_braces(self):
        c = change()
        self.assertTrue(self.match("(change:8 OR change:7)", c))
        self.assertFalse(self.match("(change:8 OR change:9) status:open", c))
        self.assertTrue(self.match('status:open topic:"" OR change:9', c))
        self.assertTrue(self.match("project:{openstack/cinder} AND NOT (status:merged)", c))
        self.assertEqual(
            ["message:Depends-On: x y", ")"], query.tokenize("message:{Depends-On: x y})")
        )
        self.assertRaises(query.QueryError, query.compile_query, "(change:7")
        self.assertRaises(query.QueryError, query.compile_query, "message:{open")


class TestPatchsetLookup(testtools.TestCase):
    def test_number_wins_over_sha_prefix(self):
        from ci_tools.gerrit.service import Gerrit, NotFound

        gerrit = Gerrit(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(gerrit.store.close)
        owner = gerrit.store.add_account("dev")
        number = gerrit.store.create_change("p", "master", "I1", owner["id"], "s", "2" * 40)
        gerrit.store.add_patchset(number, "a" * 40, owner["id"], "s")
        change = gerrit.store.change(number)
        self.assertEqual(2, gerrit.find_patchset(change, "2")["number"])
        self.assertEqual(1, gerrit.find_patchset(change, "2222")["number"])
        self.assertEqual(2, gerrit.find_patchset(change, "current")["number"])
        self.assertRaises(NotFound, gerrit.find_patchset, change, "3")


class TestPatchsetKinds(testtools.TestCase):
    def test_kinds_from_real_commits(self):
        from ci_tools.gerrit.repos import make_commit
        from ci_tools.gerrit.service import Gerrit

        gerrit = Gerrit(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(gerrit.store.close)
        path = gerrit.repos.create("p")
        base = gerrit.repos.branches("p")["master"]
        moved = make_commit(path, [base], {"other.py": "o\n"}, "Elsewhere\n")
        first = make_commit(path, [base], {"a.py": "1\n"}, "Fix\n")

        def kind(parent, files, message):
            return gerrit.patchset_kind("p", first, make_commit(path, [parent], files, message))

        self.assertEqual("REWORK", kind(base, {"a.py": "2\n"}, "Fix\n"))
        self.assertEqual("NO_CODE_CHANGE", kind(base, {"a.py": "1\n"}, "Fix, reworded\n"))
        # Same tree, parent and message; another author makes another commit.
        again = make_commit(path, [base], {"a.py": "1\n"}, "Fix\n", ("Other", "o@example.com"))
        self.assertEqual("NO_CHANGE", gerrit.patchset_kind("p", first, again))
        self.assertEqual("TRIVIAL_REBASE", kind(moved, {"a.py": "1\n"}, "Fix\n"))
        self.assertEqual(
            "TRIVIAL_REBASE_WITH_MESSAGE_UPDATE", kind(moved, {"a.py": "1\n"}, "Fix, more\n")
        )
        self.assertEqual("REWORK", kind(moved, {"a.py": "3\n"}, "Fix\n"))
