"""The functional harness's copy of the data-path role's venv: the pins it is
built from, and its install on a node (here a node that is this machine)."""

import os
import subprocess
import tarfile
import tempfile

import fixtures
import testtools

from ci_tools.harness import data_path_venv


class LocalNode:
    """A node whose commands run here, as ComputeNode's ssh and scp run them there."""

    def ssh(self, command, input=None, check=True, timeout=300, sudo=False):
        return subprocess.run(["bash", "-c", command], input=input, capture_output=True,
                              text=True, timeout=timeout, check=check)  # fmt: skip

    def copy_to(self, local, remote):
        subprocess.run(["cp", local, remote], check=True)


def python_here():
    return LocalNode().ssh("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")


class PinsTest(testtools.TestCase):
    def test_master_pins_what_the_sandbox_job_installs(self):
        # the snapshot tests/functional/sandbox/test_full_run.py checks against
        self.assertEqual("7.1.0", data_path_venv.pin("os-brick"))
        self.assertEqual("6.11.1", data_path_venv.pin("os-brick", "2025.1"))

    def test_an_unpinned_package_is_an_error_naming_the_file(self):
        error = self.assertRaises(LookupError, data_path_venv.pin, "no-such-package")
        self.assertIn("master/upper-constraints.txt", str(error))

    def test_the_roles_venv_path_and_packages(self):
        self.assertEqual("/opt/data-path-venv", data_path_venv.NODE_VENV)
        self.assertIn("python-cinderclient", data_path_venv.PACKAGES)


class InstallTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.target = os.path.join(self.tmp, "node", "data-path-venv")
        self.useFixture(fixtures.MonkeyPatch(
            "ci_tools.harness.data_path_venv.NODE_VENV", self.target))  # fmt: skip
        venv = os.path.join(self.tmp, "venv")
        os.makedirs(os.path.join(venv, "bin"))
        with open(os.path.join(venv, "data-path-venv.json"), "w") as f:
            f.write("{}\n")
        self.tarball = os.path.join(self.tmp, "venv.tar.gz")
        with tarfile.open(self.tarball, "w:gz") as tar:
            tar.add(venv, ".")
        self.workspace = tempfile.mkdtemp(dir=self.tmp)

    def test_unpacks_on_a_node_with_the_builders_python(self):
        built = {"python": python_here().stdout.strip(), "tarball": self.tarball}
        data_path_venv.install(LocalNode(), built, self.workspace)
        self.assertTrue(os.path.exists(os.path.join(self.target, "data-path-venv.json")))
        self.assertTrue(os.path.isdir(os.path.join(self.target, "bin")))
        # the packed copy is gone from the node's workspace
        self.assertEqual([], os.listdir(self.workspace))

    def test_refuses_a_node_with_another_python(self):
        built = {"python": "2.7", "tarball": self.tarball}
        error = self.assertRaises(AssertionError, data_path_venv.install, LocalNode(), built,
                                  self.workspace)  # fmt: skip
        self.assertIn("built the venv with Python 2.7, the node has "
                      + python_here().stdout.strip(), str(error))  # fmt: skip
        self.assertFalse(os.path.exists(self.target))
