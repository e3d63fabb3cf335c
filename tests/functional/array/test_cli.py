"""``ci-tools array`` against a running array: faults, controllers, audit, cleanup."""

import contextlib
import io
import json
import tempfile

import testtools

from ci_tools.array.fixture import ArrayFixture
from ci_tools.cli import main


class ArrayCLITest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        self.array = ArrayFixture(td.name, iscsi=False)
        self.array.start()
        self.addCleanup(self.array.stop)
        self.api = self.array.session()
        self.base = self.array.url + "/api/v1"

    def cli(self, *argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = main(["array", *argv, "--data-dir", self.array.data_dir])
        return rc, out.getvalue()

    def test_fault_audit_and_cleanup(self):
        rc, out = self.cli("fault", "--op", "volume.create", "--fail-next", "1", "--status", "503")
        self.assertEqual(0, rc)
        self.assertEqual(1, json.loads(out)["errors"]["volume.create"]["remaining"])
        r = self.api.post(self.base + "/volumes", json={"name": "volume-x", "size_gb": 1})
        self.assertEqual(503, r.status_code)
        for name in ("volume-1", "volume-2", "keep-me"):
            self.api.post(self.base + "/volumes", json={"name": name, "size_gb": 1})
        self.api.post(self.base + "/snapshots", json={"name": "snapshot-1", "volume": "volume-1"})
        rc, out = self.cli("audit", "--op", "volume.create")
        statuses = [(e["object"], e["status"]) for e in map(json.loads, out.splitlines())]
        self.assertEqual(
            [("volume-x", 503), ("volume-1", 200), ("volume-2", 200), ("keep-me", 200)], statuses
        )
        rc, out = self.cli("cleanup", "--prefix", "volume-")
        self.assertEqual(0, rc, out)
        self.assertEqual(
            [
                "deleted volume volume-1 (snapshots: snapshot-1)",
                "deleted volume volume-2 (snapshots: -)",
            ],
            out.splitlines(),
        )
        names = [v["name"] for v in self.api.get(self.base + "/volumes").json()]
        self.assertEqual(["keep-me"], names)
        rc, out = self.cli("cleanup", "--prefix", "volume-")
        self.assertEqual((0, ""), (rc, out))

    def test_controller_and_status(self):
        rc, _ = self.cli("controller", "ct1", "offline")
        self.assertEqual(0, rc)
        rc, out = self.cli("status")
        ctrls = {c["name"]: c["state"] for c in json.loads(out)["system"]["controllers"]}
        self.assertEqual({"ct0": "online", "ct1": "offline"}, ctrls)

    def test_bad_data_dir_is_a_usage_error(self):
        # a usage error, exit 2, said by argparse before anything runs
        with self.assertRaises(SystemExit) as ctx:
            main(["array", "status", "--data-dir", "/nonexistent-array-dir"])
        self.assertEqual(2, ctx.exception.code)
