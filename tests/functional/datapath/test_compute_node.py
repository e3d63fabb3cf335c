"""The data path for real: a QEMU guest with its own kernel attaches array volumes
through upstream os-brick over the data plane (iSCSI, multipath, CHAP): the
os-brick the jobs pin, in the data-path role's venv (data_path_venv), not the
node image's Debian package.

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
from ci_tools.harness import data_path_venv, node_image
from ci_tools.harness.array_rest import ArrayREST
from ci_tools.harness.compute_node import ComputeNode
from ci_tools.harness.data_plane import DataPlane, leftover_namespaces
from ci_tools.harness.playbook import playbook_argv_env

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

BRICK = os.path.join(TOP, "roles", "data-path", "files", "brick_volume.py")
# os-brick as the jobs run it: the role's venv (master's upper-constraints pin),
# not the node image's Debian package.
NODE_PYTHON = f"{data_path_venv.NODE_VENV}/bin/python"

# The data-path phase's shape (playbooks/tempest/run.yaml) around the role's
# boot check: state left on the node, a step that needs it, and the rescue.
RESTART_PLAYBOOK = """
- hosts: compute
  gather_facts: false
  tasks:
    - block:
        - ansible.builtin.include_role:
            name: data-path
            tasks_from: note-boot
        - name: Leave the phase's state on the node
          ansible.builtin.command: touch /tmp/phase-state
        - name: Hand over to the test
          ansible.builtin.copy:
            content: ready
            dest: "{{ work }}/ready"
          delegate_to: localhost
        - name: Wait while the test replaces the node
          ansible.builtin.wait_for:
            path: "{{ work }}/replaced"
            timeout: 400
          delegate_to: localhost
          when: replace | bool
        - name: A step that needs the phase's state
          ansible.builtin.command: test -e /tmp/phase-state
        - name: Fail the phase
          ansible.builtin.fail:
            msg: a step failed on the node it started on
      rescue:
        - ansible.builtin.include_role:
            name: data-path
            tasks_from: node-restarted
        - name: Reached when the node was not found restarted
          ansible.builtin.fail:
            msg: RESCUE-WITHOUT-RESTART
"""
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
        cls.venv = data_path_venv.build()
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
            data_path_venv.install(cls.node, cls.venv)
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
            f"sudo -n {NODE_PYTHON} /tmp/brick_volume.py steps",
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
        brick, props = self.steps({"op": "brick"}, {"op": "connector"})
        self.assertEqual(self.node.initiator, props["initiator"])
        # the os-brick the jobs pin, from the role's venv, runs the steps
        self.assertEqual(data_path_venv.pin("os-brick"), brick["version"], brick)
        self.assertTrue(brick["file"].startswith(data_path_venv.NODE_VENV + "/"), brick)

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
            self.node.ssh_argv() + [f"sudo -n {NODE_PYTHON} /tmp/brick_volume.py steps"],
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

    def run_phase(self, replace):
        """Run RESTART_PLAYBOOK with Zuul's Ansible and its SSH retries; with
        ``replace``, kill the node mid-phase and boot its replacement (same
        address, same host key), as the sandbox does with a lost node."""
        work = tempfile.mkdtemp(dir=self._tmp.name)
        playbook = os.path.join(work, "phase.yaml")
        with open(playbook, "w") as f:
            f.write(RESTART_PLAYBOOK)
        os.makedirs(os.path.join(work, "work"))
        open(os.path.join(work, "work", "results.json"), "w").close()
        compute = {
            "ansible_host": "127.0.0.1",
            "ansible_port": self.node.port,
            "ansible_user": self.node.user,
            "ansible_ssh_private_key_file": self.node.private_key,
            "ansible_python_interpreter": "/usr/bin/python3",
        }
        argv, env = playbook_argv_env(
            playbook, work, {"work": work, "replace": replace, "zuul": {"job": "dp-job"}},
            env={"ANSIBLE_SSH_RETRIES": "3", "ZUUL_JOBDIR": work},  # Zuul's executor: retries = 3
            hosts={"compute": compute},
        )  # fmt: skip
        with open(os.path.join(work, "phase.log"), "w") as log:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)
            try:
                deadline = time.monotonic() + 300
                while not os.path.exists(os.path.join(work, "ready")):
                    self.assertIsNone(proc.poll(), "the playbook ended before the hand-over")
                    self.assertLess(time.monotonic(), deadline, "no hand-over")
                    time.sleep(0.5)
                if replace:
                    self.node.replace()
                    # what setUpClass put on the node, for the tests after this one
                    self.node.copy_to(BRICK, "/tmp/brick_volume.py")
                    data_path_venv.install(self.node, self.venv)
                    open(os.path.join(work, "replaced"), "w").close()
                proc.wait(600)
            finally:
                if proc.poll() is None:
                    proc.kill()
        with open(os.path.join(work, "phase.log")) as f:
            output = f.read()
        self.addDetail(f"phase-{replace}", testtools.content.text_content(output))
        with open(os.path.join(work, "work", "results.json")) as f:
            text = f.read()
        warnings = json.loads(text)["data"]["zuul"]["warnings"] if text.strip() else []
        return proc.returncode, output, warnings

    def test_restarted_node_ends_the_phase_unreachable_not_failed(self):
        """A node replaced (or rebooted) mid-phase answers again at the same
        address with the same host key: the phase's rescue must see the new
        boot and end the build with the node unreachable (Zuul retries it),
        never as a failed step the change would be blamed for. The same
        failing step on the node it started on stays a failure."""
        code, output, warnings = self.run_phase(replace=False)
        self.assertEqual(2, code, output[-3000:])  # ansible-playbook: a task failed
        self.assertIn("RESCUE-WITHOUT-RESTART", output)
        self.assertEqual([], warnings)
        replacements = self.node.replacements
        code, output, warnings = self.run_phase(replace=True)
        self.assertEqual(replacements + 1, self.node.replacements)
        self.assertEqual(4, code, output[-3000:])  # ansible-playbook: a host unreachable
        self.assertNotIn("RESCUE-WITHOUT-RESTART", output)
        self.assertRegex(output, r"UNREACHABLE!.*Bad port '0'")
        self.assertEqual(1, len(warnings), warnings)
        self.assertRegex(
            warnings[0],
            r"^dp-job: INFRASTRUCTURE FAILURE: node compute restarted during the data-path "
            r"phase \(boot [0-9a-f]{8} became [0-9a-f]{8} while \"A step that needs the "
            r"phase's state\" ran\); not caused by this change\.$",
        )

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
