"""The trap receiver and the LLDP-MIB walk against the lab's real snmpd and lldpd."""

import json
import subprocess
import sys
import time

from tests.functional.ztsp.base import TOP, LabTestCase


class DiscoveryTest(LabTestCase):
    lab_args = ("--restart-command", "true")

    def test_link_up_trap_then_walk_identifies_the_array(self):
        sw = self.lab["switch"]
        proc = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.lab["controller"]["namespace"],
                sys.executable,
                "-m",
                "tests.functional.ztsp.discover",
                "--listen",
                self.lab["controller"]["address"],
                "--switch",
                sw["address"],
                "--community",
                sw["community"],
            ],
            cwd=TOP,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(proc.wait)
        self.addCleanup(proc.kill)
        self.assertEqual({"ready": True}, json.loads(proc.stdout.readline()))
        t0 = time.monotonic()
        self.link("up")
        line = proc.stdout.readline()
        self.assertTrue(line, proc.stderr.read() if proc.poll() is not None else "")
        trap = json.loads(line)
        self.assertEqual("linkUp", trap["trap"])
        found = json.loads(proc.stdout.readline() or proc.stderr.read())
        took = time.monotonic() - t0
        array = self.lab["arrays"][0]
        self.assertEqual(array["data_mac"], found["mac"])
        self.assertEqual(array["mgmt_ip"], found["mgmt_ip"])
        self.assertLess(took, 10)
        self.assertEqual(0, proc.wait(10))
