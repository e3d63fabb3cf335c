"""data_path_tests.py for the FC job: which tests run, what carries the FC
port (read from sysfs), the array's hosts by WWPN, and iSCSI-only tests
skipping on an FC connection without leaving an attachment behind."""

import os
import shutil
import tempfile
import types

import testtools

from tests.unit.roles.role_files import ADMIN_PASSWORD, load_data_path_module, serve_reference_array

FC_INFO = {"driver_volume_type": "fibre_channel", "target_lun": 1,
           "target_wwn": ["2000524a93000001"], "initiator_target_map": {}}  # fmt: skip


class FakeAttachments:
    def __init__(self, info):
        self.info, self.deleted = info, []

    def create(self, volume_id, connector, instance_id=None, mode=None):
        return {"id": f"att-{volume_id}", "connection_info": dict(self.info)}

    def delete(self, attachment_id):
        self.deleted.append(attachment_id)


class DefaultTestsTest(testtools.TestCase):
    def test_fc_runs_every_default_test_but_chap(self):
        tests = load_data_path_module("data_path_tests")
        self.assertIn("test_chap_wrong_secret_fails_cleanly", tests.default_tests("iscsi"))
        fc = tests.default_tests("fibre_channel")
        self.assertEqual([n for n in tests.ALL if n != "test_chap_wrong_secret_fails_cleanly"], fc)
        self.assertIn("test_concurrent_first_attaches_from_a_new_host", fc)


class FCTargetsOnlineTest(testtools.TestCase):
    """The array's ports the node sees as Online FCP targets, from a fake
    /sys/class/fc_remote_ports as the FC transport class lays it out."""

    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        self.sys = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.sys)

    def rport(self, name, port_name, state, roles):
        path = os.path.join(self.sys, "class", "fc_remote_ports", name)
        os.makedirs(path)
        for attr, value in (("port_name", port_name), ("port_state", state), ("roles", roles)):
            with open(os.path.join(path, attr), "w") as f:
                f.write(value + "\n")

    def test_only_online_fcp_targets_count(self):
        self.rport("rport-2:0-0", "0x2000524a93000001", "Online", "FCP Target")
        self.rport("rport-2:0-1", "0x2000524a93000002", "Blocked", "FCP Target")
        self.rport("rport-2:0-2", "0x2000524a93000003", "Online", "FCP Initiator")
        self.rport("rport-2:0-3", "0x2000524a93000004", "Not Present", "FCP Target")
        self.assertEqual({"0x2000524a93000001"}, self.tests.fc_targets_online(self.sys))

    def test_no_fc_transport_is_no_target(self):
        self.assertEqual(set(), self.tests.fc_targets_online(self.sys))


class FCTransportTest(testtools.TestCase):
    """A fake /sys laid out as the kernel lays out an FCoE port and an HBA."""

    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        self.sys = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.sys)
        os.makedirs(os.path.join(self.sys, "class", "fc_host"))

    def fc_host(self, name, device):
        target = os.path.join(self.sys, "devices", device, name, "fc_host", name)
        os.makedirs(target)
        os.symlink(target, os.path.join(self.sys, "class", "fc_host", name))

    def test_fcoe_vn2vn_on_the_nic(self):
        self.fc_host("host2", "pci0000:00/0000:00:04.0/virtio1/net/eth1/ctlr_0")
        mode = os.path.join(self.sys, "bus", "fcoe", "devices", "ctlr_0")
        os.makedirs(mode)
        with open(os.path.join(mode, "mode"), "w") as f:
            f.write("VN2VN\n")
        self.assertEqual("FCoE VN2VN on eth1, no HBA", self.tests.fc_transport(self.sys))

    def test_an_hba(self):
        self.fc_host("host3", "pci0000:00/0000:00:05.0")
        self.assertEqual("HBA", self.tests.fc_transport(self.sys))

    def test_no_fc_port(self):
        self.assertIsNone(self.tests.fc_transport(self.sys))
        self.assertIsNone(self.tests.fc_transport(os.path.join(self.sys, "none")))


class HostsOfNodeTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        self.array, _, url = serve_reference_array(self)
        self.admin = self.tests.ArrayAdmin(url, "admin", ADMIN_PASSWORD)
        self.connector = {"initiator": "iqn.2026-12.org.example:compute",
                          "wwpns": ["200052540000d00a", "200052540000d10a"]}  # fmt: skip

    def test_a_host_made_from_the_connectors_wwpn_is_found(self):
        self.assertEqual([], self.admin.hosts_of_node(self.connector))
        self.array.create_host({"name": "fc-host", "wwpns": ["200052540000d10a"]})
        self.assertEqual(["fc-host"], self.admin.hosts_of_node(self.connector))

    def test_iscsi_and_fc_hosts_both_count_once(self):
        self.array.create_host({"name": "iscsi-host", "iqns": [self.connector["initiator"]]})
        self.array.create_host({"name": "fc-host", "wwpns": self.connector["wwpns"]})
        self.assertEqual(["iscsi-host", "fc-host"], self.admin.hosts_of_node(self.connector))

    def test_a_connector_without_wwpns(self):
        self.array.create_host({"name": "fc-host", "wwpns": ["200052540000d10a"]})
        self.assertEqual([], self.admin.hosts_of_node({"initiator": "iqn.2026-12.org.x:y"}))


class IscsiOnlyTestsOnFCTest(testtools.TestCase):
    def data_path(self):
        tests = load_data_path_module("data_path_tests")
        data_path = object.__new__(tests.DataPath)
        data_path.cinder = types.SimpleNamespace(attachments=FakeAttachments(FC_INFO))
        data_path.connector_props = {"wwpns": ["200052540000d00a"]}
        data_path.cleanups = []
        data_path.array = None
        data_path.volume = lambda name, **kw: types.SimpleNamespace(id=f"vol-{name}")
        return tests, data_path

    def test_chap_skips_on_fc_and_deletes_its_attachment(self):
        tests, data_path = self.data_path()
        error = self.assertRaises(tests.Skip, data_path.test_chap_wrong_secret_fails_cleanly, {})
        self.assertEqual("CHAP is iSCSI's: the backend's connection is fibre_channel", str(error))
        self.assertEqual(["att-vol-chap"], data_path.cinder.attachments.deleted)

    def test_failed_attach_skips_on_fc_saying_why(self):
        tests, data_path = self.data_path()
        error = self.assertRaises(tests.Skip, data_path.test_failed_attach_leaves_nothing, {})
        self.assertIn("take the array's target ports off the fabric", str(error))
        self.assertEqual(["att-vol-failed-attach"], data_path.cinder.attachments.deleted)
