"""Bad input to the controller: clear log lines, and no gold copy reaches a node.

Spoofed traps (wrong source, wrong community), bytes that are not SNMP, an
LLDP neighbour that is not an array, wrong credentials in the secret store
and an array API error, each in a real lab.
"""

import json
import os
import subprocess
import sys

from tests.functional.ztsp.base import TOP
from tests.functional.ztsp.test_controller import ControllerTestCase

GARBAGE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"\\x30\\x82\\xff\\xffnot an snmp message", (sys.argv[1], 162))
"""


class BadInputTest(ControllerTestCase):
    lab_args = ("--servers", "1")

    def snmptrap(self, ns, community):
        target = f"{self.lab['controller']['address']}:162"
        self.in_ns(
            ns,
            [
                "snmptrap",
                "-v2c",
                "-c",
                community,
                target,
                "",
                ".1.3.6.1.6.3.1.1.5.4",
                ".1.3.6.1.2.1.2.2.1.1.5",
                "i",
                "5",
            ],
        )

    def test_spoofed_malformed_and_non_array_change_nothing(self):
        sw = self.lab["switch"]
        # the right community from the wrong host, the wrong community from the switch
        self.snmptrap(self.array["namespace"], sw["community"])
        self.snmptrap(sw["namespace"], "public")
        self.in_ns(
            sw["namespace"], [sys.executable, "-c", GARBAGE, self.lab["controller"]["address"]]
        )
        # a server (lldpd, "Debian GNU/Linux") cabled to the switch
        subprocess.run(
            ["ip", "-n", self.lab["servers"][0]["namespace"], "link", "set", "eth0", "up"],
            check=True,
        )
        ignored = self.wait_event(1)
        self.assertEqual("ignored", ignored["result"])
        self.assertIn("server-1", ignored["reason"])
        self.assertIn("does not match the array pattern", ignored["reason"])
        self.assertEqual(1, len(self.events()), "the bad traps made no event")
        log = self.controller.tail(100)
        self.assertIn(f"rejected: trap from {self.array['mgmt_ip']}: not a configured switch", log)
        self.assertIn(f"rejected: trap from {sw['address']}: wrong community (spoofed?)", log)
        self.assertIn(f"rejected: malformed SNMP message from {sw['address']}", log)
        self.assertIn("left alone", log)
        self.assertNotIn(sw["community"], log)
        self.assertFalse(os.path.exists(self.node["gold_copy"]))

    def test_wrong_credentials_then_array_error_deliver_nothing(self):
        store = os.path.join(self.work, "ctl", "secrets.json")
        with open(store) as f:
            good = json.load(f)
        bad = json.loads(json.dumps(good))
        bad["arrays"][self.array["data_mac"]]["password"] = "not-the-password"
        write_secret(store, bad)
        self.link("up")
        failed = self.wait_event(1)
        self.assertEqual(("failed", "provision"), (failed["result"], failed["step"]))
        self.assertIn(
            "refused the credentials of 'admin' from the secret store (auth.failed)",
            failed["error"],
        )
        self.assertNotIn("not-the-password", self.controller.tail(100))
        self.assertIn("provision failed", self.controller.tail(20))
        self.assertIn("nothing delivered", self.controller.tail(20))
        self.assertFalse(os.path.exists(self.node["gold_copy"]))

        write_secret(store, good)
        self.in_ns(
            self.array["namespace"],
            [
                sys.executable,
                "-m",
                "ci_tools.cli",
                "array",
                "fault",
                "--data-dir",
                self.array["data_dir"],
                "--op",
                "hostgroup.create",
                "--fail-next",
                "1",
                "--status",
                "503",
                "--code",
                "array.busy",
            ],
            cwd=TOP,
        )
        self.link("down")
        self.assertEqual("ignored", self.wait_event(2)["result"])  # nothing was set up there
        self.link("up")
        busy = self.wait_event(3)
        self.assertEqual(("failed", "provision"), (busy["result"], busy["step"]))
        self.assertIn("POST /hostgroups: HTTP 503 array.busy", busy["error"])
        self.assertFalse(os.path.exists(self.node["gold_copy"]))

        # once the array answers, the next cabling completes the job
        self.link("down")
        self.wait_event(4)
        self.link("up")
        done = self.wait_event(5)
        self.assertEqual("serving", done["result"], done)
        self.assertEqual(["host group ztsp-cinder created with ztsp-node1"], done["changes"])
        self.assertEqual("up", self.node_backends()[done["backend"]]["state"])


def write_secret(path, data):
    fd = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(path + ".new", path)


class NodeRollbackTest(ControllerTestCase):
    def test_a_node_that_cannot_serve_the_gold_copy_goes_back(self):
        # the driver's check_for_setup_error on the node reads the pool: make it fail once
        self.in_ns(
            self.array["namespace"],
            [
                sys.executable,
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
            cwd=TOP,
        )
        self.link("up")
        failed = self.wait_event(1)
        self.assertEqual(("failed", "deliver"), (failed["result"], failed["step"]))
        self.assertIn("restart failed, previous gold copy restored", failed["error"])
        self.assertIn("array.busy", failed["error"])
        self.assertFalse(os.path.exists(self.node["gold_copy"]))
        self.assertEqual({}, self.node_backends())  # restarted without the new backend

        self.link("down")
        self.wait_event(2)
        self.link("up")
        done = self.wait_event(3)
        self.assertEqual("serving", done["result"], done)
        self.assertEqual("up", self.node_backends()[done["backend"]]["state"])
