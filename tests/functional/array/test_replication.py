"""Two reference arrays replicating a volume group; data checked over real iSCSI.

Failover keeps what the last sync shipped (and only that: replication is
async), the replica refuses hosts until promoted, failback brings the data
written during the failover home, and the async loop ships changes by itself.
"""

import tempfile
import time

import testtools

from ci_tools.array.fixture import ArrayFixture
from tests.functional.array import iscsi

INIT = "iqn.2004-10.org.example:dr-node"
CHAP = {"username": "dr-node-chap", "secret": "dr-secret-0123"}
MIB = 1024 * 1024


class Side:
    def __init__(self, array):
        self.array = array
        self.api = array.session()
        self.base = array.url + "/api/v1"

    def call(self, method, path, expect=200, **kwargs):
        r = self.api.request(method, self.base + path, timeout=60, **kwargs)
        if r.status_code != expect:
            raise AssertionError(f"{method} {path}: {r.status_code} {r.text}")
        return r.json()

    def attach(self, volume):
        """Map to the test host (created on first use); returns (conn, lun)."""
        if self.api.get(self.base + "/hosts/dr-node").status_code == 404:
            self.call("POST", "/hosts", json={"name": "dr-node", "iqns": [INIT], "chap": CHAP})
        lun = self.call("POST", "/mappings", json={"volume": volume, "host": "dr-node"})["lun"]
        return self.call("GET", "/hosts/dr-node/connection")["iscsi"], lun

    def detach(self, volume):
        self.call("DELETE", "/mappings", params={"volume": volume, "host": "dr-node"})


class ReplicationTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if iscsi.missing_tools():
            self.fail(f"missing {iscsi.missing_tools()}: run tools/test-setup.sh")
        sides = []
        for name in ("site-a", "site-b"):
            td = tempfile.TemporaryDirectory()
            self.addCleanup(td.cleanup)
            array = ArrayFixture(td.name, name=name)
            array.start()
            self.addCleanup(array.stop)
            sides.append(Side(array))
        self.a, self.b = sides
        for here, peer in ((self.a, self.b), (self.b, self.a)):
            here.call("PUT", "/replication/peer",
                      json={"url": peer.array.url, "username": peer.array.username,
                            "password": peer.array.password})  # fmt: skip

    def test_failover_keeps_synced_data_and_failback_brings_changes_home(self):
        a, b = self.a, self.b
        a.call("POST", "/volumes", json={"name": "db", "size_gb": 1})
        conn, lun = a.attach("db")
        iscsi.write_pattern(conn, lun, INIT, 0, 256 * 1024, 0x11)
        iscsi.write_pattern(conn, lun, INIT, 512 * MIB, 64 * 1024, 0x22)  # a far extent
        a.call("POST", "/replication/groups", json={"name": "g", "volumes": ["db"],
                                                    "interval_s": 3600})  # fmt: skip
        synced = a.call("POST", "/replication/groups/g/sync")
        self.assertIsNone(synced["last_error"])
        iscsi.write_pattern(conn, lun, INIT, 0, 4096, 0x99)  # after the last sync

        replica = b.call("GET", "/volumes/db")
        self.assertEqual("replica", replica["replication"]["role"])
        self.assertLess(replica["used_bytes"], 2 * MIB, "only allocated extents travel")
        r = b.api.post(b.base + "/mappings", json={"volume": "db", "host": "x"})
        self.assertIn(r.status_code, (404, 409))  # no host x, and replicas refuse hosts anyway
        b.call("POST", "/hosts", json={"name": "dr-node", "iqns": [INIT], "chap": CHAP})
        r = b.api.post(b.base + "/mappings", json={"volume": "db", "host": "dr-node"})
        self.assertEqual((409, "volume.is_replica"), (r.status_code, r.json()["error"]["code"]))

        # site A goes dark; site B takes over
        a.detach("db")
        a.call("POST", "/admin/faults", json={"unreachable_s": 120})
        self.assertEqual("primary", b.call("POST", "/replication/groups/g/promote")["role"])
        conn_b, lun_b = b.attach("db")
        ok, out = iscsi.has_pattern(conn_b, lun_b, INIT, 4096, 252 * 1024, 0x11)
        self.assertTrue(ok, f"synced data must survive failover: {out}")
        ok, out = iscsi.has_pattern(conn_b, lun_b, INIT, 512 * MIB, 64 * 1024, 0x22)
        self.assertTrue(ok, out)
        ok, out = iscsi.has_pattern(conn_b, lun_b, INIT, 0, 4096, 0x11)
        self.assertTrue(ok, f"a write after the last sync is not on the target (async): {out}")
        iscsi.write_pattern(conn_b, lun_b, INIT, 8 * MIB, 4096, 0x44)  # written at site B

        # site A is back: failback
        a.call("DELETE", "/admin/faults")
        a.call("POST", "/replication/groups/g/demote")
        b.detach("db")
        b.call("POST", "/replication/groups/g/sync")
        b.call("POST", "/replication/groups/g/demote")
        a.call("POST", "/replication/groups/g/promote")
        conn, lun = a.attach("db")
        ok, out = iscsi.has_pattern(conn, lun, INIT, 8 * MIB, 4096, 0x44)
        self.assertTrue(ok, f"data written during failover must come home: {out}")
        ok, out = iscsi.has_pattern(conn, lun, INIT, 0, 4096, 0x11)
        self.assertTrue(ok, f"failback makes site A equal to site B: {out}")

    def test_async_loop_ships_changes_by_itself(self):
        a, b = self.a, self.b
        a.call("POST", "/volumes", json={"name": "logs", "size_gb": 1})
        conn, lun = a.attach("logs")
        iscsi.write_pattern(conn, lun, INIT, 0, 64 * 1024, 0x5E)
        a.call("POST", "/replication/groups", json={"name": "auto", "volumes": ["logs"],
                                                    "interval_s": 1})  # fmt: skip
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if b.api.get(b.base + "/replication/groups/auto").status_code == 200:
                break  # the group record lands after all its volumes
            time.sleep(0.3)
        group = b.call("GET", "/replication/groups/auto")
        self.assertEqual(("secondary", ["logs"]), (group["role"], group["volumes"]))
        b.call("POST", "/replication/groups/auto/promote")
        conn_b, lun_b = b.attach("logs")
        ok, out = iscsi.has_pattern(conn_b, lun_b, INIT, 0, 64 * 1024, 0x5E)
        self.assertTrue(ok, out)

    def test_unreachable_peer_is_reported_on_the_group(self):
        a, b = self.a, self.b
        a.call("POST", "/volumes", json={"name": "v", "size_gb": 1})
        a.call("POST", "/replication/groups", json={"name": "g2", "volumes": ["v"],
                                                    "interval_s": 3600})  # fmt: skip
        b.call("POST", "/admin/faults", json={"unreachable_s": 60})
        r = a.api.post(a.base + "/replication/groups/g2/sync")
        self.assertEqual((503, "replication.peer_unreachable"),
                         (r.status_code, r.json()["error"]["code"]))  # fmt: skip
        self.assertIn("peer_unreachable", a.call("GET", "/replication/groups/g2")["last_error"])

    def test_snapshots_travel_and_deletes_follow_the_source(self):
        a, b = self.a, self.b
        for vol in ("keep", "gone"):
            a.call("POST", "/volumes", json={"name": vol, "size_gb": 1})
        conn, lun = a.attach("keep")
        iscsi.write_pattern(conn, lun, INIT, 0, 64 * 1024, 0x31)
        a.call("POST", "/snapshots", json={"name": "keep-s1", "volume": "keep"})
        a.call("POST", "/snapshots", json={"name": "keep-s2", "volume": "keep"})
        a.detach("keep")
        a.call("POST", "/replication/groups", json={"name": "gs", "volumes": ["keep", "gone"],
                                                    "interval_s": 3600})  # fmt: skip
        a.call("POST", "/replication/groups/gs/sync")
        names = [s["name"] for s in b.call("GET", "/snapshots", params={"volume": "keep"})]
        self.assertEqual(["keep-s1", "keep-s2"], names)
        self.assertEqual(200, b.api.get(b.base + "/volumes/gone").status_code)
        # the source deletes a volume and a snapshot: the next sync drops their replicas
        a.call("DELETE", "/volumes/gone")
        a.call("DELETE", "/snapshots/keep-s1")
        a.call("POST", "/replication/groups/gs/sync")
        self.assertEqual(404, b.api.get(b.base + "/volumes/gone").status_code)
        names = [s["name"] for s in b.call("GET", "/snapshots", params={"volume": "keep"})]
        self.assertEqual(["keep-s2"], names)
        # after failover the replicated snapshot is usable: a volume from it has its blocks
        b.call("POST", "/replication/groups/gs/promote")
        b.call("POST", "/volumes", json={"name": "from-s2", "source_snapshot": "keep-s2"})
        conn_b, lun_b = b.attach("from-s2")
        ok, out = iscsi.has_pattern(conn_b, lun_b, INIT, 0, 64 * 1024, 0x31)
        self.assertTrue(ok, out)
        # an emptied group still tells the peer (the async loop syncs it once)
        a.call("DELETE", "/replication/groups/gs/volumes/keep")
        self.assertTrue(a.call("GET", "/replication/groups/gs").get("dirty"))
