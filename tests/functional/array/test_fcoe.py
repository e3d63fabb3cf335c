"""Real FC protocol (FCP over FCoE VN2VN) from an FC host to the array, through os-brick.

Two QEMU guests with Debian's kernel on one Ethernet bridge: the array's
data-plane VM (tcm_fc, kept equal to the REST API by lio.py) and an FC host
whose software FCoE ports are its initiators. os-brick's
FibreChannelConnector, the upstream package this test env installs (copied
into the guest unchanged, ahead of Debian's), attaches with the connection
the array gives the driver. No HBA, no FC switch, nothing faked in /sys:
see doc/fc-fcoe.rst.
"""

import hashlib
import json
import os
import shutil
import tempfile
import time

import os_brick
import testtools
import testtools.content

from ci_tools.array import fcoe_vm
from ci_tools.array.fixture import ArrayFixture

MIB = 1024 * 1024
HOST_MAC = "52:54:00:fc:00:01"  # zoned: the compute node's data NIC
OUTSIDER_MAC = "52:54:00:fc:00:02"  # a second FCoE port of the same guest, never zoned
HOST_WWPN = fcoe_vm.wwpn_of(HOST_MAC)


class FCoETest(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        tools = ("qemu-system-x86_64", "mmdebstrap", "busybox", "mke2fs", "cpio", "depmod")
        missing = [t for t in tools if not shutil.which(t)]
        if missing:
            raise AssertionError(f"missing {missing}: run tools/test-setup.sh (bindep [test])")
        cls._tmp = tempfile.TemporaryDirectory()
        cls.array = ArrayFixture(cls._tmp.name, iscsi=False)
        cls.array.start()
        brick = os.path.dirname(os_brick.__file__)
        cls.lab = fcoe_vm.Lab(cls._tmp.name, cls.array, brick, [HOST_MAC, OUTSIDER_MAC])
        try:
            cls.lab.start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.lab.stop()
        cls.array.stop()
        cls._tmp.cleanup()
        figures = {k: round(v, 2) for k, v in cls.lab.figures.items()}
        print("fcoe figures: " + json.dumps(figures))

    def setUp(self):
        super().setUp()
        self.api = self.array.session()
        self.base = self.array.url + "/api/v1"
        self.nports = len(self.lab.ports)

    def test_os_brick_attaches_writes_reads_and_detaches_over_fcoe(self):
        lab = self.lab
        vol = self.api.post(self.base + "/volumes", json={"name": "fcvol", "size_gb": 1}).json()
        h = self.api.post(self.base + "/hosts", json={"name": "fc-host", "wwpns": [HOST_WWPN]})
        self.assertEqual(200, h.status_code, h.text)
        self.addCleanup(self.api.delete, self.base + "/hosts/fc-host")
        t0 = time.monotonic()
        m = self.api.post(self.base + "/mappings", json={"volume": "fcvol", "host": "fc-host"})
        self.assertEqual(200, m.status_code, m.text)
        lun = m.json()["lun"]
        fcoe_vm.wait_for(lambda: lab.mapped_in_lio(lun) == self.nports, 10, "the LUN in LIO")
        lab.figures["map_to_lio_s"] = time.monotonic() - t0
        conn = self.api.get(self.base + "/hosts/fc-host/connection").json()
        self.assertEqual({p["wwpn"] for p in lab.ports}, set(conn["fc"]["target_wwns"]))
        info = {
            "target_discovered": False,
            "target_wwn": conn["fc"]["target_wwns"],
            "target_lun": conn["luns"]["fcvol"],
            "initiator_target_map": conn["fc"]["initiator_target_map"],
        }
        mib = 8
        result = lab.attach_write_read_detach(info, mib)
        self.assertEqual("/opt/upstream/os_brick/__init__.py", result["os_brick"])
        self.assertRegex(result["device"]["path"], r"^/dev/disk/by-path/pci-.*-fc-0x2000524a93")
        self.assertEqual(result["written_md5"], result["read_md5"])
        with open(os.path.join(self.array.data_dir, "volumes", vol["id"] + ".img"), "rb") as f:
            on_array = hashlib.md5(f.read(mib * MIB)).hexdigest()
        self.assertEqual(result["written_md5"], on_array)
        left = lab.host.run("lsscsi; ls /dev/disk/by-path/")["out"]
        self.assertNotIn("LIO-ORG", left)
        self.assertNotIn("-fc-", left)
        t1 = time.monotonic()
        r = self.api.delete(self.base + "/mappings", params={"volume": "fcvol", "host": "fc-host"})
        self.assertEqual(200, r.status_code, r.text)
        try:
            fcoe_vm.wait_for(lambda: lab.mapped_in_lio(lun) == 0, 10, "the LUN gone from LIO")
        except Exception:
            self.addDetail("lio.log", testtools.content.text_content(lab.lio_log(40)))
            raise
        lab.figures["unmap_from_lio_s"] = time.monotonic() - t1
        lab.figures.update({
            "attach_s": result["attach_s"], "detach_s": result["detach_s"],
            "write_MBps": mib * MIB / 1e6 / result["write_s"],
            "read_MBps": mib * MIB / 1e6 / result["read_s"],
        })  # fmt: skip

    def test_initiator_outside_the_zone_sees_no_lun(self):
        lab = self.lab
        self.api.post(self.base + "/volumes", json={"name": "zoned-only", "size_gb": 1})
        h = self.api.post(self.base + "/hosts", json={"name": "zoned", "wwpns": [HOST_WWPN]})
        self.assertEqual(200, h.status_code, h.text)
        self.addCleanup(self.api.delete, self.base + "/hosts/zoned")
        m = self.api.post(self.base + "/mappings", json={"volume": "zoned-only", "host": "zoned"})
        self.assertEqual(200, m.status_code, m.text)
        self.addCleanup(self.api.delete, self.base + "/mappings",
                        params={"volume": "zoned-only", "host": "zoned"})  # fmt: skip
        lun = m.json()["lun"]
        fcoe_vm.wait_for(lambda: lab.mapped_in_lio(lun) == self.nports, 10, "the LUN in LIO")
        outsider = lab.fc_host_of(fcoe_vm.wwpn_of(OUTSIDER_MAC))
        lab.host.run(f"echo '- - -' > /sys/class/scsi_host/{outsider}/scan; udevadm settle",
                     check=True)  # fmt: skip
        array_wwpns = {p["wwpn"] for p in lab.ports}
        seen = {w: roles for h, w, roles, st in fcoe_vm.remote_ports(lab.host)
                if h == outsider and w in array_wwpns}  # fmt: skip
        # Ethernet reaches the array's ports and the outsider logs in to them,
        # but they do not offer it the FCP target function: no SCSI target
        self.assertEqual(array_wwpns, set(seen))
        self.assertEqual({"FCP Initiator"}, set(seen.values()))
        targets = lab.host.run(f"ls /sys/class/scsi_host/{outsider}/device/")["out"]
        self.assertNotIn("target", targets)

    def test_ports_of_an_offline_controller_leave_the_fabric_and_come_back(self):
        lab = self.lab
        host_name = lab.fc_host_of(HOST_WWPN)
        ct1 = {p["wwpn"] for p in lab.ports if p["controller"] == "ct1"}

        def online_targets():
            return {w for h, w, roles, st in fcoe_vm.remote_ports(lab.host)
                    if h == host_name and "FCP Target" in roles and st == "Online"}  # fmt: skip

        admin = self.array.url + "/api/v1/admin/controllers/ct1"
        r = self.api.post(admin, json={"state": "offline"})
        self.assertEqual(200, r.status_code, r.text)
        self.addCleanup(self.api.post, admin, json={"state": "online"})
        fcoe_vm.wait_for(lambda: not (online_targets() & ct1), 60, "ct1's ports to leave")
        self.assertEqual({p["wwpn"] for p in lab.ports} - ct1, online_targets())
        r = self.api.post(admin, json={"state": "online"})
        self.assertEqual(200, r.status_code, r.text)
        fcoe_vm.wait_for(lambda: online_targets() >= ct1, 90, "ct1's ports to log in again")
