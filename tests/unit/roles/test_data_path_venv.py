"""The compute node's venv: built on the controller, unpacked elsewhere, says what it holds."""

import json
import os
import subprocess
import sys
import tarfile

import fixtures
import testtools

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FILES = os.path.join(REPO_ROOT, "roles", "data-path", "files")
SCRIPT = os.path.join(FILES, "node_venv.py")


class TestNodeVenv(testtools.TestCase):
    """A real venv and pip, offline: a stand-in os-brick tree (plain setuptools)."""

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.tree = os.path.join(self.tmp, "os-brick")
        os.makedirs(os.path.join(self.tree, "os_brick"))
        self.write("setup.cfg", "[metadata]\nname = os-brick\nversion = 9.9.9\n"
                                "[options]\npackages = os_brick\n")  # fmt: skip
        self.write("setup.py", "import setuptools\nsetuptools.setup()\n")
        self.write("requirements.txt", "")
        self.write("os_brick/__init__.py", "CODE = 'first'\n")
        self.work = os.path.join(self.tmp, "build")

    def write(self, rel, text):
        with open(os.path.join(self.tree, rel), "w") as f:
            f.write(text)

    def build(self):
        # offline: the tree only, built with the venv's own setuptools
        proc = subprocess.run(
            [sys.executable, SCRIPT, self.work, "--os-brick-src", self.tree,
             "--pip-args", "--no-index --no-build-isolation"],
            capture_output=True, text=True,
        )  # fmt: skip
        self.assertEqual(0, proc.returncode, proc.stderr[-3000:])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def unpack(self, name):
        """The tarball unpacked at another path, as on the node; what it imports."""
        dest = os.path.join(self.tmp, name)
        os.makedirs(dest)
        with tarfile.open(os.path.join(self.work, "venv.tar.gz")) as tar:
            names = tar.getnames()
            tar.extractall(dest)  # noqa: S202 - our own tarball
        pip = [n for n in names if "/site-packages/pip/" in n or n.startswith("./bin/pip")]
        self.assertEqual([], pip)
        probe = (
            "import json, os_brick, importlib.metadata as m; "
            "print(json.dumps([os_brick.__file__, m.version('os-brick'), os_brick.CODE]))"
        )
        proc = subprocess.run([os.path.join(dest, "bin", "python"), "-c", probe], cwd="/",
                              capture_output=True, text=True, check=True)  # fmt: skip
        with open(os.path.join(dest, "data-path-venv.json")) as f:
            record = json.load(f)
        return json.loads(proc.stdout), record

    def test_unpacked_elsewhere_it_imports_the_trees_os_brick(self):
        first = self.build()
        self.assertTrue(first["rebuilt"])
        self.assertEqual("{}.{}".format(*sys.version_info[:2]), first["python"])
        (path, version, code), record = self.unpack("node-a")
        self.assertTrue(path.startswith(os.path.join(self.tmp, "node-a") + os.sep), path)
        self.assertEqual(("9.9.9", "first"), (version, code))
        self.assertEqual(self.tree, record["os_brick_from"])

        # New code, same requirements: the venv is kept, only the tree reinstalled.
        self.write("os_brick/__init__.py", "CODE = 'second'\n")
        second = self.build()
        self.assertEqual((False, True), (second["rebuilt"], second["reinstalled"]))
        (_, _, code), _ = self.unpack("node-b")
        self.assertEqual("second", code)

        # New requirements: built again from nothing.
        self.write("requirements.txt", "# a new requirement would be here\n")
        self.assertTrue(self.build()["rebuilt"])

    def test_a_tree_that_is_not_one_is_refused(self):
        proc = subprocess.run([sys.executable, SCRIPT, self.work, "--os-brick-src", self.tmp],
                              capture_output=True, text=True)  # fmt: skip
        self.assertEqual(2, proc.returncode)
        self.assertIn("not an os-brick source tree", proc.stderr)


class TestNodeInfo(testtools.TestCase):
    """What the data-path tests record about the libraries they ran with."""

    def setUp(self):
        super().setUp()
        tmp = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable("OSLO_LOCK_PATH", tmp))
        self.useFixture(fixtures.MonkeyPatch("sys.path", [FILES, *sys.path]))
        import data_path_tests

        self.dpt = data_path_tests

    def test_records_each_librarys_version_and_file_or_why_not(self):
        info = self.dpt.node_info()
        self.assertEqual(sys.prefix, info["prefix"])
        for _dist, module in self.dpt.IMPORTED:
            found = info[module]
            self.assertTrue("error" in found or os.path.exists(found["file"]), found)
        line = self.dpt.describe(info)
        self.assertTrue(line.startswith("data_path: Python "), line)

    def test_describe_names_the_os_brick_that_ran(self):
        site = "/opt/data-path-venv/lib/python3.11/site-packages"
        info = {
            "python": "3.11.2", "prefix": "/opt/data-path-venv",
            "os_brick": {"version": "7.1.2.dev1", "file": f"{site}/os_brick/__init__.py"},
            "cinderclient": {"error": "ModuleNotFoundError: No module named 'cinderclient'"},
            "keystoneauth1": {"version": "5.15.0", "file": "/k/keystoneauth1/__init__.py"},
        }  # fmt: skip
        line = self.dpt.describe(info)
        self.assertIn(f"os-brick 7.1.2.dev1 from {site}/os_brick", line)
        self.assertIn("python-cinderclient: ModuleNotFoundError", line)
