"""ci-tools ztsp lab: real namespaces, lldpd, snmpd; a cabled array shows up on the switch."""

import subprocess
import sys
import time

from ci_tools.ztsp import lab as lab_mod
from tests.functional.ztsp.base import LabTestCase, cli

# linkUp's OID (1.3.6.1.6.3.1.1.5.4) as it appears BER-encoded in a trap
LINK_UP_BER = bytes.fromhex("2b06010603010105 04".replace(" ", ""))

LISTENER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 1162))
print("ready", flush=True)
s.settimeout(15)
while True:
    data, addr = s.recvfrom(65535)
    print(addr[0], data.hex(), flush=True)
"""


class LabTest(LabTestCase):
    lab_args = ("--restart-command", "true", "--trap-port", "1162")

    def walk(self, oid):
        return self.in_ns(
            self.lab["controller"]["namespace"],
            [
                "snmpwalk",
                "-v2c",
                "-c",
                self.lab["switch"]["community"],
                "-On",
                "-t",
                "1",
                "-r",
                "1",
                self.lab["switch"]["address"],
                oid,
            ],
        ).stdout

    def test_cabling_the_array_sends_link_up_and_shows_it_in_lldp_mib(self):
        array = self.lab["arrays"][0]
        self.assertIn(f"serial {array['serial']}", self.up_out)
        self.assertTrue(array["mgmt_ip"].startswith(lab_mod.SUBNET + "."), array)
        # not cabled yet: the switch has no neighbour
        self.assertNotIn("1.0.8802.1.1.2.1.4.1.1.5", self.walk("1.0.8802.1.1.2.1.4.1"))

        listener = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                self.lab["controller"]["namespace"],
                sys.executable,
                "-c",
                LISTENER,
                self.lab["controller"]["address"],
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        self.addCleanup(listener.wait)
        self.addCleanup(listener.kill)
        self.assertEqual("ready", listener.stdout.readline().strip())
        t0 = time.monotonic()
        self.link("up")
        source, payload = listener.stdout.readline().split()
        took = time.monotonic() - t0
        self.assertEqual(self.lab["switch"]["address"], source)
        self.assertIn(LINK_UP_BER, bytes.fromhex(payload))
        self.assertLess(took, 5, "linkUp trap within seconds")

        deadline = time.monotonic() + 10
        while True:
            rem = self.walk("1.0.8802.1.1.2.1.4")
            if "1.0.8802.1.1.2.1.4.2.1.3." in rem or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        mac = array["data_mac"].upper().replace(":", " ")
        # port id (subtype 3 = MAC) is the array's data port MAC; mgmt IP in the index
        self.assertRegex(rem, r"1\.0\.8802\.1\.1\.2\.1\.4\.1\.1\.6\.\d+\.\d+\.\d+ = INTEGER: 3")
        self.assertIn(f"Hex-STRING: {mac}", rem)
        self.assertIn(f"RefFlash reference array {array['serial']}", rem)
        self.assertIn(".1.4." + array["mgmt_ip"] + " = INTEGER", rem)

    def test_down_leaves_no_namespace_and_no_process(self):
        namespaces = self.lab["namespaces"]
        pids = []
        for ns in namespaces:
            out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            pids += [int(p) for p in out.stdout.split()]
        self.assertGreaterEqual(len(pids), 5)  # snmpd, 2 lldpd (+ privsep), array, sshd
        out = cli("ztsp", "lab", "down", "--work-dir", self.work).stdout
        self.assertIn(f"lab {self.lab['prefix']} down", out)
        self.assertFalse(set(namespaces) & lab_mod.existing_namespaces())
        self.assertEqual([], [p for p in pids if lab_mod._alive(p)])
        again = cli("ztsp", "lab", "down", "--work-dir", self.work, check=False)
        self.assertEqual(2, again.returncode)
        self.assertIn("no lab", again.stderr)
