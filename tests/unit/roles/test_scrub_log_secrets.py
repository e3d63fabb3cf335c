"""The scrub module's masking rules, line by line (the functional test runs it in Ansible)."""

import gzip
import importlib.util
import os
import shutil
import tempfile

import testtools

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PATH = os.path.join(REPO_ROOT, "roles", "scrub-log-secrets", "library", "scrub_log_secrets.py")
_spec = importlib.util.spec_from_file_location("scrub_log_secrets", PATH)
scrub = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scrub)

KEYS = ["san_password", "transport_url", "connection"]
TOKEN = "gAAAAABn" + "x1Y_-" * 20


def masked(line, values=()):
    patterns = scrub.build_patterns(KEYS, "***")
    return scrub.scrub_bytes(line.encode(), list(values), patterns, "***")[0].decode()


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
        scrubbed, leaks, dropped = scrub.scrub_tree(root, ["Pa55word"], KEYS, "***")
        self.assertEqual({"a.log.gz": 1}, scrubbed)
        with open(os.path.join(root, "a.log.gz"), "rb") as f:
            self.assertEqual(b"pw is ***\n", gzip.decompress(f.read()))
        self.assertEqual({"t.subunit": ["known secret value"]}, leaks)
        self.assertEqual([], dropped)

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
        scrubbed, leaks, dropped = scrub.scrub_tree(root, ["Pa55word"], KEYS, "***")
        self.assertEqual(
            ["controller/etc", "controller/logs/c-api.log.1", "controller/pipe"], dropped
        )
        self.assertEqual({}, leaks)
        self.assertEqual(["logs"], os.listdir(os.path.join(root, "controller")))
        # the target outside the tree is untouched
        with open(os.path.join(outside, "controller-0.txt")) as f:
            self.assertEqual("Pa55word\n", f.read())
