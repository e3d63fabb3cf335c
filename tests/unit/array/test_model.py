"""The array's rules: thin volumes, point-in-time snapshots, clones, masking, persistence."""

import os
import tempfile

import testtools

from ci_tools.array.errors import ArrayError
from ci_tools.array.model import GIB, Array


def write(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


class ArrayModelTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(_TempDir()).path
        self.array = Array(self.dir, pools={"pool-a": 2})

    def vol_path(self, name):
        return self.array.volume_path(self.array._volume(name))

    def assertCode(self, code, func, *args):
        exc = self.assertRaises(ArrayError, func, *args)
        self.assertEqual(code, exc.code, exc.message)
        return exc

    def test_thin_volume_is_sparse_and_counted_as_provisioned(self):
        vol = self.array.create_volume({"name": "v1", "size_gb": 1})
        self.assertEqual(GIB, vol["size_bytes"])
        self.assertEqual(GIB, os.path.getsize(self.vol_path("v1")))
        pool = self.array.get_pool("pool-a")
        self.assertEqual(GIB, pool["provisioned_bytes"])
        self.assertLess(pool["used_bytes"], 64 * 1024)
        write(self.vol_path("v1"), 0, b"x" * 1024 * 1024)
        self.assertGreaterEqual(self.array.get_pool("pool-a")["used_bytes"], 1024 * 1024)

    def test_overprovisioning_allowed_until_space_is_really_used(self):
        self.array = Array(os.path.join(self.dir, "small"), pools={"tiny": 16 / 1024})  # 16 MiB
        for i in range(5):  # 5 GiB provisioned on a 16 MiB pool: thin
            self.array.create_volume({"name": f"v{i}", "size_gb": 1})
        self.assertEqual(5 * GIB, self.array.get_pool("tiny")["provisioned_bytes"])
        write(self.vol_path("v0"), 0, os.urandom(6 * 1024 * 1024))
        self.array.create_snapshot({"name": "s0", "volume": "v0"})  # 6 + 6 of 16 MiB: fits
        exc = self.assertCode("pool.out_of_space", self.array.create_volume,
                              {"name": "c1", "source_volume": "v0"})  # fmt: skip
        self.assertEqual(507, exc.status)
        pool = self.array.get_pool("tiny")
        self.assertEqual(5, pool["volume_count"])
        self.assertGreaterEqual(pool["used_bytes"], 12 * 1024 * 1024)
        self.assertLess(pool["free_bytes"], 6 * 1024 * 1024)

    def test_snapshot_is_point_in_time(self):
        self.array.create_volume({"name": "v1", "size_gb": 1})
        write(self.vol_path("v1"), 4096, b"before")
        self.array.create_snapshot({"name": "s1", "volume": "v1"})
        write(self.vol_path("v1"), 4096, b"after!")
        snap = self.array._snapshot("s1")
        self.assertEqual(b"before", read(self.array.snapshot_path(snap), 4096, 6))
        self.array.create_volume({"name": "from-s1", "source_snapshot": "s1", "size_gb": 2})
        self.assertEqual(b"before", read(self.vol_path("from-s1"), 4096, 6))
        self.assertEqual(2 * GIB, os.path.getsize(self.vol_path("from-s1")))
        self.array.revert_volume("v1", {"snapshot": "s1"})
        self.assertEqual(b"before", read(self.vol_path("v1"), 4096, 6))

    def test_clone_is_independent(self):
        self.array.create_volume({"name": "v1", "size_gb": 1})
        write(self.vol_path("v1"), 0, b"origin")
        self.array.create_volume({"name": "c1", "source_volume": "v1"})
        write(self.vol_path("v1"), 0, b"change")
        self.assertEqual(b"origin", read(self.vol_path("c1"), 0, 6))

    def test_extend_rename_and_errors(self):
        self.array.create_volume({"name": "v1", "size_gb": 1})
        self.array.update_volume("v1", {"size_gb": 2, "name": "v1-renamed"})
        self.assertEqual(2 * GIB, os.path.getsize(self.vol_path("v1-renamed")))
        self.assertCode("volume.not_found", self.array.get_volume, "v1")
        self.assertCode("volume.shrink_not_allowed", self.array.update_volume, "v1-renamed",
                        {"size_gb": 1})  # fmt: skip
        self.assertCode("volume.exists", self.array.create_volume, {"name": "v1-renamed",
                                                                    "size_gb": 1})  # fmt: skip
        self.assertCode("request.invalid", self.array.create_volume, {"name": "bad name",
                                                                      "size_gb": 1})  # fmt: skip
        self.assertCode("qos.invalid", self.array.create_volume,
                        {"name": "q", "size_gb": 1, "qos": {"max_iops": -1}})  # fmt: skip

    def test_sizes_out_of_bounds_are_400_and_leave_no_file(self):
        files = sorted(os.listdir(os.path.join(self.array.data_dir, "volumes")))
        for size in (1e9, float("inf"), float("nan"), -1, 0, True, "1"):
            with self.assertRaises(ArrayError) as ctx:
                self.array.create_volume({"name": "big", "size_gb": size})
            self.assertEqual(
                (400, "volume.invalid_size"), (ctx.exception.status, ctx.exception.code)
            )
        self.assertEqual(files, sorted(os.listdir(os.path.join(self.array.data_dir, "volumes"))))
        self.assertEqual([], self.array.list_volumes())
        self.array.create_volume({"name": "v1", "size_gb": 1})
        with self.assertRaises(ArrayError) as ctx:
            self.array.update_volume("v1", {"size_gb": 1e9})
        self.assertEqual(400, ctx.exception.status)
        self.assertEqual(GIB, self.array.get_volume("v1")["size_bytes"])

    def test_delete_rules(self):
        self.array.create_volume({"name": "v1", "size_gb": 1})
        self.array.create_snapshot({"name": "s1", "volume": "v1"})
        self.assertCode("volume.has_snapshots", self.array.delete_volume, "v1")
        self.array.create_host({"name": "h1", "iqns": ["iqn.2004-01.org.example:h1"]})
        self.array.create_mapping({"volume": "v1", "host": "h1"})
        self.assertCode("volume.mapped", self.array.delete_volume, "v1")
        self.assertCode("host.mapped", self.array.delete_host, "h1")
        self.array.delete_mapping("v1", host="h1")
        self.array.delete_volume("v1", cascade=True)
        self.assertEqual([], os.listdir(os.path.join(self.dir, "volumes")))
        self.assertEqual([], os.listdir(os.path.join(self.dir, "snapshots")))

    def test_masking_luns_and_groups(self):
        for name in ("a", "b", "c"):
            self.array.create_volume({"name": name, "size_gb": 1})
        self.array.create_host({"name": "h1", "iqns": ["iqn.2004-01.org.example:h1"]})
        self.array.create_host({"name": "h2", "wwpns": ["10:00:00:00:c9:12:34:56"]})
        self.assertCode("host.initiator_in_use", self.array.create_host,
                        {"name": "h3", "wwpns": ["10000000c9123456"]})  # fmt: skip
        self.assertEqual(1, self.array.create_mapping({"volume": "a", "host": "h1"})["lun"])
        self.assertEqual(2, self.array.create_mapping({"volume": "b", "host": "h1"})["lun"])
        # same pair again: idempotent, same LUN
        self.assertEqual(1, self.array.create_mapping({"volume": "a", "host": "h1"})["lun"])
        self.array.create_hostgroup({"name": "g", "hosts": ["h1", "h2"]})
        self.assertEqual(3, self.array.create_mapping({"volume": "c", "hostgroup": "g"})["lun"])
        view = self.array.export_view()
        target = view[self.array.target_iqn("h1")]
        self.assertEqual({1, 2, 3}, set(target["luns"]))
        self.assertEqual(["iqn.2004-01.org.example:h1"], target["acl"])
        self.assertNotIn(self.array.target_iqn("h2"), view)  # FC only: no iSCSI target
        self.array.create_host({"name": "h4", "iqns": ["iqn.2004-01.org.example:h4"]})
        self.assertNotIn(self.array.target_iqn("h4"), self.array.export_view())  # nothing mapped

    def test_chap_secret_is_hidden_unless_asked(self):
        chap = {"username": "u1", "secret": "s" * 12}
        self.array.create_host({"name": "h1", "iqns": ["iqn.2004-01.org.example:h1"],
                                "chap": chap})  # fmt: skip
        self.assertEqual("***", self.array.get_host("h1")["chap"]["secret"])
        self.assertEqual(chap, self.array.get_host("h1", secrets_too=True)["chap"])
        self.assertCode("chap.invalid", self.array.update_host, "h1",
                        {"chap": {"username": "u", "secret": "short"}})  # fmt: skip

    def test_state_survives_restart(self):
        self.array.create_volume({"name": "v1", "size_gb": 1})
        write(self.vol_path("v1"), 512, b"persist")
        self.array.create_snapshot({"name": "s1", "volume": "v1"})
        self.array.create_host({"name": "h1", "iqns": ["iqn.2004-01.org.example:h1"]})
        self.array.create_mapping({"volume": "v1", "host": "h1"})
        again = Array(self.dir)
        self.assertEqual(self.array.serial, again.serial)
        self.assertEqual(["s1"], again.get_volume("v1")["snapshots"])
        self.assertEqual(1, again.list_mappings(host="h1")[0]["lun"])
        self.assertEqual(b"persist", read(again.volume_path(again._volume("v1")), 512, 7))


class _TempDir:
    """A tiny fixture without pulling in another dependency's API surface."""

    def setUp(self):
        self._td = tempfile.TemporaryDirectory()
        self.path = self._td.name

    def cleanUp(self):
        self._td.cleanup()

    def getDetails(self):
        return {}
