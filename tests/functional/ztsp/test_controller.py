"""Cable an array in the lab: within seconds its backend serves on the Cinder node.

Real everything: snmpd's linkUp trap, lldpd's LLDP-MIB over AgentX, the
reference array's REST API on its management IP, OpenSSH to the node, and
the refflash driver loaded by Cinder's code from the delivered gold copy
(the node agent, in the Cinder venv).
"""

import json
import os
import time

from ci_tools.harness.process import ManagedProcess
from ci_tools.ztsp import lab as lab_mod
from tests.functional.ztsp.base import TOP, LabTestCase


class ControllerTestCase(LabTestCase):
    # the lab's default nodes run the node agent in the Cinder venv
    needs_node_agent = True

    def setUp(self):
        if self.needs_node_agent and not os.path.exists(lab_mod.default_cinder_python()):
            self.fail(f"{lab_mod.default_cinder_python()} missing: run tools/setup-cinder.sh")
        super().setUp()
        self.node = self.lab["nodes"][0]
        self.array = self.lab["arrays"][0]
        self.events_path = os.path.join(self.work, "ctl", "state", "events.jsonl")
        self.controller = ManagedProcess(
            "ztsp-controller",
            [
                "ip",
                "netns",
                "exec",
                self.lab["controller"]["namespace"],
                lab_mod.sys.executable,
                "-m",
                "ci_tools.cli",
                "ztsp",
                "controller",
                "--config",
                self.lab["controller"]["config"],
            ],
            os.path.join(self.work, "logs", "controller.log"),
            cwd=TOP,
            healthy=lambda: "listening for traps" in self.controller.tail(5),
        )
        self.addCleanup(self.controller.stop)
        self.controller.start()
        self.controller.wait_healthy(timeout=30, interval=0.1)

    def events(self):
        if not os.path.exists(self.events_path):
            return []
        with open(self.events_path) as f:
            return [json.loads(line) for line in f]

    def wait_event(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if len(events) >= count:
                return events[count - 1]
            time.sleep(0.1)
        self.fail(
            f"no event #{count} after {timeout}s; controller log:\n{self.controller.tail(40)}"
        )

    def gold_copy(self):
        with open(self.node["gold_copy"]) as f:
            return f.read()

    def node_backends(self):
        with open(os.path.join(self.node["state_dir"], "backends.json")) as f:
            return json.load(f)

    def on_node(self, command):
        """Run ``command`` on the node over SSH, as the controller reaches it."""
        with open(self.lab["controller"]["config"]) as f:
            node = lab_mod.yaml.safe_load(f)["nodes"][0]
        from ci_tools.ztsp.deliver import ssh_argv

        return self.in_ns(
            self.lab["controller"]["namespace"], ssh_argv(node) + [command], timeout=120
        )

    def array_audit(self, op):
        proc = self.in_ns(
            self.array["namespace"],
            [
                lab_mod.sys.executable,
                "-m",
                "ci_tools.cli",
                "array",
                "audit",
                "--data-dir",
                self.array["data_dir"],
                "--op",
                op,
            ],
            cwd=TOP,
        )
        return [json.loads(line) for line in proc.stdout.splitlines()]


class ControllerTest(ControllerTestCase):
    def create_volume(self, backend):
        agent = self.node["restart_command"].replace(" restart ", " create-volume ")
        out = self.on_node(f"{agent} --backend {backend} --size 1").stdout
        return json.loads(out.strip().splitlines()[-1])["volume"]

    def test_cable_serve_uncable_recable(self):
        t0 = time.time()
        self.link("up")
        first = self.wait_event(1)
        self.assertEqual("serving", first["result"], first)
        backend = first["backend"]
        self.assertEqual(f"ztsp-{self.array['serial'].lower()}", backend)
        self.assertEqual(
            [
                f"host ztsp-node1 created ({self.node['iqn']})",
                "host group ztsp-cinder created with ztsp-node1",
            ],
            first["changes"],
        )
        took = first["marks"]["serving"] - t0
        self.assertLess(took, 15, "link up to backend serving within seconds")
        self.assertLess(first["marks"]["trap"] - t0, 5)
        for step in ("discover", "secrets", "provision", "render", "deliver"):
            self.assertIn(step, first["steps"])
        self.assertIn("step deliver", self.controller.tail(40))

        self.assertEqual("up", self.node_backends()[backend]["state"])
        self.assertEqual("iSCSI", self.node_backends()[backend]["protocol"])
        up_copy = self.gold_copy()
        self.assertIn(f"enabled_backends = {backend}\n", up_copy)
        self.assertIn(f"san_ip = {self.array['mgmt_ip']}\n", up_copy)
        self.assertEqual(0o600, os.stat(self.node["gold_copy"]).st_mode & 0o777)
        log = self.controller.tail(200)
        password = [ln for ln in up_copy.splitlines() if ln.startswith("san_password")][0]
        self.assertNotIn(password.split(" = ", 1)[1], log)

        volume = self.create_volume(backend)
        created = [e["object"] for e in self.array_audit("volume.create")]
        self.assertIn(volume, created)

        # uncabled: the backend is disabled on the node, its volume stays on the array
        self.link("down")
        down = self.wait_event(2)
        self.assertEqual(
            ("linkDown", "disabled", backend), (down["event"], down["result"], down["backend"])
        )
        down_copy = self.gold_copy()
        self.assertIn("enabled_backends = \n", down_copy)
        self.assertIn(f"[{backend}]", down_copy)
        self.assertEqual({"state": "disabled"}, self.node_backends()[backend])
        self.assertEqual([], self.array_audit("volume.delete"))
        hosts_before = self.array_audit("host.create") + self.array_audit("hostgroup.create")

        # cabled again, twice: the same gold copies, nothing new on the array
        for cycle in (1, 2):
            self.link("up")
            again = self.wait_event(1 + 2 * cycle)
            self.assertEqual(("serving", []), (again["result"], again["changes"]), again)
            self.assertEqual(up_copy, self.gold_copy())
            self.assertEqual("up", self.node_backends()[backend]["state"])
            self.link("down")
            self.assertEqual("disabled", self.wait_event(2 + 2 * cycle)["result"])
            self.assertEqual(down_copy, self.gold_copy())
        self.assertEqual(
            hosts_before, self.array_audit("host.create") + self.array_audit("hostgroup.create")
        )
        self.assertEqual([], self.array_audit("volume.delete"))
        self.link("up")
        self.assertEqual("serving", self.wait_event(7)["result"])
        second = self.create_volume(backend)
        self.assertEqual({volume, second}, {e["object"] for e in self.array_audit("volume.create")})

    def test_repeated_link_up_trap_changes_nothing(self):
        self.link("up")
        self.assertEqual("serving", self.wait_event(1)["result"])
        stamp = os.stat(os.path.join(self.node["state_dir"], "backends.json")).st_mtime_ns
        copy = self.gold_copy()
        # the switch repeats its linkUp (same port, same community): a no-op
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
                str(first_if_index(self.events())),
            ],
        )
        repeat = self.wait_event(2)
        self.assertEqual(
            ("unchanged", [], []), (repeat["result"], repeat["changes"], repeat["delivered"])
        )
        self.assertEqual(copy, self.gold_copy())
        self.assertEqual(
            stamp, os.stat(os.path.join(self.node["state_dir"], "backends.json")).st_mtime_ns
        )


