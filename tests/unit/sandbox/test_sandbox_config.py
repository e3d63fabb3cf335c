"""The job vars the sandbox hands its jobs: where the compute node finds the array."""

import os
import tempfile
import types

import fixtures
import testtools
import yaml

from ci_tools.array import fcoe_vm
from ci_tools.harness.compute_node import CONTROLLER_ADDRESS
from ci_tools.sandbox.loop import Sandbox, fcoe_mtu, node_array_url

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class SandboxJobVarsTest(testtools.TestCase):
    def jobs(self, compute_node):
        with tempfile.TemporaryDirectory() as work:
            sandbox = Sandbox(REPO_ROOT, work, compute_node=compute_node)
            sandbox.array = types.SimpleNamespace(
                url="http://127.0.0.1:40123", port=40123, username="admin",
                password="throwaway-pw",
            )  # fmt: skip
            return {j["job"]["name"]: j["job"]["vars"]
                    for j in yaml.safe_load(sandbox._sandbox_config())}  # fmt: skip

    def test_the_compute_node_reaches_the_array_through_the_controller_address(self):
        jobs = self.jobs(compute_node=True)
        self.assertTrue(jobs)
        for name, variables in jobs.items():
            # the array listens on this host's loopback; the node reaches it at
            # the address QEMU forwards, with the credentials of sandbox_array
            self.assertEqual(f"http://{CONTROLLER_ADDRESS}:40123",
                             variables["data_path_array_url"], name)  # fmt: skip
            self.assertEqual({"san_login": "admin", "san_password": "throwaway-pw"},
                             variables["sandbox_array"], name)  # fmt: skip

    def test_no_compute_node_no_array_url(self):
        for variables in self.jobs(compute_node=False).values():
            self.assertNotIn("data_path_array_url", variables)

    def test_node_array_url_keeps_scheme_and_port(self):
        self.assertEqual(f"https://{CONTROLLER_ADDRESS}:8443",
                         node_array_url("https://127.0.0.1:8443"))  # fmt: skip


class SandboxFCTest(testtools.TestCase):
    def sandbox(self, compute_node):
        return Sandbox(REPO_ROOT, self.useFixture(fixtures.TempDir()).path,
                       compute_node=compute_node)  # fmt: skip

    def test_fc_is_wired_with_the_compute_node_only(self):
        self.assertIn("fc", self.sandbox(compute_node=True).site["protocols"])
        self.assertTrue(self.sandbox(compute_node=True).with_fc)
        self.assertFalse(self.sandbox(compute_node=False).with_fc)

    def test_the_data_plane_carries_jumbo_frames_for_fcoe(self):
        # an FC frame carries up to 2112 bytes of data: more than 1500
        self.assertEqual(fcoe_vm.MTU, fcoe_mtu(True))
        self.assertGreater(fcoe_mtu(True), 2112 + 24 + 14 + 14 + 8)
        self.assertEqual(1500, fcoe_mtu(False))

    def test_down_stops_the_data_plane_vm_before_the_data_plane(self):
        sandbox = self.sandbox(compute_node=True)
        stopped = []

        def part(name, method="stop"):
            return types.SimpleNamespace(**{method: lambda: stopped.append(name)})

        sandbox.compute, sandbox.dp_vm = part("compute"), part("data-plane VM")
        sandbox.dp_vm.proc = None  # (already off: no lio.py log to keep)
        sandbox.data_plane = part("data plane", "down")
        sandbox._stop_node_services = lambda: None
        sandbox.down()
        self.assertEqual(["compute", "data-plane VM", "data plane"], stopped)
        self.assertIsNone(sandbox.dp_vm)
