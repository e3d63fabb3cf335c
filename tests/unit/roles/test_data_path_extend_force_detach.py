"""data_path_tests.py's online extend and force detach, without a node: which
default runs hold them, the kernel's sizes read from sysfs, and the array
calls they make (against the reference array's REST API in-process)."""

import os
import shutil
import tempfile
import time
import types
import uuid

import testtools

from tests.unit.roles.role_files import ADMIN_PASSWORD, load_data_path_module, serve_reference_array

EXTEND = "test_online_extend_while_attached"
FORCE_DETACH = "test_force_detach_leaves_nothing"
OFFLINE = "test_attach_with_both_controllers_offline_leaves_nothing"
FCOE = "FCoE VN2VN on eth1, no HBA"
GIB = 1024**3


class DefaultRunTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")

    def test_iscsi_runs_both(self):
        names = self.tests.default_tests("iscsi")
        self.assertIn(EXTEND, names)
        self.assertIn(FORCE_DETACH, names)
        # the controllers test stays last (the array's FC ports relog in after it)
        self.assertEqual(OFFLINE, names[-1])

    def test_fc_with_an_hba_runs_both(self):
        names = self.tests.default_tests("fibre_channel", "HBA")
        self.assertEqual([n for n in self.tests.ALL if n != "test_chap_wrong_secret_fails_cleanly"],
                         names)  # fmt: skip
        self.assertIn(EXTEND, names)

    def test_fc_over_the_sandboxs_fcoe_leaves_out_the_extend_only(self):
        names = self.tests.default_tests("fibre_channel", FCOE)
        self.assertNotIn(EXTEND, names)
        self.assertEqual(
            ["test_attach_write_read_detach", "test_volume_from_snapshot_holds_its_data",
             "test_multiattach_same_host_detach_one_keeps_the_other",
             "test_concurrent_first_attaches_from_a_new_host", FORCE_DETACH, OFFLINE],
            names,
        )  # fmt: skip

    def test_the_reason_names_the_target_not_the_protocol(self):
        reason = self.tests.online_extend_blocked("fibre_channel", FCOE)
        self.assertIn("LIO fileio backstores", reason)
        self.assertIsNone(self.tests.online_extend_blocked("fibre_channel", "HBA"))
        self.assertIsNone(self.tests.online_extend_blocked("fibre_channel", None))
        self.assertIsNone(self.tests.online_extend_blocked("iscsi", None))

    def test_by_name_over_fcoe_it_skips_before_making_a_volume(self):
        data_path = object.__new__(self.tests.DataPath)
        data_path.volume = lambda *a, **kw: self.fail("a volume was made")
        self.patch(self.tests, "fc_transport", lambda sysfs="/sys": FCOE)
        self.patch(os, "environ", dict(os.environ, DATA_PATH_VOLUME_TYPE="fibre_channel"))
        error = self.assertRaises(self.tests.Skip, data_path.test_online_extend_while_attached, {})
        self.assertIn("online extend cannot show on this path", str(error))


class BlockSizesTest(testtools.TestCase):
    """A fake /sys/class/block as the kernel lays out SCSI disks and a
    dm-multipath map over two of them (``size`` in 512-byte sectors)."""

    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        self.sys = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.sys)

    def disk(self, name, size_bytes, slaves=()):
        path = os.path.join(self.sys, "class", "block", name)
        os.makedirs(os.path.join(path, "slaves") if slaves else path)
        with open(os.path.join(path, "size"), "w") as f:
            f.write(f"{size_bytes // 512}\n")
        for slave in slaves:
            os.symlink(os.path.join(self.sys, "class", "block", slave),
                       os.path.join(path, "slaves", slave))  # fmt: skip

    def test_a_scsi_disk(self):
        self.disk("sdb", 2 * GIB)
        self.assertEqual({"sdb": 2 * GIB}, self.tests.block_sizes("/dev/sdb", self.sys))

    def test_a_map_and_each_path_device_first(self):
        self.disk("sdb", 2 * GIB)
        self.disk("sdc", 1 * GIB)  # a path the rescan missed
        self.disk("dm-0", 2 * GIB, slaves=("sdb", "sdc"))
        sizes = self.tests.block_sizes("/dev/dm-0", self.sys)
        self.assertEqual({"dm-0": 2 * GIB, "sdb": 2 * GIB, "sdc": GIB}, sizes)
        self.assertEqual("dm-0", next(iter(sizes)))

    def test_a_link_is_followed(self):
        self.disk("sdd", GIB)
        link = os.path.join(self.sys, "by-path-link")
        os.symlink("/dev/sdd", link)
        self.assertEqual({"sdd": GIB}, self.tests.block_sizes(link, self.sys))


