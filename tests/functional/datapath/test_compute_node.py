"""The data path for real: a QEMU guest with its own kernel attaches array volumes
through upstream os-brick over the data plane (iSCSI, multipath, CHAP).

One compute node (booted once for the class, TCG here, KVM where it works),
one array whose tgtd serves two portals inside the data-plane namespace. Each
test attaches as Nova would (connector properties, the driver's connection
info, connect_volume), moves bytes through the guest kernel's block device,
checks them on the array's backing file, detaches and checks the node holds
no session, SCSI disk or multipath map.
"""

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time

import testtools

from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness import node_image
from ci_tools.harness.array_rest import ArrayREST
from ci_tools.harness.compute_node import ComputeNode
from ci_tools.harness.data_plane import DataPlane, leftover_namespaces

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

BRICK = os.path.join(TOP, "roles", "data-path", "files", "brick_volume.py")
MIB = 1024 * 1024
GIB = 1024 * MIB


def pattern_sha256(mib, seed):
    """What brick-volume's write puts on the disk, computed here independently."""
    block = hashlib.sha256(seed.encode()).digest() * (MIB // 32)
    digest = hashlib.sha256()
    for i in range(mib):
        digest.update(block[i % 32 :] + block[: i % 32])
    return digest.hexdigest()


def file_sha256(path, mib):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for _ in range(mib):
            digest.update(f.read(MIB))
    return digest.hexdigest()


class ComputeNodeDataPathTest(testtools.TestCase):
    @classmethod
    def setUpClass(cls):
        for tool in ("qemu-system-x86_64", "mmdebstrap", "tgtd", "busybox"):
            if not shutil.which(tool):
                raise AssertionError(f"{tool} missing: run tools/test-setup.sh (bindep [test])")
        cls._tmp = tempfile.TemporaryDirectory()
        work = cls._tmp.name
        cls.image, _ = node_image.build()
        cls.plane = DataPlane().up()
        try:
            portals = ",".join(cls.plane.portal_ips)
            cls.array = ArrayFixture(
                os.path.join(work, "array"),
                extra_args=["--iscsi-netns", cls.plane.netns, "--iscsi-portal-ips", portals],
            ).start()
            cls.client = ArrayREST(cls.array)
            key = os.path.join(work, "id_node")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
            cls.node = ComputeNode(work, cls.image, cls.plane, [key + ".pub"], key).start()
            cls.node.copy_to(BRICK, "/tmp/brick_volume.py")
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def _teardown(cls):
        for part in ("node", "array"):
            obj = getattr(cls, part, None)
            if obj is not None:
                obj.stop()
        cls.plane.down()
        cls._tmp.cleanup()

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    def setUp(self):
        super().setUp()
        # A failed test may leave a session behind: the next one starts clean.
        self.addCleanup(
            self.node.ssh,
            "iscsiadm -m node -u; iscsiadm -m node -o delete; multipath -F; true",
            sudo=True, check=False,
        )  # fmt: skip

    # -- helpers ------------------------------------------------------------

    def steps(self, *plan, multipath=False):
        """Run os-brick steps on the node in one process (brick_volume.py steps);
        fail on an unexpected error, return the steps' results."""
        result = self.node.ssh(
            "sudo -n python3 /tmp/brick_volume.py steps",
            input=json.dumps({"multipath": multipath, "steps": list(plan)}),
            check=False,
            timeout=600,
        )
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        done = json.loads(result.stdout.strip().splitlines()[-1])
        self.addDetail(f"steps-{self.getUniqueInteger()}", testtools.content.json_content(done))
        for step in done:
            self.assertNotIn("unexpected_success", step, done)
        last = done[-1]
        self.assertEqual(len(plan), len(done), f"stopped at {last['op']}: {last.get('error')}")
        return done

    def volume(self, name, size_gb=1):
        self.client.create_volume(name, size_gb=size_gb)
        self.addCleanup(self.client.delete_volume, name)
        return self.client.volume(name)

    def attach_info(self, volume, chap=False):
        """Map ``volume`` to the node's host, as the driver's initialize_connection does."""
        host = f"compute-{self.getUniqueInteger()}"
        chap_cred = {"username": host, "secret": secrets.token_hex(7)} if chap else None
        self.client.create_host(host, iqns=[self.node.initiator], chap=chap_cred)
        self.addCleanup(self.client.delete_host, host)
        lun = self.client.map(volume["name"], host)["lun"]
        self.addCleanup(self.client.unmap, volume["name"], host)
        conn = self.client.connection(host)["iscsi"]
        portals = conn["portals"]
        data = {
            "target_discovered": False,
            "target_iqn": conn["target_iqn"],
            "target_portal": portals[0],
            "target_lun": lun,
            "target_iqns": [conn["target_iqn"]] * len(portals),
            "target_portals": portals,
            "target_luns": [lun] * len(portals),
            "volume_id": volume["id"],
        }
        if chap:
            data.update(auth_method="CHAP", auth_username=conn["chap"]["username"],
                        auth_password=conn["chap"]["secret"])  # fmt: skip
        return {"driver_volume_type": "iscsi", "data": data}

    def backing_file(self, volume):
        return os.path.join(self.array.data_dir, "volumes", volume["id"] + ".img")

    CLEAN = {"sessions": [], "scsi_disks": [], "multipath_maps": []}

    def assertClean(self, step):
        self.assertEqual("leftovers", step["op"])
        self.assertEqual(self.CLEAN, {k: step[k] for k in self.CLEAN}, step)

    def paths(self):
        out = self.node.ssh("multipathd show paths format '%d %t %T'", sudo=True).stdout
        return [line.split() for line in out.splitlines()[1:] if line.strip()]

    # -- tests --------------------------------------------------------------

    def test_node_boots_its_own_kernel_with_an_initiator(self):
        uname = self.node.ssh("uname -r; lsmod").stdout
        self.assertIn(self.image.record["kernel"], uname.splitlines()[0])
        self.assertIn("iscsi_tcp", uname)
        self.assertNotEqual(os.uname().release, uname.splitlines()[0])
        addrs = self.node.ssh("ip -4 -o addr show").stdout
        for addr in self.node.data_addrs:
            self.assertIn(addr, addrs)
        (props,) = self.steps({"op": "connector"})
        self.assertEqual(self.node.initiator, props["initiator"])

    def test_write_read_through_the_kernel_initiator_matches_the_array(self):
        vol = self.volume("dp-rw")
        info = self.attach_info(vol)
        mib, seed = 16, "dp-rw"
        connect, wrote, read, _, left = self.steps(
            {"op": "connect", "info": info},
            {"op": "write", "mib": mib, "seed": seed},
            {"op": "read", "mib": mib},
            {"op": "disconnect"},
            {"op": "leftovers"},
        )
        # a SCSI disk of the guest's kernel, the array's LUN (tgtd's NAA id)
        self.assertTrue(connect["realpath"].startswith("/dev/sd"), connect)
        self.assertTrue(connect["scsi_wwn"], connect)
        expected = pattern_sha256(mib, seed)
        self.assertEqual(expected, wrote["sha256"])
        self.assertEqual(expected, read["sha256"])
        # The array's side: the same blocks in the volume's backing file.
        self.assertEqual(expected, file_sha256(self.backing_file(vol), mib))
        self.assertClean(left)
        self.addDetail("figures", testtools.content.json_content(
            {"attach_s": connect["seconds"], "write_mb_s": wrote["mb_per_s"],
             "read_mb_s": read["mb_per_s"]}))  # fmt: skip

    def exists_on_node(self, path, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.node.ssh(f"test -e {path}", check=False).returncode == 0:
                return True
            time.sleep(1)
        return False

    def test_multipath_survives_a_path_down_and_restores_it(self):
        vol = self.volume("dp-mp")
        info = self.attach_info(vol)
        marks = {m: f"/tmp/dp-mp-{m}" for m in ("connected", "go", "written", "go2")}
        self.node.ssh("rm -f /tmp/dp-mp-*", sudo=True)
        plan = {"multipath": True, "steps": [
            {"op": "connect", "info": info},
            {"op": "mark", "path": marks["connected"]},
            {"op": "wait", "path": marks["go"]},
            {"op": "write", "mib": 8, "seed": "dp-mp"},
            {"op": "mark", "path": marks["written"]},
            {"op": "wait", "path": marks["go2"]},
            {"op": "read", "mib": 8},
            {"op": "disconnect"},
            {"op": "leftovers"},
        ]}  # fmt: skip
        proc = subprocess.Popen(
            self.node.ssh_argv() + ["sudo -n python3 /tmp/brick_volume.py steps"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.addCleanup(proc.kill)
        proc.stdin.write(json.dumps(plan))
        proc.stdin.close()
        proc.stdin = None  # communicate() below only reads
        try:
            self.assertTrue(self.exists_on_node(marks["connected"], 300), "no multipath attach")
            self.assertEqual(2, len(self.paths()), self.paths())
            self.plane.set_path(1, up=False)
            self.node.ssh(f"touch {marks['go']}", sudo=True)
            # I/O goes on over the other path; the dead one fails after
            # replacement_timeout (5 s in the image)
            self.assertTrue(self.exists_on_node(marks["written"], 180), "I/O stopped")
            # and multipathd marks the dead path (its checker may see it after
            # the write went through on the live one)
            deadline = time.monotonic() + 60
            while "faulty" not in [p[2] for p in self.paths()]:
                self.assertLess(time.monotonic(), deadline, f"no faulty path: {self.paths()}")
                time.sleep(2)
        finally:
            self.plane.set_path(1, up=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if [p[2] for p in self.paths()] == ["ready", "ready"]:
                break
            time.sleep(3)
        restored = [p[2] for p in self.paths()]
        self.node.ssh(f"touch {marks['go2']}", sudo=True)
        out, err = proc.communicate(timeout=300)
        self.assertEqual(0, proc.returncode, err[-3000:])
        done = json.loads(out.strip().splitlines()[-1])
        self.addDetail("steps", testtools.content.json_content(done))
        self.assertEqual(len(plan["steps"]), len(done), done[-1])
        connect, wrote, read, left = done[0], done[3], done[6], done[8]
        self.assertIn("multipath_id", connect, connect)
        self.assertTrue(connect["realpath"].startswith("/dev/dm-"), connect)
        self.assertEqual(["ready", "ready"], restored)
        self.assertEqual(pattern_sha256(8, "dp-mp"), wrote["sha256"])
        self.assertEqual(wrote["sha256"], file_sha256(self.backing_file(vol), 8))
        self.assertEqual(wrote["sha256"], read["sha256"])
        self.assertClean(left)

    def test_chap_with_a_wrong_secret_fails_and_leaves_no_session(self):
        vol = self.volume("dp-chap")
        info = self.attach_info(vol, chap=True)
        wrong = json.loads(json.dumps(info))
        wrong["data"]["auth_password"] = "not-the-secret-0123"
        failed, left, _, _, left2 = self.steps(
            {"op": "connect", "info": wrong, "expect_error": True},
            {"op": "leftovers"},
            # the right secret then attaches: the failure was the secret, not the path
            {"op": "connect", "info": info},
            {"op": "disconnect"},
            {"op": "leftovers"},
        )
        self.assertIn("error", failed)
        self.assertClean(left)
        self.assertClean(left2)

    def test_online_extend_is_seen_by_os_brick(self):
        vol = self.volume("dp-ext", size_gb=1)
        info = self.attach_info(vol)
        self.steps({"op": "connect", "info": info})
        self.client.update_volume(vol["name"], size_gb=2)
        _, extend, _, left = self.steps(
            {"op": "connect", "info": info},
            {"op": "extend"},
            {"op": "disconnect"},
            {"op": "leftovers"},
        )
        self.assertEqual(2 * GIB, extend["size"])
        self.assertClean(left)


class NoLeftoverNamespaceTest(testtools.TestCase):
    def test_data_plane_down_removes_its_namespace(self):
        plane = DataPlane().up()
        self.assertIn(plane.netns, leftover_namespaces())
        plane.down()
        self.assertNotIn(plane.netns, leftover_namespaces())
