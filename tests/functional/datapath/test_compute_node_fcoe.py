"""Fibre Channel from the sandbox's compute node: FCoE VN2VN on its data NIC.

The compute node the sandbox boots (the node image, its own kernel, QEMU
TCG here) and the array's data-plane VM (tcm_fc, kept equal to the REST API
by lio.py) share one bridge of the data-plane namespace, as the sandbox's
iSCSI portals do. The node's software FCoE port logs in to every FC target
port of the array; os-brick's FibreChannelConnector (the jobs' pin, from the
data-path role's venv, not the image's Debian package) attaches with the
connection the array gives the driver (target WWNs and the
initiator_target_map), bytes go through the node's kernel, and detach leaves
no SCSI disk and no by-path link. Nothing in /sys or os-brick is faked:
doc/fc-fcoe.rst.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time

import testtools
import testtools.content

from ci_tools.array import fcoe_vm
from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness import data_path_venv, node_image
from ci_tools.harness.compute_node import ComputeNode
from ci_tools.harness.data_plane import DataPlane

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BRICK = os.path.join(TOP, "roles", "data-path", "files", "brick_volume.py")
# os-brick as the jobs run it: the role's venv (master's upper-constraints pin),
# not the node image's Debian package.
NODE_PYTHON = f"{data_path_venv.NODE_VENV}/bin/python"
MIB = 1024 * 1024
CLEAN = {"sessions": [], "scsi_disks": [], "multipath_maps": [], "fc_links": []}


def pattern_sha256(mib, seed):
    """What brick_volume.py's write puts on the disk, computed here independently."""
    block = hashlib.sha256(seed.encode()).digest() * (MIB // 32)
    digest = hashlib.sha256()
    for i in range(mib):
        digest.update(block[i % 32 :] + block[: i % 32])
    return digest.hexdigest()


class ComputeNodeFCoETest(testtools.TestCase):
    figures = {}

    @classmethod
    def setUpClass(cls):
        tools = ("qemu-system-x86_64", "mmdebstrap", "busybox", "mke2fs", "cpio", "depmod")
        missing = [t for t in tools if not shutil.which(t)]
        if missing:
            raise AssertionError(f"missing {missing}: run tools/test-setup.sh (bindep [test])")
        cls._tmp = tempfile.TemporaryDirectory()
        work = cls._tmp.name
        cls.node = cls.dp = None
        cls.image, _ = node_image.build()
        cls.venv = data_path_venv.build()
        cls.fcoe_image = fcoe_vm.build_image()
        cls.plane = DataPlane(mtu=fcoe_vm.MTU).up()
        try:
            cls.array = ArrayFixture(os.path.join(work, "array"), iscsi=False).start()
            cls.api = cls.array.session()
            cls.base = cls.array.url + "/api/v1"
            with open(os.path.join(cls.array.data_dir, "state.json")) as f:
                state = json.load(f)
            from ci_tools.array import lio  # noqa: PLC0415

            cls.ports = lio.ports_of(state)
            key = os.path.join(work, "id_node")
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
            t0 = time.monotonic()
            # both guests boot at once: the array's on the first path's bridge
            cls.dp = fcoe_vm.data_plane_vm(
                cls.fcoe_image, work, cls.plane.segment(0), state, cls.array.data_dir
            ).start()
            cls.node = ComputeNode(work, cls.image, cls.plane, [key + ".pub"], key).start()
            cls.dp.wait_ready()
            cls.figures["boot_both_s"] = time.monotonic() - t0
            cls.dp.run(fcoe_vm.DATA_PLANE_SETUP, check=True)
            cls.dp.background(fcoe_vm.LIO_AGENT, "/tmp/lio.log")
            # zoned before its port comes up (VN2VN has no RSCN: doc/fc-fcoe.rst)
            cls.wwpn = cls.node.fcoe_wwpn(0)
            r = cls.api.post(cls.base + "/admin/fabric/logins", json={"wwpn": cls.wwpn})
            r.raise_for_status()
            zone = lio.colon_wwn(cls.wwpn)

            def zoned():
                acls = cls.dp.run("ls /sys/kernel/config/target/fc/*/tpgt_1/acls/")["out"]
                return acls.count(zone) == len(cls.ports)

            fcoe_vm.wait_for(zoned, 90, "the zone in LIO", cls.dp)
            t1 = time.monotonic()
            cls.fc_host = cls.node.enable_fcoe(0)
            fcoe_vm.wait_for(
                lambda: cls.online_targets() >= {p["wwpn"] for p in cls.ports},
                90, "FCoE login to every array port",
            )  # fmt: skip
            cls.figures["fcoe_login_s"] = time.monotonic() - t1
            cls.node.copy_to(BRICK, "/tmp/brick_volume.py")
            cls.figures["venv_install_s"] = data_path_venv.install(cls.node, cls.venv)
        except BaseException:
            cls._teardown()
            raise

    @classmethod
    def online_targets(cls):
        """Array WWPNs the node's FC port sees as an Online FCP target."""
        out = cls.node.ssh(
            "for r in /sys/class/fc_remote_ports/rport-*; do [ -e $r ] || continue; "
            'echo "${r##*/rport-} $(cat $r/port_name) $(cat $r/port_state) $(cat $r/roles)"; '
            "done",
            check=False,
        ).stdout
        found = set()
        for line in out.splitlines():
            name, wwpn, state, roles = line.split(" ", 3)
            if "host" + name.split(":")[0] == cls.fc_host and state == "Online":
                if "FCP Target" in roles:
                    found.add(wwpn.removeprefix("0x"))
        return found

    @classmethod
    def _cpu_seconds(cls, proc):
        """User + system CPU seconds of a QEMU process (and its threads) so far."""
        with open(f"/proc/{proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @classmethod
    def _teardown(cls):
        if cls.dp is not None and cls.dp.proc is not None and cls.dp.proc.poll() is None:
            # what the array's data-plane VM costs a 2-core host, idle 20 s
            # with lio.py polling (the question: boot it at sandbox up?)
            before = cls._cpu_seconds(cls.dp.proc)
            time.sleep(20)
            cls.figures["dp_idle_cpu_share"] = (cls._cpu_seconds(cls.dp.proc) - before) / 20
        for part in (cls.node, cls.dp):
            if part is not None:
                part.stop()
        if getattr(cls, "array", None) is not None:
            cls.array.stop()
        cls.plane.down()
        cls._tmp.cleanup()
        figures = {k: round(v, 2) if isinstance(v, float) else v for k, v in cls.figures.items()}
        print("compute node fcoe figures: " + json.dumps(figures))

    @classmethod
    def tearDownClass(cls):
        cls._teardown()

    # -- helpers ------------------------------------------------------------

    def setUp(self):
        super().setUp()
        # A failed test may leave a map or a disk behind: the next starts clean.
        self.addCleanup(self.node.ssh, "multipath -F; true", sudo=True, check=False)

    def steps(self, *plan):
        # The LUN shows through the array's four FC ports, four SCSI paths,
        # and the node runs multipathd: os-brick attaches through dm-multipath,
        # as Nova does on such a host (volume_use_multipath). Without it,
        # multipathd still builds a map of the four paths and the map outlives
        # os-brick's detach (seen here with the image's os-brick 6.1).
        result = self.node.ssh(
            f"sudo -n {NODE_PYTHON} /tmp/brick_volume.py steps",
            input=json.dumps({"multipath": True, "steps": list(plan)}),
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

    def mapped_in_lio(self, lun):
        out = self.dp.run("ls -d /sys/kernel/config/target/fc/*/tpgt_1/acls/*/lun_* 2>/dev/null")
        return out["out"].count(f"/lun_{lun}\n")

    def map_volume(self, name):
        """A volume mapped to the node's host, as the driver's initialize_connection
        does; returns (volume, connection_info as Cinder hands it to Nova)."""
        vol = self.api.post(self.base + "/volumes", json={"name": name, "size_gb": 1}).json()
        host = f"compute-{self.getUniqueInteger()}"
        r = self.api.post(self.base + "/hosts", json={"name": host, "wwpns": [self.wwpn]})
        self.assertEqual(200, r.status_code, r.text)
        self.addCleanup(self.api.delete, self.base + f"/hosts/{host}")
        t0 = time.monotonic()
        m = self.api.post(self.base + "/mappings", json={"volume": name, "host": host})
        self.assertEqual(200, m.status_code, m.text)
        self.addCleanup(self.api.delete, self.base + "/mappings",
                        params={"volume": name, "host": host})  # fmt: skip
        lun = m.json()["lun"]
        fcoe_vm.wait_for(lambda: self.mapped_in_lio(lun) == len(self.ports), 30, "the LUN in LIO")
        self.figures["map_to_lio_s"] = time.monotonic() - t0
        conn = self.api.get(self.base + f"/hosts/{host}/connection").json()
        data = {
            "target_discovered": False,
            "target_wwn": conn["fc"]["target_wwns"],
            "target_lun": lun,
            "initiator_target_map": conn["fc"]["initiator_target_map"],
            "volume_id": vol["id"],
        }
        return vol, {"driver_volume_type": "fibre_channel", "data": data}

    # -- tests --------------------------------------------------------------

    def test_node_logs_in_over_fcoe_and_os_brick_reports_its_wwpn(self):
        # the node's FC port sees every array port as an FCP target
        self.assertEqual({p["wwpn"] for p in self.ports}, self.online_targets())
        # what Nova hands Cinder: os-brick's connector properties name the port
        brick, props = self.steps({"op": "brick"}, {"op": "connector"})
        self.assertIn(self.wwpn, props.get("wwpns", []), props)
        # the os-brick the jobs pin, from the role's venv, runs the steps
        self.assertEqual(data_path_venv.pin("os-brick"), brick["version"], brick)
        self.assertTrue(brick["file"].startswith(data_path_venv.NODE_VENV + "/"), brick)

    def test_attach_write_read_detach_over_fcoe_matches_the_array(self):
        vol, info = self.map_volume("fc-rw")
        self.assertEqual([self.wwpn], list(info["data"]["initiator_target_map"]))
        mib, seed = 8, "fc-rw"
        connect, wrote, read, detach, left = self.steps(
            {"op": "connect", "info": info},
            {"op": "write", "mib": mib, "seed": seed},
            {"op": "read", "mib": mib},
            {"op": "disconnect"},
            {"op": "leftovers"},
        )
        self.figures.update(
            attach_s=connect["seconds"], detach_s=detach["seconds"],
            write_MBps=wrote["mb_per_s"], read_MBps=read["mb_per_s"],
        )  # fmt: skip
        # the node kernel's block device of the array's LUN: the multipath map,
        # or one of its paths when os-brick looked before multipathd built the
        # map (os-brick's own fallback); either way its WWN is LIO's for the
        # volume (the volume id is the unit serial)
        self.assertRegex(connect["realpath"], r"^/dev/(dm-|sd)", connect)
        self.assertIn(vol["id"].replace("-", "")[:8], connect.get("scsi_wwn", ""), connect)
        self.figures["attached_as"] = connect["realpath"]
        expected = pattern_sha256(mib, seed)
        self.assertEqual(expected, wrote["sha256"])
        self.assertEqual(expected, read["sha256"])
        with open(os.path.join(self.array.data_dir, "volumes", vol["id"] + ".img"), "rb") as f:
            on_array = hashlib.sha256(f.read(mib * MIB)).hexdigest()
        self.assertEqual(expected, on_array)
        self.assertEqual(CLEAN, {k: left[k] for k in CLEAN}, left)

    def test_failed_attach_leaves_nothing(self):
        # a LUN the array never mapped: os-brick scans, finds no device, fails
        _vol, info = self.map_volume("fc-fail")
        info["data"]["target_lun"] = 200
        connect, left = self.steps(
            {"op": "connect", "info": info, "expect_error": True},
            {"op": "leftovers"},
        )
        self.assertIn("NoFibreChannelVolumeDeviceFound", connect.get("error", ""), connect)
        self.assertEqual(CLEAN, {k: left[k] for k in CLEAN}, left)
        self.figures["failed_attach_s"] = connect["seconds"]
