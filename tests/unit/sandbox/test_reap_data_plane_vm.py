"""A killed sandbox's data-plane VM is found and stopped by the reaper, as
`ci-tools sandbox down` on stale state and the next `sandbox up` rely on.

A process stands in for QEMU with the data-plane VM's own command line (a
session of its own, as Guest.start runs it): the reaper knows it by the
sandbox's work dir on that line, with no state file."""

import os
import subprocess
import sys
import tempfile
import types

import testtools

from ci_tools.array import fcoe_vm
from ci_tools.sandbox import reaper

STATE = {"serial": "ab12cd34", "controllers": {"ct0": {"state": "online"},
                                               "ct1": {"state": "online"}}}  # fmt: skip


class ReapDataPlaneVMTest(testtools.TestCase):
    def test_the_reaper_stops_the_data_plane_vm_of_a_killed_sandbox(self):
        work = tempfile.mkdtemp()
        self.addCleanup(subprocess.run, ["rm", "-rf", work])
        image = types.SimpleNamespace(kernel="/k", initrd="/i", rootfs="/r")
        segment = types.SimpleNamespace(netns="cinder-ci-dp-test")
        guest = fcoe_vm.data_plane_vm(image, work, segment, STATE, os.path.join(work, "data"))
        argv = guest.argv([f"tap-dpa-{i}" for i in range(4)])
        # one NIC per array FC port, on the data plane's namespace
        self.assertEqual(4, sum(1 for a in argv if a.startswith("tap,id=")))
        self.assertEqual(["ip", "netns", "exec", "cinder-ci-dp-test"], argv[:4])
        stand_in = subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(120)", *argv],
            start_new_session=True,
        )  # fmt: skip
        self.addCleanup(lambda: stand_in.poll() is None and stand_in.kill())
        self.assertIn(stand_in.pid, reaper.sessions_of(work))
        self.assertEqual([], reaper.reap(work, grace=5))
        self.assertIsNotNone(stand_in.wait(10))
        self.assertEqual(set(), reaper.sessions_of(work))
