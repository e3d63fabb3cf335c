"""zuul-manifest.json in zuul-jobs' format, for a sample published tree.

The expected manifest (tests/fixtures/zuul-manifest/sample-manifest.json) is
written by hand from zuul-jobs' generate-zuul-manifest rules; zuul-web's
build page reads exactly these keys to draw the Logs tab.
"""

import importlib.util
import json
import os
import socket

import fixtures
import testtools
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PATH = os.path.join(
    REPO_ROOT, "roles", "generate-zuul-manifest", "library", "generate_zuul_manifest.py"
)
_spec = importlib.util.spec_from_file_location("generate_zuul_manifest", PATH)
gzm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gzm)

FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures", "zuul-manifest")
DIR_KEYS = ["name", "mimetype", "encoding", "children"]
FILE_KEYS = ["name", "mimetype", "encoding", "last_modified", "size"]


def build_tree(root):
    with open(os.path.join(FIXTURES, "sample-tree.yaml")) as f:
        sample = yaml.safe_load(f)
    for rel in sample["empty_dirs"]:
        os.makedirs(os.path.join(root, rel))
    for rel, text in sample["files"].items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.utime(path, (sample["mtime"], sample["mtime"]))


def expected():
    with open(os.path.join(FIXTURES, "sample-manifest.json")) as f:
        return json.load(f)


class TestManifest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        build_tree(self.root)
        self.output = os.path.join(self.root, "zuul-manifest.json")

    def assertKeyOrder(self, entries):
        for entry in entries:
            if entry["mimetype"] == "application/directory":
                self.assertEqual(DIR_KEYS, list(entry), entry["name"])
                self.assertKeyOrder(entry["children"])
            else:
                self.assertEqual(FILE_KEYS, list(entry), entry["name"])

    def test_sample_tree_gives_zuul_jobs_manifest(self):
        gzm.write(self.root, self.output)
        with open(self.output) as f:
            text = f.read()
        written = json.loads(text)
        self.assertEqual(expected(), written)
        self.assertEqual(["tree", "index_links"], list(written))
        self.assertKeyOrder(written["tree"])
        # one line of compact JSON, as zuul-jobs' json.dumps writes it
        self.assertEqual(json.dumps(expected()), text)

    def test_manifest_does_not_list_itself_when_written_again(self):
        gzm.write(self.root, self.output)
        gzm.write(self.root, self.output)
        with open(self.output) as f:
            self.assertEqual(expected(), json.load(f))

    def test_links_sockets_and_fifos_are_neither_listed_nor_followed(self):
        outside = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(outside, "secret.txt"), "w") as f:
            f.write("not for the log tree\n")
        logs = os.path.join(self.root, "controller", "logs")
        os.symlink(os.path.join(outside, "secret.txt"), os.path.join(logs, "c-api.log.1"))
        os.symlink(outside, os.path.join(logs, "outside"))
        os.mkfifo(os.path.join(logs, "fifo"))
        sock = socket.socket(socket.AF_UNIX)
        self.addCleanup(sock.close)
        sock.bind(os.path.join(logs, "sock"))
        self.assertEqual(expected(), gzm.manifest(self.root, self.output))

    def test_index_links_is_passed_through(self):
        self.assertIs(True, gzm.manifest(self.root, index_links=True)["index_links"])
        self.assertEqual(16, gzm.count(gzm.manifest(self.root)["tree"]))