class ArrayCallsTest(testtools.TestCase):
    """The array's answers the two tests read: the volume's size, a host's
    zoning map and the audit log, against the reference array's API."""

    def setUp(self):
        super().setUp()
        self.tests = load_data_path_module("data_path_tests")
        self.array, self.service, url = serve_reference_array(self)
        self.admin = self.tests.ArrayAdmin(url, "admin", ADMIN_PASSWORD)
        self.volume_id = str(uuid.uuid4())
        self.name = f"volume-{self.volume_id}"
        self.array.create_volume({"name": self.name, "pool": "pool-a", "size_gb": 1})
        self.wwpn = "200052540000d00a"
        self.array.create_host({"name": "compute-fc", "wwpns": [self.wwpn]})
        self.array.create_mapping({"volume": self.name, "host": "compute-fc"})

    def test_the_volumes_size_follows_an_extend(self):
        self.assertEqual(GIB, self.admin.volume_size(self.volume_id))
        self.admin.call("PATCH", f"/volumes/{self.name}", json={"size_gb": 2})
        self.assertEqual(2 * GIB, self.admin.volume_size(self.volume_id))

    def test_a_hosts_zones_pair_its_wwpns_with_the_online_ports(self):
        zones = self.admin.fc_zones("compute-fc")
        self.assertEqual([self.wwpn], list(zones))
        self.assertEqual(4, len(zones[self.wwpn]))  # two controllers, two ports each

    def force_detach_as_the_fc_driver_does(self, read_zones=True):
        """The refflash FC driver's terminate_connection(connector=None):
        per mapped host, read its zones, unmap, delete the emptied host."""
        self.admin.call("GET", "/hosts/compute-fc")
        if read_zones:
            self.admin.call("GET", "/hosts/compute-fc/connection")
        self.admin.call("DELETE", "/mappings", params={"volume": self.name, "host": "compute-fc"})
        self.admin.call("DELETE", "/hosts/compute-fc")

    def mark(self):
        # as the test takes it: after its own zone reads, on the array's clock
        self.admin.fc_zones("compute-fc")
        return max(e["ts"] for e in self.admin.audit()) + 0.001

    def test_the_drivers_zone_read_and_host_delete_are_in_the_audit(self):
        mark = self.mark()
        time.sleep(0.002)
        self.force_detach_as_the_fc_driver_does()
        entries = self.admin.audit(mark, op="host.")
        self.assertEqual((True, True),
                         self.tests.zones_read_before_delete(entries, "compute-fc"))  # fmt: skip
        self.assertEqual([], self.admin.hosts_of_node({"wwpns": [self.wwpn]}))
        self.assertEqual([], self.admin.mappings_of(self.volume_id))

    def test_a_host_deleted_without_its_zones_read_is_caught(self):
        mark = self.mark()
        time.sleep(0.002)
        self.force_detach_as_the_fc_driver_does(read_zones=False)
        entries = self.admin.audit(mark, op="host.")
        # the test's own zone read before the mark does not count
        self.assertEqual((False, True),
                         self.tests.zones_read_before_delete(entries, "compute-fc"))  # fmt: skip

    def test_a_zone_read_after_the_delete_or_a_failed_one_does_not_count(self):
        entries = [
            {"op": "host.connection", "object": "h", "status": 404, "ts": 1.0},
            {"op": "host.delete", "object": "h", "status": 200, "ts": 2.0},
            {"op": "host.connection", "object": "h", "status": 200, "ts": 3.0},
            {"op": "host.connection", "object": "other", "status": 200, "ts": 0.5},
        ]
        self.assertEqual((False, True), self.tests.zones_read_before_delete(entries, "h"))
        self.assertEqual((False, False), self.tests.zones_read_before_delete([], "h"))

    def test_an_array_without_an_audit_api(self):
        self.service.routes = [r for r in self.service.routes if r.op != "audit.read"]
        self.assertIsNone(self.admin.audit())


class ForceDetachPathTest(testtools.TestCase):
    """The force detach reaches the driver with connector=None: the test
    posts os-force_detach with no connector and the attachment's id."""

    def test_the_request(self):
        tests = load_data_path_module("data_path_tests")
        posted = []
        data_path = object.__new__(tests.DataPath)
        data_path.cinder = types.SimpleNamespace(
            client=types.SimpleNamespace(post=lambda url, body: posted.append((url, body)))
        )
        # only the request itself: stop right after it
        data_path.wait = lambda vol, status: (_ for _ in ()).throw(RuntimeError("stop"))
        data_path.volume = lambda name, **kw: types.SimpleNamespace(id="vol-1")
        data_path.array = None
        conn = {"driver_volume_type": "iscsi", "data": {}}
        data_path.attach = lambda vol: {"attachment": "att-1", "conn": conn, "device": {},
                                        "path": "/dev/null", "seconds": 0.1}  # fmt: skip
        disconnected = []
        data_path._connector = lambda info: types.SimpleNamespace(
            disconnect_volume=lambda data, device, force: disconnected.append(force)
        )
        data_path.assert_clean = lambda: None
        data_path.cinder.attachments = types.SimpleNamespace(delete=lambda a: posted.append(a))
        self.patch(tests.brick_volume, "_direct_io", lambda *a, **kw: {"sha256": "x"})
        self.assertRaises(RuntimeError, data_path.test_force_detach_leaves_nothing, {})
        self.assertEqual([False], disconnected)  # the node's devices first, strictly
        self.assertEqual(
            [("/volumes/vol-1/action",
              {"os-force_detach": {"attachment_id": "att-1", "connector": None}})],
            posted,  # and no attachment delete after it was sent
        )  # fmt: skip
