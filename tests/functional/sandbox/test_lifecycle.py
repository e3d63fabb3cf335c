"""`ci-tools sandbox up` / `down` as a maintainer runs them from a shell:
a killed supervisor leaves nothing `down` cannot find, Ctrl-C stops every
part within 30 s, and a new `up` in the same work dir starts from clean state.
"""

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import testtools

from ci_tools.harness import workdir
from ci_tools.harness.zuul_daemons import zuul_venv
from ci_tools.sandbox import reaper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class TestLifecycle(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="lifecycle-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.addCleanup(reaper.reap, self.work)

    def cli(self, *args, **kw):
        return subprocess.run([sys.executable, "-m", "ci_tools.cli", "sandbox", *args,
                               "--work-dir", self.work], capture_output=True, text=True,
                              cwd=REPO, **kw)  # fmt: skip

    def start_up(self, log_name):
        # beside the work dir, not in it (``up`` owns that); shown on failure
        path = os.path.join(tempfile.gettempdir(), f"{os.path.basename(self.work)}-{log_name}")
        log = open(path, "w+")
        self.addCleanup(os.unlink, path)
        self.addCleanup(log.close)
        proc = subprocess.Popen(
            [sys.executable, "-m", "ci_tools.cli", "sandbox", "up", "--no-change",
             "--work-dir", self.work, "--repo", REPO],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
        )  # fmt: skip
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        state = os.path.join(self.work, "sandbox.json")
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                self.fail(f"sandbox up exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                with open(state) as f:
                    if json.load(f)["pid"] == proc.pid:
                        return proc, log
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(1)
        self.fail("sandbox up did not come up in 240 s")

    def assert_nothing_left(self):
        self.assertEqual(set(), reaper.sessions_of(self.work))
        self.assertEqual([], reaper.processes_with(self.work))

    def test_killed_supervisor_then_down_then_ctrl_c(self):
        # 1. The supervisor dies hard: its parts keep running ...
        proc, _ = self.start_up("first.log")
        parts = reaper.sessions_of(self.work)
        self.assertGreaterEqual(len(parts), 6, "gerrit, array, zookeeper, postgres, zuul, sshd")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        time.sleep(2)
        # (A part that reads from its parent may end with it; most do not.)
        self.assertGreaterEqual(len(reaper.sessions_of(self.work) & parts), 4)
        # ... and `down` finds and stops every one of them from the process table.
        down = self.cli("down", timeout=120)
        self.assertEqual(0, down.returncode, down.stdout + down.stderr)
        self.assertIn("is gone; stopping the parts it left", down.stdout)
        self.assert_nothing_left()
        self.assertFalse(os.path.exists(os.path.join(self.work, "sandbox.json")))
        # A second down: nothing to do, a clear error.
        again = self.cli("down", timeout=60)
        self.assertEqual(2, again.returncode)
        self.assertIn("no sandbox running", again.stderr)

        # 2. A new `up` in the same work dir comes up from clean Zuul state, and
        # Ctrl-C (SIGINT to its process group, as a terminal sends it) stops
        # every part within 30 s.
        proc, log = self.start_up("second.log")
        os.killpg(proc.pid, signal.SIGINT)
        start = time.monotonic()
        code = proc.wait(60)
        took = time.monotonic() - start
        log.seek(0)
        output = log.read()
        self.assertEqual(130, code, output[-3000:])
        self.assertLess(took, 30, output[-3000:])
        self.assertIn("everything stopped", output)
        self.assert_nothing_left()

    def assert_closed_to_other_users(self):
        """While up: only root, and PostgreSQL's server passing through, may enter."""
        mode, gid = workdir.expected_mode()
        st = os.lstat(self.work)
        self.assertEqual((os.geteuid(), mode), (st.st_uid, stat.S_IMODE(st.st_mode)),
                         workdir.describe(self.work))  # fmt: skip
        if gid is not None:
            self.assertEqual(gid, st.st_gid, workdir.describe(self.work))
        # The node user logs in through the sandbox's sshd, yet cannot list or
        # enter the work dir (its sshd config, Zuul's keys, the array's password).
        node = pwd.getpwnam("zuul")
        for argv in (["ls", self.work], ["cat", os.path.join(self.work, "sandbox.json")]):
            seen = subprocess.run(argv, capture_output=True, text=True, user=node.pw_uid,
                                  group=node.pw_gid, extra_groups=[])  # fmt: skip
            self.assertNotEqual(0, seen.returncode, seen.stdout)
            self.assertIn("Permission denied", seen.stderr)

    def test_up_refuses_a_running_sandbox_and_foreign_dirs(self):
        proc, _ = self.start_up("running.log")
        self.assert_closed_to_other_users()
        up = self.cli("up", "--no-change", "--once", timeout=60)
        self.assertEqual(2, up.returncode)
        self.assertIn(f"a sandbox runs in {self.work} (pid {proc.pid})", up.stderr)
        down = self.cli("down", timeout=120)
        self.assertEqual(0, down.returncode, down.stdout + down.stderr)
        self.assertEqual(128 + signal.SIGTERM, proc.wait(30))
        self.assert_nothing_left()

        os.chown(self.work, 65534, 65534)
        up = self.cli("up", "--no-change", "--once", timeout=60)
        self.assertEqual(2, up.returncode)
        self.assertIn("is not a directory of this user", up.stderr)
        self.assertEqual(65534, os.lstat(self.work).st_uid)  # refused, left alone

        # A link where the work dir should be: refused, its target untouched.
        target = tempfile.mkdtemp(prefix="lifecycle-target-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, target, True)
        shutil.rmtree(self.work)
        os.symlink(target, self.work)
        self.addCleanup(lambda: os.path.islink(self.work) and os.unlink(self.work))
        up = self.cli("up", "--no-change", "--once", timeout=60)
        self.assertEqual(2, up.returncode)
        self.assertIn("is not a directory of this user", up.stderr)
        self.assertEqual(0o700, stat.S_IMODE(os.stat(target).st_mode))
