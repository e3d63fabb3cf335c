"""devstack-lite installs with the branch's upper-constraints, minus the trees under test."""

import os
import subprocess
import sys

import fixtures
import testtools

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(REPO_ROOT, "roles", "devstack-lite", "files", "edit_constraints.py")
SNAPSHOTS = os.path.join(REPO_ROOT, "sandbox-data", "openstack-requirements")


class TestEditConstraints(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def tree(self, dirname, name):
        path = os.path.join(self.tmp, dirname)
        os.makedirs(path)
        with open(os.path.join(path, "setup.cfg"), "w") as f:
            f.write(f"[metadata]\nname = {name}\n")
        return path

    def run_script(self, *args):
        return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)

    def test_trees_under_test_lose_their_pins_and_the_rest_stay(self):
        src = os.path.join(SNAPSHOTS, "2025.1", "upper-constraints.txt")
        dest = os.path.join(self.tmp, "uc.txt")
        brick = self.tree("src-brick", "os_brick")  # setup.cfg spelling differs from the pin's
        proc = self.run_script(src, dest, brick, self.tree("tempest", "tempest"))
        self.assertEqual(0, proc.returncode, proc.stderr)
        with open(src) as f:
            before = f.read().splitlines()
        with open(dest) as f:
            after = f.read().splitlines()
        self.assertIn("os-brick===6.11.1", before)
        self.assertNotIn("os-brick===6.11.1", after)
        self.assertEqual(len(before) - 1, len(after))  # tempest is not pinned upstream
        self.assertIn("python-cinderclient===9.7.0", after)

    def test_each_tested_branch_has_a_snapshot_with_its_commit(self):
        for series in ("master", "2025.1", "2025.2"):
            with open(os.path.join(SNAPSHOTS, series, "COMMIT")) as f:
                self.assertRegex(f.read(), r"^[0-9a-f]{40} \d{4}-\d{2}-\d{2}")
            with open(os.path.join(SNAPSHOTS, series, "upper-constraints.txt")) as f:
                self.assertRegex(f.read(), r"(?m)^oslo\.config===")

    def test_a_missing_constraints_file_is_one_clear_line(self):
        proc = self.run_script(os.path.join(self.tmp, "nope.txt"), os.path.join(self.tmp, "o"))
        self.assertEqual(1, proc.returncode)
        self.assertEqual(1, len(proc.stderr.strip().splitlines()), proc.stderr)
        self.assertIn("cannot read upper-constraints", proc.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "o")))
