"""Unit tests of the emulator's pure parts: query language, auth, event encoding."""

import base64
import hashlib
import json

import fixtures
import testtools

from ci_tools.gerrit import events, query
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
        self.auth = Authenticator(self.store)

    def test_basic(self):
        good = "Basic " + base64.b64encode(b"ci:s3cret").decode()
        bad = "Basic " + base64.b64encode(b"ci:wrong").decode()
        self.assertEqual("ci", self.auth.authenticate(good, "GET")["username"])
        self.assertIsNone(self.auth.authenticate(bad, "GET"))
        self.assertIsNone(self.auth.authenticate(None, "GET"))

    def test_digest_answer_to_our_challenge(self):
        nonce = self.auth.challenge().split('nonce="')[1].split('"')[0]

        def md5(s):
            return hashlib.md5(s.encode()).hexdigest()

        def header(password, uri="/a/accounts/self"):
            ha1 = md5(f"ci:{REALM}:{password}")
            ha2 = md5(f"GET:{uri}")
            resp = md5(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
            return (
                f'Digest username="ci", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
                f'qop=auth, nc=00000001, cnonce="abc", response="{resp}"'
            )

        self.assertEqual("ci", self.auth.authenticate(header("s3cret"), "GET")["username"])
        self.assertIsNone(self.auth.authenticate(header("nope"), "GET"))
        forged = header("s3cret").replace(nonce, base64.b64encode(b"1:forged").decode())
        self.assertIsNone(self.auth.authenticate(forged, "GET"))


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


class TestDigestReplay(testtools.TestCase):
    def test_answer_for_another_uri_is_refused(self):
        store = Store(self.useFixture(fixtures.TempDir()).path)
        self.addCleanup(store.close)
        store.add_account("ci", http_password="pw")
        auth = Authenticator(store)
        nonce = auth.challenge().split('nonce="')[1].split('"')[0]

        def md5(s):
            return hashlib.md5(s.encode()).hexdigest()

        uri = "/a/accounts/self"
        resp = md5(f"{md5(f'ci:{REALM}:pw')}:{nonce}:{md5(f'GET:{uri}')}")
        header = (
            f'Digest username="ci", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}"'
        )
        self.assertEqual("ci", auth.authenticate(header, "GET", uri)["username"])
        self.assertIsNone(auth.authenticate(header, "GET", "/a/changes/1/submit"))
        self.assertIsNone(auth.authenticate(header, "POST", uri))


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
