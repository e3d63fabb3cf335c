"""devstack-lite re-creates a kept database that another service version migrated."""

import importlib.util
import json
import os
import subprocess
import sys
from importlib import metadata

import fixtures
import testtools

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRIPT = os.path.join(REPO_ROOT, "roles", "devstack-lite", "files", "service_databases.py")

_spec = importlib.util.spec_from_file_location("service_databases", SCRIPT)
service_databases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(service_databases)

# What the sandbox node held: a master run migrated both databases, then a
# stable/2025.1 change installed that series' releases.
MASTER = {"keystone": "30.0.0", "glance": "33.0.0"}
STABLE_2025_1 = {"keystone": "27.1.0", "glance": "30.2.0"}


class TestDecide(testtools.TestCase):
    def test_a_master_migrated_database_is_recreated_for_2025_1(self):
        self.assertEqual(["glance", "keystone"],
                         service_databases.to_recreate(MASTER, STABLE_2025_1))  # fmt: skip

    def test_and_back_to_master(self):
        self.assertEqual(["glance", "keystone"],
                         service_databases.to_recreate(STABLE_2025_1, MASTER))  # fmt: skip

    def test_the_same_versions_keep_their_databases(self):
        self.assertEqual([], service_databases.to_recreate(MASTER, dict(MASTER)))

    def test_only_the_service_whose_version_changed(self):
        installed = dict(MASTER, glance="33.0.1")
        self.assertEqual(["glance"], service_databases.to_recreate(MASTER, installed))

    def test_no_record_means_unknown_migrations(self):
        # A cold node (nothing to drop) or a warm one from before the record.
        self.assertEqual(["glance", "keystone"], service_databases.to_recreate({}, MASTER))

    def test_a_service_not_installed_is_never_trusted(self):
        missing = {"keystone": None}
        self.assertEqual(["keystone"], service_databases.to_recreate(missing, missing))


class TestRecord(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path, "databases.json")

    def read(self):
        with open(self.path) as f:
            return json.load(f)

    def test_plan_forgets_what_it_drops_before_the_drop(self):
        service_databases.record(self.path, MASTER)
        installed = dict(MASTER, keystone="27.1.0")
        self.assertEqual({"installed": installed, "recreate": ["keystone"]},
                         service_databases.plan(self.path, installed))  # fmt: skip
        # A run that stops before keystone's migration leaves no matching record.
        self.assertEqual({"glance": "33.0.0"}, self.read())
        self.assertEqual(["keystone"], service_databases.plan(self.path, installed)["recreate"])

    def test_recorded_versions_keep_the_databases_next_run(self):
        self.assertEqual(["glance", "keystone"],
                         service_databases.plan(self.path, STABLE_2025_1)["recreate"])  # fmt: skip
        service_databases.record(self.path, STABLE_2025_1)
        self.assertEqual([], service_databases.plan(self.path, STABLE_2025_1)["recreate"])
        self.assertEqual(STABLE_2025_1, self.read())

    def test_an_unreadable_record_recreates_everything(self):
        with open(self.path, "w") as f:
            f.write("{half a record")
        self.assertEqual(["glance", "keystone"],
                         service_databases.plan(self.path, MASTER)["recreate"])  # fmt: skip

    def test_a_version_is_never_recorded_for_a_missing_service(self):
        self.assertRaises(ValueError, service_databases.record, self.path,
                          {"keystone": "30.0.0", "glance": None})  # fmt: skip
        self.assertFalse(os.path.exists(self.path))


class TestCommand(testtools.TestCase):
    """As the role runs it: with the venv's python, against what pip installed there."""

    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.useFixture(fixtures.TempDir()).path, "databases.json")

    def run_script(self, *args):
        proc = subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True)
        return proc.returncode, proc.stdout, proc.stderr

    def test_plan_record_plan(self):
        # testtools stands in for keystone: any distribution the python has.
        version = metadata.version("testtools")
        rc, out, err = self.run_script("plan", self.path, "testtools")
        self.assertEqual(0, rc, err)
        self.assertEqual({"installed": {"testtools": version}, "recreate": ["testtools"]},
                         json.loads(out))  # fmt: skip
        rc, out, err = self.run_script("record", self.path, "testtools")
        self.assertEqual(0, rc, err)
        self.assertEqual({"testtools": version}, json.loads(out))
        rc, out, err = self.run_script("plan", self.path, "testtools")
        self.assertEqual([], json.loads(out)["recreate"])

    def test_record_of_a_service_not_installed_fails_in_one_line(self):
        rc, _, err = self.run_script("record", self.path, "no-such-service-xyz")
        self.assertEqual(1, rc)
        line = "cannot record the databases' versions: not installed: no-such-service-xyz"
        self.assertEqual([line], err.strip().splitlines())

    def test_usage(self):
        rc, _, err = self.run_script("drop", self.path)
        self.assertEqual(2, rc)
        self.assertIn("Usage: service_databases.py plan RECORD SERVICE...", err)
