"""The reference array over real iSCSI: CHAP, masking, snapshots by blocks, thin accounting.

One array (REST server + its tgtd) per class; every I/O goes through a real
iSCSI login (libiscsi's userspace initiator in qemu-io and iscsi-ls).
"""

import os
import tempfile

import testtools

from ci_tools.array.fixture import ArrayFixture
from tests.functional.array import iscsi

MIB = 1024 * 1024
INIT1 = "iqn.2004-10.org.example:node1"
INIT2 = "iqn.2004-10.org.example:node2"
CHAP1 = {"username": "node1-chap", "secret": "n1-secret-0123"}


class ISCSITest(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        missing = iscsi.missing_tools()
        if missing:
            raise AssertionError(f"missing {missing}: run tools/test-setup.sh (bindep [test])")
        cls._tmp = tempfile.TemporaryDirectory()
        cls.array = ArrayFixture(cls._tmp.name)
        cls.array.start()

    @classmethod
    def tearDownClass(cls):
        cls.array.stop()
        cls._tmp.cleanup()

    def setUp(self):
        super().setUp()
        self.api = self.array.session()
        self.base = self.array.url + "/api/v1"
        self.prefix = self.id().rsplit(".", 1)[-1][5:25].replace("_", "-")

    def call(self, method, path, expect=200, **kwargs):
        r = self.api.request(method, self.base + path, timeout=30, **kwargs)
        self.assertEqual(expect, r.status_code, r.text)
        return r.json()

    def volume(self, name, size_gb=1, **extra):
        self.call("POST", "/volumes", json={"name": name, "size_gb": size_gb, **extra})
        self.addCleanup(self.api.delete, f"{self.base}/volumes/{name}", params={"cascade": "true"})
        return name

    def host(self, name, iqn, chap=None):
        self.call("POST", "/hosts", json={"name": name, "iqns": [iqn], "chap": chap})
        self.addCleanup(self.api.delete, f"{self.base}/hosts/{name}")

    def map(self, volume, host):
        lun = self.call("POST", "/mappings", json={"volume": volume, "host": host})["lun"]
        self.addCleanup(self.api.delete, f"{self.base}/mappings",
                        params={"volume": volume, "host": host})  # fmt: skip
        return lun

    def conn(self, host):
        return self.call("GET", f"/hosts/{host}/connection")["iscsi"]

    def test_mapped_volume_read_write_with_chap_on_both_portals(self):
        vol = self.volume(f"{self.prefix}-v")
        self.host(f"{self.prefix}-h", INIT1, CHAP1)
        lun = self.map(vol, f"{self.prefix}-h")
        conn = self.conn(f"{self.prefix}-h")
        self.assertEqual(2, len(conn["portals"]))  # one per controller: multipath
        iscsi.write_pattern(conn, lun, INIT1, 1 * MIB, 64 * 1024, 0x5A, conn["portals"][0])
        ok, out = iscsi.has_pattern(conn, lun, INIT1, 1 * MIB, 64 * 1024, 0x5A, conn["portals"][1])
        self.assertTrue(ok, out)
        ok, out = iscsi.has_pattern(conn, lun, INIT1, 1 * MIB, 64 * 1024, 0x00)
        self.assertFalse(ok, "a read of written blocks must not look empty")
        rc, out = iscsi.discover(conn["portals"][0], INIT1, CHAP1)
        self.assertIn(f"Lun:{lun}", out)
        self.assertIn("Size:1023M", out)  # 1 GiB minus tgtd's rounding of the last MiB

    def test_wrong_chap_is_refused(self):
        vol = self.volume(f"{self.prefix}-v")
        self.host(f"{self.prefix}-h", INIT1, CHAP1)
        lun = self.map(vol, f"{self.prefix}-h")
        conn = self.conn(f"{self.prefix}-h")
        for chap in ({"username": CHAP1["username"], "secret": "wrong-secret-1"}, None):
            ok, out = iscsi.qemu_io(conn["portals"][0], conn["target_iqn"], lun, INIT1, chap,
                                    "read 0 512")  # fmt: skip
            self.assertFalse(ok, out)
            self.assertIn("Authentication failure", out)

    def test_unmapped_volume_and_other_hosts_are_invisible(self):
        vol_a = self.volume(f"{self.prefix}-a")
        vol_b = self.volume(f"{self.prefix}-b")
        self.host(f"{self.prefix}-h1", INIT1, CHAP1)
        self.host(f"{self.prefix}-h2", INIT2)
        lun_a = self.map(vol_a, f"{self.prefix}-h1")
        conn = self.conn(f"{self.prefix}-h1")
        rc, out = iscsi.discover(conn["portals"][0], INIT1, CHAP1)
        self.assertIn(f"Lun:{lun_a}", out)
        self.assertNotIn(f"Lun:{lun_a + 1}", out, "unmapped volume b must not show")
        # node2 is a host on the array, but nothing is mapped to it and it is not in
        # node1's ACL: discovery shows it nothing and a login to node1's target fails.
        rc, out = iscsi.discover(conn["portals"][0], INIT2)
        self.assertNotIn("Target:", out)
        self.assertNotIn(conn["target_iqn"], out)
        ok, out = iscsi.qemu_io(conn["portals"][0], conn["target_iqn"], lun_a, INIT2, CHAP1,
                                "read 0 512")  # fmt: skip
        self.assertFalse(ok, out)
        # unmapping takes the LUN away from node1 too
        self.map(vol_b, f"{self.prefix}-h1")
        self.call("DELETE", "/mappings", params={"volume": vol_a, "host": f"{self.prefix}-h1"})
        rc, out = iscsi.discover(conn["portals"][0], INIT1, CHAP1)
        ok, out2 = iscsi.qemu_io(conn["portals"][0], conn["target_iqn"], lun_a, INIT1, CHAP1,
                                 "read 0 512")  # fmt: skip
        self.assertFalse(ok, out2)

    def test_snapshot_isolation_by_reading_blocks(self):
        vol = self.volume(f"{self.prefix}-v")
        self.host(f"{self.prefix}-h", INIT1, CHAP1)
        lun = self.map(vol, f"{self.prefix}-h")
        conn = self.conn(f"{self.prefix}-h")
        iscsi.write_pattern(conn, lun, INIT1, 0, 128 * 1024, 0xA1)
        self.call("POST", "/snapshots", json={"name": f"{self.prefix}-s", "volume": vol})
        iscsi.write_pattern(conn, lun, INIT1, 0, 128 * 1024, 0xB2)
        restored = self.volume(f"{self.prefix}-r", source_snapshot=f"{self.prefix}-s")
        lun_r = self.map(restored, f"{self.prefix}-h")
        ok, out = iscsi.has_pattern(conn, lun_r, INIT1, 0, 128 * 1024, 0xA1)
        self.assertTrue(ok, f"volume from snapshot must hold the old blocks: {out}")
        ok, out = iscsi.has_pattern(conn, lun, INIT1, 0, 128 * 1024, 0xB2)
        self.assertTrue(ok, f"the volume keeps its later write: {out}")
        self.call("DELETE", "/mappings", params={"volume": vol, "host": f"{self.prefix}-h"})
        self.call("POST", f"/volumes/{vol}/revert", json={"snapshot": f"{self.prefix}-s"})
        lun = self.map(vol, f"{self.prefix}-h")
        ok, out = iscsi.has_pattern(conn, lun, INIT1, 0, 128 * 1024, 0xA1)
        self.assertTrue(ok, f"revert must bring the snapshot's blocks back: {out}")

    def test_thin_pool_accounting_follows_written_blocks(self):
        before = self.call("GET", "/pools/pool-a")
        vol = self.volume(f"{self.prefix}-v", size_gb=4)
        self.host(f"{self.prefix}-h", INIT1, CHAP1)
        lun = self.map(vol, f"{self.prefix}-h")
        after_create = self.call("GET", "/pools/pool-a")
        provisioned = after_create["provisioned_bytes"] - before["provisioned_bytes"]
        self.assertEqual(4 * 1024 * MIB, provisioned)
        self.assertLess(after_create["used_bytes"] - before["used_bytes"], MIB)
        iscsi.write_pattern(self.conn(f"{self.prefix}-h"), lun, INIT1, 0, 8 * MIB, 0x77)
        after_write = self.call("GET", "/pools/pool-a")
        grown = after_write["used_bytes"] - after_create["used_bytes"]
        self.assertGreaterEqual(grown, 8 * MIB)
        self.assertLess(grown, 9 * MIB)
        self.assertEqual(after_write["capacity_bytes"] - after_write["used_bytes"],
                         after_write["free_bytes"])  # fmt: skip

    def test_controller_down_takes_its_portal_away(self):
        vol = self.volume(f"{self.prefix}-v")
        self.host(f"{self.prefix}-h", INIT1, CHAP1)
        lun = self.map(vol, f"{self.prefix}-h")
        portals = self.conn(f"{self.prefix}-h")["portals"]
        self.call("POST", "/admin/controllers/ct0", json={"state": "offline"})
        self.addCleanup(self.api.post, f"{self.base}/admin/controllers/ct0",
                        json={"state": "online"})  # fmt: skip
        conn = self.conn(f"{self.prefix}-h")
        self.assertEqual([portals[1]], conn["portals"])
        ok, out = iscsi.qemu_io(portals[0], conn["target_iqn"], lun, INIT1, CHAP1, "read 0 512")
        self.assertFalse(ok, out)
        ok, out = iscsi.qemu_io(portals[1], conn["target_iqn"], lun, INIT1, CHAP1, "read 0 512")
        self.assertTrue(ok, out)
        fabric = self.call("GET", "/fc/fabric")
        states = {p["controller"]: p["state"] for p in fabric["ports"]}
        self.assertEqual({"ct0": "offline", "ct1": "online"}, states)


class RestartTest(testtools.TestCase):
    def test_restart_keeps_data_mappings_and_iscsi_export(self):
        if iscsi.missing_tools():
            self.fail(f"missing {iscsi.missing_tools()}: run tools/test-setup.sh")
        tmp = self.useFixture_tmp()
        array = ArrayFixture(tmp)
        array.start()
        self.addCleanup(array.stop)
        api = array.session()
        base = array.url + "/api/v1"
        api.post(base + "/volumes", json={"name": "keep", "size_gb": 1}).raise_for_status()
        api.post(base + "/hosts", json={"name": "h", "iqns": [INIT1], "chap": CHAP1})
        lun = api.post(base + "/mappings", json={"volume": "keep", "host": "h"}).json()["lun"]
        conn = api.get(base + "/hosts/h/connection").json()["iscsi"]
        iscsi.write_pattern(conn, lun, INIT1, 4096, 4096, 0x3C)
        array.stop()
        self.assertEqual([], _tgtd_on(1 + array.port % 30000), "tgtd must stop with the array")
        array.start()
        api = array.session()
        conn2 = api.get(base + "/hosts/h/connection").json()["iscsi"]
        self.assertEqual(conn, conn2)
        ok, out = iscsi.has_pattern(conn2, lun, INIT1, 4096, 4096, 0x3C)
        self.assertTrue(ok, out)
        audit = api.get(base + "/audit", params={"op": "volume.create"}).json()
        self.assertEqual([("admin", "keep", 200)],
                         [(e["user"], e["object"], e["status"]) for e in audit])  # fmt: skip

    def useFixture_tmp(self):
        td = tempfile.TemporaryDirectory()
        self.addCleanup(td.cleanup)
        return td.name


def _tgtd_on(control_port):
    """pids of tgtd processes started with this control port."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"tgtd") and str(control_port).encode() in argv:
            found.append(int(pid))
    return found
