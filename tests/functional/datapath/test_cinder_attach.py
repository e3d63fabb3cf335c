"""The data-path phase's own tests, as the sandbox job runs them: Cinder's
attachment API and os-brick on a compute node with its own kernel.

One class, one of each part: the reference array with tgtd's two portals on
the data plane, DevStack-lite with the refflash driver (the Tempest job's
pre-run playbook, so the backend is configured exactly as in the job), and the
compute node (QEMU, TCG here) reaching Keystone, cinder-api and the array's
REST API at the controller address. ``roles/data-path/files/data_path_tests.py``
runs on the node once for all its tests (os-brick's import costs seconds under
TCG); each test here asserts one of its results, and that the array holds no
host or mapping afterwards, by the array's own API.

As in the job, the tests run with the role's venv, not the node image's
Python packages (Debian's os-brick 6.1): ``roles/data-path/files/node_venv.py``
builds it on this machine (the controller's part) with master's
upper-constraints from ``sandbox-data/openstack-requirements``, cached under
``$CI_KIT_ROOT/data-path-venv/master``, and it is unpacked on the node as
``/opt/data-path-venv`` after the same Python-version check the role makes.
One test asserts the os-brick that ran is master's pin, from that venv.

The node is given array access (DATA_PATH_ARRAY_*), so the tests look at the
array itself, and the controllers-offline test can take both controllers
offline.
"""

import os
import shutil
import tempfile

import testtools

from ci_tools.harness import data_path_venv
from ci_tools.harness.cinder_data_path import CinderDataPath

# os-brick in master's upper-constraints snapshot, as pip freeze prints it
# (tests/functional/sandbox/test_full_run.py pins the same)
MASTER_OS_BRICK = "7.1.0"


