"""The job vars the sandbox hands its jobs: where the compute node finds the array."""

import os
import tempfile
import types

import testtools
import yaml

from ci_tools.harness.compute_node import CONTROLLER_ADDRESS
from ci_tools.sandbox.loop import Sandbox, node_array_url

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
