"""The scrub module's masking rules, line by line (the functional test runs it in Ansible)."""

import gzip
import importlib.util
import os
import shutil
import tempfile

import testtools

from tests import leak_forms

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PATH = os.path.join(REPO_ROOT, "roles", "scrub-log-secrets", "library", "scrub_log_secrets.py")
_spec = importlib.util.spec_from_file_location("scrub_log_secrets", PATH)
scrub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scrub)

KEYS = ["san_password", "transport_url", "connection"]
TOKEN = "gAAAAABn" + "x1Y_-" * 20


def masked(line, values=()):
    rules = scrub.build_rules(list(values), KEYS, "***")
    return scrub.scrub_bytes(line.encode(), rules)[0].decode()


class TestMasking(testtools.TestCase):
    def test_config_line_value(self):
        self.assertEqual("san_password = ***", masked("san_password = s3cr3t w1th space"))

    def test_inline_and_quoted_keys(self):
        self.assertEqual("'auth_password': '***'}", masked("'auth_password': 'abc123'}"))
        self.assertEqual("tested: san_password=***", masked("tested: san_password=hunter2"))
        self.assertEqual('{\\"password\\": \\"***\\"}', masked('{\\"password\\": \\"abc\\"}'))

    def test_token_header_and_bare_token(self):
        self.assertEqual("X-Auth-Token: ***", masked(f"X-Auth-Token: {TOKEN}"))
        self.assertEqual('{"id": "***"}', masked(f'{{"id": "{TOKEN}"}}'))

    def test_url_credentials_and_chap(self):
        self.assertEqual(
            "x rabbit://stack:***@127.0.0.1/", masked("x rabbit://stack:pw@127.0.0.1/")
        )
        self.assertEqual("provider_auth CHAP user1 ***", masked("provider_auth CHAP user1 sec"))

    def test_known_values_anywhere(self):
        self.assertEqual("login ok as ci/***!", masked("login ok as ci/Pa55word!", ["Pa55word"]))

    def test_plain_text_untouched(self):
        line = "INFO cinder.volume.manager Volume vol-1 created successfully."
        self.assertEqual(line, masked(line))


class TestTree(testtools.TestCase):
    def test_gz_scrubbed_and_binary_leak_reported(self):
        root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, root)
        with open(os.path.join(root, "a.log.gz"), "wb") as f:
            f.write(gzip.compress(b"pw is Pa55word\n"))
        with open(os.path.join(root, "t.subunit"), "wb") as f:
            f.write(b"\xb3\x00Pa55word")
        result = scrub.scrub_tree(root, ["Pa55word"], KEYS, "***")
        self.assertEqual({"a.log.gz": ["known secret value"]}, result["scrubbed"])
        with open(os.path.join(root, "a.log.gz"), "rb") as f:
            self.assertEqual(b"pw is ***\n", gzip.decompress(f.read()))
        self.assertEqual({"t.subunit": ["known secret value (in a binary file)"]}, result["leaks"])
        self.assertEqual([], result["dropped"])

    def test_links_and_fifos_dropped_never_followed(self):
        work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, work)
        root = os.path.join(work, "logs")
        outside = os.path.join(work, "scrub-secrets")
        os.makedirs(os.path.join(root, "controller", "logs"))
        os.makedirs(outside)
        with open(os.path.join(outside, "controller-0.txt"), "w") as f:
            f.write("Pa55word\n")
        os.symlink(
            "../../../scrub-secrets/controller-0.txt",
            os.path.join(root, "controller", "logs", "c-api.log.1"),
        )
        os.symlink(outside, os.path.join(root, "controller", "etc"))
        os.mkfifo(os.path.join(root, "controller", "pipe"))
        result = scrub.scrub_tree(root, ["Pa55word"], KEYS, "***")
        self.assertEqual(
            ["controller/etc", "controller/logs/c-api.log.1", "controller/pipe"],
            result["dropped"],
        )
        self.assertEqual({}, result["leaks"])
        self.assertEqual(["logs"], os.listdir(os.path.join(root, "controller")))
        # the target outside the tree is untouched
        with open(os.path.join(outside, "controller-0.txt")) as f:
            self.assertEqual("Pa55word\n", f.read())