def first_if_index(events):
    return events[0]["if_index"]


class TwoArraysTwoNodesTest(ControllerTestCase):
    lab_args = ("--arrays", "2", "--nodes", "2")

    def read(self, path):
        with open(path) as f:
            return f.read()

    def test_every_node_gets_every_backend_and_one_uncabled_array_leaves_the_other(self):
        names = [f"ztsp-{a['serial'].lower()}" for a in self.lab["arrays"]]
        self.link("up", array=1)
        self.assertEqual("serving", self.wait_event(1)["result"])
        self.link("up", array=2)
        second = self.wait_event(2)
        self.assertEqual(("serving", names[1]), (second["result"], second["backend"]))
        self.assertEqual(["node1", "node2"], sorted(second["delivered"]))
        copies = [self.read(n["gold_copy"]) for n in self.lab["nodes"]]
        self.assertEqual(copies[0], copies[1])
        self.assertIn(f"enabled_backends = {','.join(sorted(names))}\n", copies[0])
        for node in self.lab["nodes"]:
            states = json.loads(self.read(os.path.join(node["state_dir"], "backends.json")))
            self.assertEqual({"up"}, {states[n]["state"] for n in names}, node["name"])

        self.link("down", array=1)
        down = self.wait_event(3)
        self.assertEqual(("disabled", names[0]), (down["result"], down["backend"]))
        for node in self.lab["nodes"]:
            states = json.loads(self.read(os.path.join(node["state_dir"], "backends.json")))
            self.assertEqual("disabled", states[names[0]]["state"])
            self.assertEqual("up", states[names[1]]["state"])
