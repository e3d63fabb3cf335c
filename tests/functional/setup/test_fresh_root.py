"""The README commands' install steps work on a fresh Debian 12, not just here.

CI runs on a machine where packages installed by hand earlier still exist, so
a missing install step passes here and fails for a new user (rsync, MariaDB
and RabbitMQ were missed that way). tools/fresh-root-check.sh runs
tools/test-setup.sh for the sandbox and test profiles in a minimal Debian root
and checks every program the kit runs for each is there.
"""

import os
import subprocess

import testtools
from testtools.content import text_content

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class TestFreshRoot(testtools.TestCase):
    def test_setup_installs_everything_in_a_fresh_root(self):
        if os.geteuid() != 0:
            self.fail("the fresh-root check needs root (chroot, bind mounts)")
        result = subprocess.run(["bash", os.path.join(TOP, "tools", "fresh-root-check.sh")],
                                capture_output=True, text=True, timeout=2400)  # fmt: skip
        out = result.stdout + result.stderr
        self.addDetail("fresh-root", text_content(out[-20000:]))
        self.assertEqual(0, result.returncode, out[-4000:])
        for profile in ("sandbox", "test"):
            self.assertIn(f"every program the {profile} profile runs is installed", out)
        self.assertIn("OK: both profiles set up from nothing", out)
