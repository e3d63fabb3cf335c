"""ZTSP onto a real cinder-volume: cable an array and DevStack-lite serves its backend.

The lab's Cinder node is a real DevStack-lite (``ci-tools ztsp lab up --cinder
devstack``): MariaDB, RabbitMQ, Keystone, Cinder API, scheduler and volume
under supervisord, deployed by ``roles/devstack-lite`` inside the node's
network namespace, with the refflash driver from ``drivers/refflash``. The
controller delivers the gold copy over SSH into ``cinder.conf.d/`` and runs
``supervisorctl restart c-vol``; what a user checks then goes through the
Cinder API (openstack CLI in the node's namespace) and the array's REST API.

It lives with the devstack tests, not with tests/functional/ztsp, because it
deploys into the same warm DevStack-lite (``$CI_KIT_ROOT/devstack-lite-test``:
a warm deploy takes tens of seconds, a cold one minutes): .stestr.conf
groups tests.functional.devstack on one worker, so it never runs while those
tests use that dest. The fast node-agent tests stay in tests/functional/ztsp.
"""

import json
import os
import subprocess
import time

from ci_tools.harness.procfs import proc_stats
from ci_tools.ztsp import lab as lab_mod
from tests.functional.ztsp.base import cli
from tests.functional.ztsp.test_controller import ControllerTestCase

ARRAY_VOLUMES = """
import json, sys, requests
url, user, password = sys.argv[1:4]
s = requests.Session()
r = s.post(url + "/api/v1/auth/login", json={"username": user, "password": password}, timeout=10)
r.raise_for_status()
s.headers["X-Auth-Token"] = r.json()["token"]
body = s.get(url + "/api/v1/volumes", timeout=10).json()
items = body.get("volumes", body) if isinstance(body, dict) else body
print(json.dumps([v.get("name", v) if isinstance(v, dict) else v for v in items]))
"""