class CinderAttachDataPathTest(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for tool in ("qemu-system-x86_64", "mmdebstrap", "tgtd", "busybox"):
            if not shutil.which(tool):
                raise AssertionError(f"{tool} missing: run tools/test-setup.sh (bindep [test])")
        cls.work = tempfile.mkdtemp(prefix="datapath-cinder-", dir="/var/tmp")
        cls.dp = CinderDataPath(cls.work)
        try:
            cls.dp.up()
            cls.results, cls.output, cls.dp.timings["tests_s"] = cls.dp.run()
            cls.node_info = cls.dp.node_info
            cls.venv = cls.dp.venv
            cls.leftovers = cls.dp.array_leftovers()
        except BaseException:
            cls._teardown()
            raise
        cls.timings = cls.dp.timings

    @classmethod
    def _teardown(cls):
        try:
            cls.dp.down()
        finally:
            if not os.environ.get("CI_KIT_KEEP_WORK"):
                shutil.rmtree(cls.work, True)

    @classmethod
    def tearDownClass(cls):
        cls._teardown()
        super().tearDownClass()

    def assertPassed(self, name):
        result = self.results.get(name)
        self.assertIsNotNone(result, f"{name} did not run: {self.output[-2000:]}")
        self.addDetail("result", testtools.content.json_content(result))
        self.addDetail("timings", testtools.content.json_content(self.timings))
        details = result.get("details", {})
        self.assertEqual("success", result["status"], details.get("traceback", details))
        self.assertNotIn("cleanup_errors", details)
        return details

    def test_every_data_path_test_ran(self):
        # what the role runs by default is what ran here
        self.assertEqual(
            ["test_attach_write_read_detach", "test_volume_from_snapshot_holds_its_data",
             "test_chap_wrong_secret_fails_cleanly",
             "test_multiattach_same_host_detach_one_keeps_the_other",
             "test_concurrent_first_attaches_from_a_new_host",
             "test_online_extend_while_attached", "test_force_detach_leaves_nothing",
             "test_attach_with_both_controllers_offline_leaves_nothing"],
            list(self.results),
        )  # fmt: skip
        # and nothing of the node's is left on the array after them
        self.assertEqual({"hosts": [], "mappings": []}, self.leftovers)

    def test_the_venvs_pinned_os_brick_ran(self):
        # The tests ran with the venv's Python at /opt/data-path-venv, as the
        # role runs them, not with the image's python3 and Debian os-brick 6.1 ...
        node = self.node_info
        self.addDetail("node", testtools.content.json_content(node))
        self.assertEqual(data_path_venv.NODE_VENV, node["prefix"], node)
        # ... which the builder's Python made: the node has the same version
        self.assertEqual(self.venv["python"], ".".join(node["python"].split(".")[:2]), node)
        # ... from master's upper-constraints: os-brick and the Cinder client at their pins
        self.assertEqual(MASTER_OS_BRICK, data_path_venv.pin("os-brick"))
        self.assertEqual(MASTER_OS_BRICK, node["os_brick"]["version"], node)
        self.assertEqual(data_path_venv.pin("python-cinderclient"),
                         node["cinderclient"]["version"], node)  # fmt: skip
        for module in ("os_brick", "cinderclient", "keystoneauth1"):
            self.assertTrue(node[module]["file"].startswith(data_path_venv.NODE_VENV + "/"), node)
        self.assertTrue(node["venv"]["constraints"].endswith(
            "/openstack-requirements/master/upper-constraints.txt"), node)  # fmt: skip
        self.assertEqual("the release upper-constraints pin", node["venv"]["os_brick_from"], node)

    def test_write_read_detach_through_cinder(self):
        details = self.assertPassed("test_attach_write_read_detach")
        # the blocks the node wrote, read on the array by its checksum API
        self.assertEqual("compared: the array's sha256 of the first 16 MiB is equal",
                         details["array_side"])  # fmt: skip

    def test_chap_wrong_secret(self):
        details = self.assertPassed("test_chap_wrong_secret_fails_cleanly")
        self.assertIn("error", details)
        # the same volume then attached with the right secret
        self.assertIn("right_secret_attach_s", details)

    def test_multiattach_same_host_detach_one_keeps_the_other(self):
        self.assertPassed("test_multiattach_same_host_detach_one_keeps_the_other")

    def test_four_concurrent_first_attaches_from_a_new_host(self):
        details = self.assertPassed("test_concurrent_first_attaches_from_a_new_host")
        self.assertEqual(4, len(details["attach_s"]), details)
        self.assertEqual("checked: no host, no mapping", details["array"])

    def test_online_extend_while_attached(self):
        details = self.assertPassed("test_online_extend_while_attached")
        # os-brick's rescan found the 2 GiB the driver gave the array's volume
        self.assertEqual(2 * 1024**3, details["brick_new_size"], details)
        self.assertEqual({2 * 1024**3}, set(details["kernel_sizes"].values()), details)
        self.assertEqual("checked: the array's volume is 2 GiB", details["array_size"])
        self.assertEqual("checked: no host, no mapping", details["array"])

    def test_force_detach_leaves_nothing(self):
        details = self.assertPassed("test_force_detach_leaves_nothing")
        self.assertIn("force_detach_s", details)
        self.assertIn("reattach_s", details)
        self.assertEqual("checked: no host, no mapping", details["array"])

    def test_failed_attach_leaves_no_host_mapping_or_session(self):
        self.skipTest("not in the default run: with the portals unreachable the attach "
                      "takes over 11 min under TCG (iscsid's login retries)")  # fmt: skip
        details = self.assertPassed("test_failed_attach_leaves_nothing")
        self.assertIn("error", details)
        self.assertEqual("checked: no host, no mapping", details["array"])

    def test_attach_with_both_controllers_offline_leaves_nothing(self):
        details = self.assertPassed("test_attach_with_both_controllers_offline_leaves_nothing")
        # Cinder's attachment update failed on the array's refusal ...
        self.assertIn("offline_error", details)
        # ... and nothing stayed: checked on the array after the refusal and
        # after the attach that worked once the controllers were back
        self.assertEqual("checked: no host, no mapping", details["array"])

    def test_volume_from_snapshot_holds_the_snapshot_data(self):
        self.assertPassed("test_volume_from_snapshot_holds_its_data")