class TestEveryForm(testtools.TestCase):
    """Each planted form (tests/leak_forms.py) is masked or refused, and the rest is kept."""

    def setUp(self):
        super().setUp()
        self.forms = leak_forms.LeakForms()
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        for rel, data in self.forms.files.items():
            path = os.path.join(self.root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        values = scrub.read_values(
            [self.forms.listed], [], {"array": {"san_password": self.forms.job}}
        )
        self.result = scrub.scrub_tree(self.root, values, KEYS, "***")

    def test_no_form_survives(self):
        self.assertGreaterEqual(len(self.forms.needles), 32)
        self.assertEqual({}, leak_forms.survivors(self.forms, self.root))
        self.assertEqual({}, self.result["leaks"])

    def test_what_cannot_be_scanned_is_not_published(self):
        self.assertEqual(
            {
                "logs/journal.txt.gz": "truncated gzip stream",
                "logs/etc2.tgz": "truncated gzip stream",
                "logs/c-vol.log.2.bz2": "truncated bzip2 stream",
                "logs/c-api.log.2.xz": "truncated xz stream",
                "logs/c-sch.log.zst": "zstd data cannot be read here",
            },
            self.result["refused"],
        )
        with open(os.path.join(self.root, "logs", "journal.txt.gz.not-published.txt")) as f:
            self.assertIn("truncated gzip stream", f.read())

    def test_log_lines_around_secrets_are_kept(self):
        view = leak_forms.published_view(self.root)
        for rel in ("logs/c-vol.log", "logs/os-brick.log", "logs/keys.log", "logs/etc.tgz"):
            found = [p for p in view if p == rel or p.startswith(rel + "!")]
            self.assertTrue(found, rel)
            self.assertTrue(any(leak_forms.BENIGN.encode() in view[p] for p in found), rel)
        with open(os.path.join(self.root, "logs", "os-brick.log")) as f:
            self.assertIn("-n node.session.auth.password -v ***", f.read())

    def test_scrubbing_twice_changes_nothing(self):
        again = scrub.scrub_tree(self.root, [self.forms.job, self.forms.listed], KEYS, "***")
        self.assertEqual({}, again["scrubbed"])
        self.assertEqual({}, again["refused"])
        self.assertEqual(0, again["renamed"])


class TestPatterns(testtools.TestCase):
    def test_password_with_at_sign_in_url(self):
        self.assertEqual(
            "mysql://cinder:***@127.0.0.1/cinder", masked("mysql://cinder:p@ss@127.0.0.1/cinder")
        )

    def test_already_masked_values_are_left_alone(self):
        line = "{'X-Auth-Token': '<omitted>', 'password': '***'} san_password = ***"
        self.assertEqual(line, masked(line))

    def test_encoded_forms_of_a_short_value_stay_literal_only(self):
        # base64 and hex of a 3-character value would match by chance
        self.assertEqual("*** YStj 612b62", masked("a+b YStj 612b62", ["a+b"]))

    def test_encoded_forms_of_a_value(self):
        value = "s3cr@t/pw"
        for form in ("czNjckB0L3B3", "7333637240742f7077", "s3cr%40t%2Fpw", "s3cr\\u0040t\\/pw"):
            self.assertEqual("x *** y", masked(f"x {form} y", [value]), form)


class TestSecretsInput(testtools.TestCase):
    def test_every_string_of_a_secret_variable_is_a_value(self):
        key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAbodyline0123456789\n-----END"
        values = scrub.read_values([], [], {"a": {"san_password": "pw1234", "n": [key, 42]}})
        self.assertIn("pw1234", values)
        self.assertIn("AAAAbodyline0123456789", values)
        # too short to mask everywhere
        self.assertNotIn("42", values)