class DevStackNodeTest(ControllerTestCase):
    lab_args = ("--cinder", "devstack")
    needs_node_agent = False
    # a warm deploy is ~45 s; pip runs when the last deploy had other packages
    lab_timeout = 600

    def setUp(self):
        super().setUp()
        self.stack = lab_mod.Lab.load(self.work).devstack()
        self.backend = f"ztsp-{self.array['serial'].lower()}"
        self.service_host = f"node1@{self.backend}"

    # -- what a user sees ---------------------------------------------------

    def volume_service(self):
        """(status, state) of cinder-volume on the backend, from the Cinder API."""
        for svc in self.stack.openstack("volume", "service", "list", "--service", "cinder-volume"):
            if svc["Host"] == self.service_host:
                return svc["Status"], svc["State"]
        return None

    def wait_for(self, what, check, timeout):
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail(f"{what} not within {timeout}s; c-vol log:\n{self.cvol_log()}")
            time.sleep(1)

    def cvol_log(self):
        try:
            with open(os.path.join(self.stack.dest, "logs", "c-vol.log"), errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError as exc:
            return str(exc)

    def create_volume(self, name):
        vol = self.stack.openstack("volume", "create", "--size", "1", "--type", self.backend, name)
        return self.wait_for(
            f"volume {name} available",
            lambda: (
                self.stack.openstack("volume", "show", vol["id"])["status"] == "available"
                and self.stack.openstack("volume", "show", vol["id"])
            ),
            timeout=90,
        )

    def array_volumes(self):
        with open(os.path.join(self.work, "arr1", "password")) as f:
            password = f.read()
        url = f"http://{self.array['mgmt_ip']}:{self.array['api_port']}"
        proc = self.in_ns(
            self.array["namespace"],
            [lab_mod.sys.executable, "-c", ARRAY_VOLUMES, url, "admin", password],
        )
        return json.loads(proc.stdout)

    def supervisorctl(self, *args):
        ctl = os.path.join(self.stack.venv, "bin", "supervisorctl")
        conf = os.path.join(self.stack.dest, "supervisord.conf")
        return subprocess.run(
            [ctl, "-c", conf, *args], capture_output=True, text=True, timeout=60
        ).stdout.strip()

    def cvol_pid(self):
        return int(self.supervisorctl("pid", "c-vol") or 0)

    # -- the test -------------------------------------------------------------

    def test_cable_serve_uncable_recable_on_cinder_volume(self):
        self.assertIn("DevStack-lite", self.up_out)
        self.assertIsNone(self.volume_service(), "no cinder-volume before any cable")
        self.assertIn("STOPPED", self.supervisorctl("status", "c-vol"))

        t0 = time.time()
        self.link("up")
        first = self.wait_event(1, timeout=120)
        self.assertEqual("serving", first["result"], first)
        self.assertEqual(self.backend, first["backend"])
        self.assertLess(first["marks"]["serving"] - t0, 30, "link up to c-vol serving")
        node = first["nodes"]["node1"][self.backend]
        self.assertEqual(("up", self.service_host), (node["state"], node["service"]))

        # the real cinder-volume reads the gold copy and serves the backend
        up_copy = self.gold_copy()
        self.assertIn(f"enabled_backends = {self.backend}\n", up_copy)
        self.assertEqual(0o600, os.stat(self.node["gold_copy"]).st_mode & 0o777)
        self.assertIn("RUNNING", self.supervisorctl("status", "c-vol"))
        self.assertEqual(("enabled", "up"), self.volume_service())
        vtype = self.stack.openstack("volume", "type", "show", self.backend)
        self.assertEqual({"volume_backend_name": self.backend}, vtype["properties"])

        volume = self.create_volume("ztsp-first")
        self.assertTrue(volume["os-vol-host-attr:host"].startswith(self.service_host + "#"))
        on_array = self.array_volumes()
        self.assertTrue(any(volume["id"] in name for name in on_array), on_array)

        # uncabled: c-vol stops serving the backend; the volume stays, in Cinder and on the array
        self.link("down")
        down = self.wait_event(2, timeout=60)
        self.assertEqual(("linkDown", "disabled"), (down["event"], down["result"]), down)
        down_copy = self.gold_copy()
        self.assertIn("enabled_backends = \n", down_copy)
        self.assertIn(f"[{self.backend}]", down_copy)
        # no backend left: c-vol is stopped, never started on cinder's LVM default
        self.assertIn("STOPPED", self.supervisorctl("status", "c-vol"))
        self.wait_for("service down", lambda: self.volume_service() == ("enabled", "down"), 40)
        still = self.stack.openstack("volume", "show", volume["id"])
        self.assertEqual("available", still["status"])
        self.assertEqual(on_array, self.array_volumes())
        self.assertEqual([], self.array_audit("volume.delete"))
        hosts_before = self.array_audit("host.create") + self.array_audit("hostgroup.create")

        # cabled again: the same gold copy, nothing new on the array, serving again
        self.link("up")
        again = self.wait_event(3, timeout=120)
        self.assertEqual(("serving", []), (again["result"], again["changes"]), again)
        self.assertEqual(up_copy, self.gold_copy())
        self.assertEqual(("enabled", "up"), self.volume_service())
        self.assertEqual(
            hosts_before, self.array_audit("host.create") + self.array_audit("hostgroup.create")
        )
        pid = self.cvol_pid()
        stamp = os.stat(self.node["gold_copy"]).st_mtime_ns

        # the switch repeats its linkUp: nothing written, c-vol not restarted
        sw = self.lab["switch"]
        self.in_ns(
            sw["namespace"],
            [
                "snmptrap",
                "-v2c",
                "-c",
                sw["community"],
                f"{self.lab['controller']['address']}:162",
                "",
                ".1.3.6.1.6.3.1.1.5.4",
                ".1.3.6.1.2.1.2.2.1.1.5",
                "i",
                str(first["if_index"]),
            ],
        )
        repeat = self.wait_event(4, timeout=60)
        self.assertEqual(
            ("unchanged", [], []), (repeat["result"], repeat["changes"], repeat["delivered"])
        )
        self.assertEqual(pid, self.cvol_pid())
        self.assertEqual(stamp, os.stat(self.node["gold_copy"]).st_mtime_ns)

        second = self.create_volume("ztsp-second")
        self.assertEqual(
            "available", self.stack.openstack("volume", "show", volume["id"])["status"]
        )
        names = self.array_volumes()
        self.assertTrue(any(second["id"] in name for name in names), names)
        self.assertEqual(len(on_array) + 1, len(names))
        self.assertEqual([], self.array_audit("volume.delete"))

        # lab down leaves no namespace, no supervisord, no service of the stack
        self.controller.stop()
        with open(os.path.join(self.stack.dest, "run", "supervisord.pid")) as f:
            supervisord = int(f.read().strip())
        cli("ztsp", "lab", "down", "--work-dir", self.work, timeout=180)
        prefix = self.lab["prefix"] + "-"
        self.assertEqual([], [ns for ns in lab_mod.existing_namespaces() if ns.startswith(prefix)])
        alive = {pid for pid, fields in proc_stats() if fields[0] != "Z"}
        self.assertNotIn(supervisord, alive)
        self.assertEqual([], stack_processes(self.stack.dest))

    def test_a_driver_that_fails_on_cinder_volume_is_rolled_back(self):
        # check_for_setup_error reads the pool: the array refuses it once
        self.in_ns(
            self.array["namespace"],
            [
                lab_mod.sys.executable,
                "-m",
                "ci_tools.cli",
                "array",
                "fault",
                "--data-dir",
                self.array["data_dir"],
                "--op",
                "pool.get",
                "--fail-next",
                "1",
                "--status",
                "503",
                "--code",
                "array.busy",
            ],
            cwd=lab_mod.REPO,
        )
        self.link("up")
        failed = self.wait_event(1, timeout=120)
        self.assertEqual(("failed", "deliver"), (failed["result"], failed["step"]), failed)
        self.assertIn("restart failed, previous gold copy restored", failed["error"])
        self.assertIn("driver failed to start", failed["error"])
        self.assertIn("array.busy", failed["error"])  # the driver's own reason
        # back to no gold copy: c-vol stopped, not left running on a backend it cannot serve
        self.assertFalse(os.path.exists(self.node["gold_copy"]))
        self.assertIn("STOPPED", self.supervisorctl("status", "c-vol"))

        self.link("down")
        self.wait_event(2, timeout=60)
        self.link("up")
        done = self.wait_event(3, timeout=120)
        self.assertEqual("serving", done["result"], done)
        self.assertEqual(("enabled", "up"), self.volume_service())


def stack_processes(dest):
    """Live processes whose command line names the stack's dir (its services)."""
    found = []
    for pid, fields in proc_stats():
        if fields[0] == "Z":
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if dest in cmdline and str(os.getpid()) != str(pid):
            found.append(f"{pid} {cmdline[:200]}")
    return found
