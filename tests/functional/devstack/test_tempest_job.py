"""The Tempest job's playbooks on DevStack-lite against the reference array.

A real refflash array (REST API + tgtd) runs on loopback; the job's own
playbooks run with Zuul's Ansible on localhost: playbooks/tempest/pre.yaml
(DevStack-lite with the refflash driver pip-installed from drivers/refflash,
configure-cinder-backend from tempest-config/iscsi, array-preflight, c-vol up
on both backends) and playbooks/tempest/run.yaml with the job's regex
``(^tempest\\.api\\.volume|^cinder_tempest_plugin)``. What a CI operator
checks: at least 190 tests passed, none failed, the HTML report is there,
every skip has a reason, and the array holds nothing after the run.

Then a second run is killed mid-way, as a job timeout would, and
array-cleanup must leave zero objects on the array, by the array's own API
and audit log. Everything is one class: it shares one DevStack-lite node.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import testtools

from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness.devstack import DevStackLite
from ci_tools.harness.playbook import REPO

JOB_REGEX = r"(^tempest\.api\.volume|^cinder_tempest_plugin)"
# The FC job runs the same suite; the test suite runs a slice of it for time
# (the full FC figures are in roles/run-tempest/README.rst).
FC_REGEX = (
    r"^tempest\.api\.volume\.(test_volumes_get|test_volumes_snapshots|test_volumes_list"
    r"|test_volumes_clone|admin\.test_multi_backend|admin\.test_backends_capabilities)\."
)


def array_objects(array):
    """What the array holds, by its own API."""
    session = array.session()
    found = {}
    for kind in ("volumes", "snapshots", "mappings"):
        resp = session.get(f"{array.url}/api/v1/{kind}", timeout=30)
        resp.raise_for_status()
        body = resp.json()
        items = body.get(kind, body) if isinstance(body, dict) else body
        found[kind] = [item.get("name", item) if isinstance(item, dict) else item for item in items]
    return found


class TestTempestJobISCSI(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="tempest-job-", dir="/var/tmp")
        cls.array = ArrayFixture(
            os.path.join(cls.work, "array"), pools={"pool-a": 500, "pool-b": 500}
        ).start()
        cls.stack = DevStackLite(
            cls.work,
            extra_vars={
                "tempest_protocol": "iscsi",
                "tempest_config_dir": os.path.join(REPO, "tempest-config"),
                "devstack_lite_extra_src": [os.path.join(REPO, "drivers", "refflash")],
                # the job's secret, as Zuul hands it to the playbook
                "refflash_ci_array": {
                    "san_login": cls.array.username,
                    "san_password": cls.array.password,
                },
                "configure_cinder_backend_options": {"san_api_port": cls.array.port},
                "run_tempest_regex": JOB_REGEX,
            },
        )
        cls.timings = {}
        cls.results = {}
        for name, playbook in (("pre", "playbooks/tempest/pre.yaml"),
                               ("run", "playbooks/tempest/run.yaml")):  # fmt: skip
            started = time.monotonic()
            cls.results[name] = cls.stack.play(playbook, log_name=f"tempest-{name}")
            cls.timings[name] = time.monotonic() - started
            if cls.results[name].returncode:
                break
        summary = os.path.join(cls.work, "tempest-output", "summary.json")
        cls.summary = None
        if os.path.exists(summary):
            with open(summary) as f:
                cls.summary = json.load(f)
        cls.after_run = array_objects(cls.array) if cls.summary else None

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.shutdown()
        finally:
            cls.array.stop()
            if not os.environ.get("CI_KIT_KEEP_WORK"):
                shutil.rmtree(cls.work, True)
        super().tearDownClass()

    def assert_played(self, name):
        proc = self.results.get(name)
        self.assertIsNotNone(proc, f"{name} did not run")
        self.assertEqual(0, proc.returncode, proc.stdout[-5000:] + proc.stderr[-2000:])

    def test_full_volume_suite_passes_on_the_array(self):
        self.assert_played("pre")
        self.assert_played("run")
        s = self.summary
        report = f"{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped"
        self.assertEqual([], s["failures"], report)
        self.assertEqual(0, s["failed"], report)
        self.assertGreaterEqual(s["passed"], 190, report)
        for skip in s["skips"]:
            self.assertTrue(skip["reason"], f"{skip['id']} skipped without a reason")
        html = os.path.join(self.work, "tempest-output", "testr_results.html")
        with open(html) as f:
            self.assertIn("tempest.api.volume", f.read())
        # Tempest deletes what it created; the array agrees
        self.assertEqual({"volumes": [], "snapshots": [], "mappings": []}, self.after_run)
        # The tests that copy data through this node were left out exactly
        # when it cannot attach, and the run says which way it went.
        with open(os.path.join(self.work, "tempest-output", "node-attach.json")) as f:
            record = json.load(f)
        with open(os.path.join(self.work, "tempest-output", "exclude.txt")) as f:
            excluded = f.read()
        self.assertEqual(record, s["node_attach"])
        self.assertEqual(
            not record["can_attach"], "test_volume_upload" in excluded, record["reason"]
        )
        self.assertEqual(
            not record["can_attach"], "exclude-no-attach.txt" in record["applied"], record
        )

    def test_fc_job_slice_passes_on_the_emulated_fabric(self):
        self.assert_played("pre")
        fc = {"tempest_protocol": "fc", "run_tempest_regex": FC_REGEX,
              "run_tempest_output": os.path.join(self.work, "fc-output")}  # fmt: skip
        pre = self.stack.play("playbooks/tempest/pre.yaml", extra=fc, log_name="fc-pre")
        self.assertEqual(0, pre.returncode, pre.stdout[-5000:])
        with open(os.path.join(self.stack.etc, "cinder", "cinder.conf.d", "backends.conf")) as f:
            self.assertIn("refflash_cinder.fc.RefFlashFCDriver", f.read())
        run = self.stack.play("playbooks/tempest/run.yaml", extra=fc, log_name="fc-run")
        with open(os.path.join(self.work, "fc-output", "summary.json")) as f:
            s = json.load(f)
        report = f"{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped"
        self.assertEqual(0, run.returncode, report + " " + ", ".join(s["failures"]))
        self.assertEqual(0, s["failed"], report)
        self.assertGreaterEqual(s["passed"], 30, report)
        # the backends tell Tempest they speak FC
        caps = [t for t in s.get("skips", []) if "backends_capabilities" in t["id"]]
        self.assertEqual([], caps, report)

    def test_killed_run_leaves_nothing_on_the_array(self):
        self.assert_played("pre")
        out = os.path.join(self.work, "killed-output")
        proc = self.stack.play(
            "test-playbooks/devstack-lite/kill-and-cleanup.yaml",
            extra={
                "run_tempest_output": out,
                "array_cleanup_tempest_pid_file": os.path.join(out, "tempest.pid"),
                # volumes, snapshots and backups are being created when it dies
                "run_tempest_regex": r"^tempest\.api\.volume\.(test_volumes_snapshots|"
                r"test_volumes_backup|test_volumes_clone|test_volumes_extend)",
            },
            log_name="kill-and-cleanup",
        )
        self.assertEqual(0, proc.returncode, proc.stdout[-5000:] + proc.stderr[-2000:])
        with open(os.path.join(self.stack.dest, "logs", "array-cleanup.log")) as f:
            report = json.loads(f.readline().split(":", 1)[1])
        self.assertTrue(report["stopped_pids"], report)
        self.assertTrue(report["found"]["volumes"], report)
        self.assertEqual(
            {"volumes": [], "snapshots": [], "mappings": []}, array_objects(self.array)
        )
        # no Tempest worker survived the kill
        left = subprocess.run(
            ["pgrep", "-f", os.path.join(self.work, "tempest", "etc", "tempest.conf")],
            capture_output=True,
        )
        self.assertEqual(1, left.returncode, left.stdout)
        # the array's audit log shows the deletions that emptied it
        with open(os.path.join(self.array.data_dir, "audit.log")) as f:
            audit = f.read()
        self.assertIn("volume.delete", audit)
