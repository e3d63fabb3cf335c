"""The harness boots the real Zuul stack on loopback and stops it without leftovers."""

import os
import re
import subprocess
import tempfile

import testtools

from ci_tools.harness.procfs import proc_stats
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.zuul_daemons import zuul_venv

TRIVIAL_CONFIG = """
- pipeline:
    name: periodic
    manager: independent
    trigger:
      timer:
        - time: '0 0 * * *'
- job:
    name: base
    parent: null
- project:
    periodic:
      jobs:
        - base
"""

TENANT = """
- tenant:
    name: harness
    source:
      local:
        config-projects:
          - harness-config
"""


def sessions_alive(session_ids):
    """Processes whose session id is one of ours (each service leads its own session)."""
    return [
        pid for pid, fields in proc_stats() if fields[0] != "Z" and int(fields[3]) in session_ids
    ]


def listening_sockets(pids):
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            found.append(line.split()[3])
    return found


def git(*args, cwd):
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, check=True, capture_output=True,
    )  # fmt: skip


class TestZuulStack(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="stack-", dir="/tmp")
        os.chmod(self.work, 0o711)  # PostgreSQL runs as its own user
        self.addCleanup(subprocess.run, ["rm", "-rf", self.work])
        repos = os.path.join(self.work, "repos")
        src = os.path.join(repos, "harness-config")
        os.makedirs(os.path.join(src, "zuul.d"))
        with open(os.path.join(src, "zuul.d", "main.yaml"), "w") as f:
            f.write(TRIVIAL_CONFIG)
        git("init", "-q", "-b", "master", cwd=src)
        git("add", "-A", cwd=src)
        git("commit", "-qm", "init", cwd=src)
        self.tenant = os.path.join(self.work, "main.yaml")
        with open(self.tenant, "w") as f:
            f.write(TENANT)
        self.connections = {"local": {"driver": "git", "baseurl": f"file://{repos}"}}

    def test_boot_health_loopback_and_clean_stop(self):
        stack = ZuulStack(os.path.join(self.work, "w"), self.tenant, self.connections)
        self.addCleanup(stack.stop)
        stack.start()
        stack.wait_for_tenant("harness")
        self.assertEqual([], stack.config_errors("harness"))

        components = stack.api("components")
        for kind in ("scheduler", "executor", "web", "launcher"):
            states = [c["state"] for c in components.get(kind, [])]
            self.assertEqual(["running"], states, f"{kind} components: {components}")

        sessions = {s.process.pid for s in stack._started}
        pids = set(sessions_alive(sessions))
        sockets = listening_sockets(pids)
        self.assertTrue(sockets, "the stack listens on nothing?")
        for addr in sockets:
            self.assertRegex(addr, r"^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]):\d+$")

        logs = os.listdir(os.path.join(stack.work_dir, "logs"))
        for name in ("zookeeper", "postgres", "zuul-scheduler", "zuul-executor", "zuul-web"):
            self.assertIn(f"{name}.log", logs)
        # Zuul reached its database with a password that no log or state file shows
        self.assertIn(stack.postgres.password, stack.postgres.dburi)
        for name in logs + ["../stack.json"]:
            with open(os.path.join(stack.work_dir, "logs", name), errors="replace") as f:
                self.assertNotIn(stack.postgres.password, f.read(), name)

        stack.stop()
        self.assertEqual([], sessions_alive(sessions))

    def test_services_cli_up_status_down(self):
        """`ci-tools services up` stays up, `status` sees every service, `down` leaves nothing."""
        import json
        import sys
        import time

        import yaml

        work = os.path.join(self.work, "cli")
        conns = os.path.join(self.work, "connections.yaml")
        with open(conns, "w") as f:
            yaml.safe_dump(self.connections, f)
        cli = [sys.executable, "-m", "ci_tools.cli", "services"]
        log = open(os.path.join(self.work, "services-up.log"), "wb")
        self.addCleanup(log.close)
        up = subprocess.Popen(
            [*cli, "up", "--work-dir", work, "--tenant-config", self.tenant,
             "--connections", conns],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.addCleanup(self._stop_services_cli, up, work)
        state_path = os.path.join(work, "stack.json")
        deadline = time.monotonic() + 180
        state = {}
        while time.monotonic() < deadline and "supervisor_pid" not in state:
            self.assertIsNone(up.poll(), "services up exited early; see services-up.log")
            try:
                with open(state_path) as f:
                    state = json.load(f)
            except (OSError, ValueError):
                pass
            time.sleep(1)
        self.assertEqual(up.pid, state.get("supervisor_pid"))
        # It must still be up well after start (it died 2 s in on a misspelt call).
        time.sleep(5)
        self.assertIsNone(up.poll())

        status = subprocess.run([*cli, "status", "--work-dir", work],
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        self.assertEqual(0, status.returncode, status.stdout + status.stderr)
        self.assertEqual({"zookeeper", "postgresql", "scheduler", "executor", "web", "launcher"},
                         set(state["pids"]))  # fmt: skip
        for name in state["pids"]:
            self.assertRegex(status.stdout, rf"{name}\s+pid \d+: running")
        self.assertIn("zuul scheduler", status.stdout)

        down = subprocess.run([*cli, "down", "--work-dir", work],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        self.assertEqual(0, down.returncode, down.stdout + down.stderr)
        self.assertEqual(0, up.wait(10))
        pids = [p for p in state["pids"].values() if p]
        self.assertEqual([], sessions_alive(set(pids)))

    def _stop_services_cli(self, up, work):
        """After a failed assertion: stop what `services up` started, by session."""
        import json
        import signal

        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                up.wait(90)
            except subprocess.TimeoutExpired:
                up.kill()
        try:
            with open(os.path.join(work, "stack.json")) as f:
                sessions = {p for p in json.load(f)["pids"].values() if p}
        except (OSError, ValueError, KeyError):
            return
        for pid in sessions_alive(sessions):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
