"""``ci-tools health`` detects a stopped scheduler, a dropped stream and a silent CI.

The stream and silence checks run against the real Gerrit emulator with a
real OpenSSH ``gerrit stream-events`` client (what Zuul's watcher holds);
alerts go to a real command and a real webhook server on loopback.
"""

import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import testtools

from ci_tools.array.fixture import ArrayFixture
from ci_tools.gerrit.fixture import GerritEmulator
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.static_node import StaticNode
from ci_tools.harness.zuul_daemons import zuul_venv
from tests.functional.people.test_only_zuul_web import TestOnlyZuulWeb


def health(*args):
    return subprocess.run(
        [sys.executable, "-m", "ci_tools.cli", "health", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


class Webhook:
    """A loopback HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self):
        self.bodies = []
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/alert"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class TestZuulChecks(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.web = TestOnlyZuulWeb("refflash").start()
        self.addCleanup(self.web.stop)

    def test_stopped_scheduler_is_critical(self):
        proc = health("--zuul-web", self.web.url, "--tenant", "refflash")
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"OK\s+zuul\s+running: executor 1, launcher 1, merger 1")
        self.assertRegex(proc.stdout, r"OK\s+queue\s+0 items in pipelines, 0 events waiting")

        del self.web.components["scheduler"]
        proc = health("--zuul-web", self.web.url, "--tenant", "refflash", "--format", "json")
        self.assertEqual(2, proc.returncode)
        data = json.loads(proc.stdout)
        self.assertEqual("critical", data["state"])
        self.assertIn("zuul: no running scheduler (stopped or crashed)", data["summary"])

    def test_long_queue_warns_and_dead_web_is_critical(self):
        self.web.queued_items = 40
        self.web.trigger_events = 15
        proc = health("--zuul-web", self.web.url, "--tenant", "refflash", "--max-queue", "50")
        self.assertEqual(1, proc.returncode, proc.stdout)
        self.assertRegex(proc.stdout, r"WARNING\s+queue\s+40 items in pipelines, 15 events")
        url = self.web.url
        self.web.stop()
        proc = health("--zuul-web", url, "--tenant", "refflash", "--timeout", "2")
        self.assertEqual(2, proc.returncode)
        self.assertIn(f"zuul-web at {url} does not answer (ConnectionError)", proc.stdout)


TRIVIAL_CONFIG = """
- pipeline:
    name: periodic
    manager: independent
    trigger:
      timer:
        - time: '0 0 * * *'
"""

TENANT = """
- tenant:
    name: people
    source:
      local:
        config-projects:
          - people-config
"""


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        proc = check()
        if proc.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if proc.returncode:
        raise AssertionError(f"{what} within {timeout}s: {proc.stdout}{proc.stderr}")
    return proc


class TestRealZuul(testtools.TestCase):
    """A real Zuul whose event stream goes to the Gerrit emulator: Gerrit goes
    away and comes back, then the scheduler stops."""

    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="people-zuul-", dir="/tmp")
        os.chmod(self.work, 0o711)  # PostgreSQL runs as its own user
        self.addCleanup(shutil.rmtree, self.work, True)
        src = os.path.join(self.work, "repos", "people-config")
        os.makedirs(os.path.join(src, "zuul.d"))
        with open(os.path.join(src, "zuul.d", "main.yaml"), "w") as f:
            f.write(TRIVIAL_CONFIG)
        for args in (["init", "-q", "-b", "master"], ["add", "-A"], ["commit", "-qm", "init"]):
            subprocess.run(
                ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                cwd=src, check=True, capture_output=True,
            )  # fmt: skip
        self.tenant = os.path.join(self.work, "main.yaml")
        with open(self.tenant, "w") as f:
            f.write(TENANT)

    def test_dropped_stream_and_stopped_scheduler(self):
        gerrit = GerritEmulator(os.path.join(self.work, "emu")).start()
        self.addCleanup(gerrit.stop)
        gerrit.add_project("openstack/cinder")
        repos = os.path.join(self.work, "repos")
        stack = ZuulStack(
            os.path.join(self.work, "w"),
            self.tenant,
            {
                "local": {"driver": "git", "baseurl": f"file://{repos}"},
                "gerrit": gerrit.zuul_connection(rest=False),
            },
            services=("scheduler", "executor", "web"),
        )
        self.addCleanup(stack.stop)
        stack.start()
        stack.wait_for_tenant("people")
        ssh = f"127.0.0.1:{gerrit.ssh_port}"
        log = os.path.join(stack.work_dir, "logs", "zuul-scheduler.log")
        web = ["--zuul-web", stack.web_url, "--tenant", "people"]
        stream = ["--gerrit-ssh", ssh, "--scheduler-log", log]
        proc = wait_for(lambda: health(*web, "--gerrit-ssh", ssh), 60, "Zuul not healthy")
        self.assertRegex(proc.stdout, r"OK\s+zuul\s+running: executor 1, scheduler 1, web 1")
        self.assertRegex(proc.stdout, rf"OK\s+stream\s+connected to {ssh}")

        # Upstream goes away: the stream drops and cannot come back.
        gerrit.stop()
        deadline = time.monotonic() + 30
        while True:
            proc = health(*stream, "--format", "json")
            checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
            if checks["stream"].get("last_error") or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertIn(
            f"no connection to Gerrit's event stream at {ssh}", checks["stream"]["detail"]
        )
        self.assertIn("last stream error", checks["stream"]["detail"])

        # Back on the same ports: Zuul reconnects on its own (every 5 s) and sees events.
        gerrit.restart()
        wait_for(lambda: health("--gerrit-ssh", ssh), 60, "Zuul did not reconnect")
        gerrit.push_change("openstack/cinder", "master", {"a.py": "1\n"})
        proc = wait_for(lambda: health(*stream, "--max-event-age", "0.01"), 30, "no event seen")
        self.assertRegex(proc.stdout, r"OK\s+last-event\s+last event \d+s ago")

        # The scheduler stops: zuul-web no longer lists it, and its stream is gone too.
        stack.services["scheduler"].stop()
        deadline = time.monotonic() + 60
        while True:
            proc = health(*web, "--gerrit-ssh", ssh)
            if "no running scheduler" in proc.stdout or time.monotonic() > deadline:
                break
            time.sleep(1)
        self.assertEqual(2, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"CRITICAL\s+zuul\s+no running scheduler")
        self.assertRegex(proc.stdout, r"CRITICAL\s+stream\s+no connection")


class TestGerritChecks(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="people-health-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.gerrit = GerritEmulator(os.path.join(self.work, "emu")).start()
        self.addCleanup(self.gerrit.stop)
        self.gerrit.add_project("openstack/cinder")
        self.key = os.path.join(self.work, "ci_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key], check=True)
        self.gerrit.add_account(
            "refflash-ci", "Reference Flash RefFlash CI", "ci@example.com", self.key + ".pub"
        )
        # As upstream: CI accounts stream events through the "Third-Party CI" group.
        self.gerrit.add_group("Third-Party CI", members=["refflash-ci"])

    def stream_client(self):
        argv = self.gerrit.ssh_argv("refflash-ci", self.key) + ["gerrit", "stream-events"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        deadline = time.monotonic() + 15
        while self.gerrit.admin("health", method="GET")["stream_clients"] < 1:
            self.assertLess(time.monotonic(), deadline, "stream client did not connect")
            time.sleep(0.1)
        return proc

    def test_dropped_stream_is_critical(self):
        client = self.stream_client()
        ssh = f"127.0.0.1:{self.gerrit.ssh_port}"
        proc = health("--gerrit-ssh", ssh)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, rf"OK\s+stream\s+connected to {ssh}")

        self.gerrit.faults.drop_streams()
        client.wait(15)
        log = os.path.join(self.work, "zuul-scheduler.log")
        with open(log, "w") as f:
            f.write(
                "2026-11-23 10:00:00,001 DEBUG zuul.GerritConnection.ssh: Received data from "
                "Gerrit event stream: \n{'type': 'patchset-created'}\n"
                "2026-11-23 10:05:00,002 ERROR zuul.GerritConnection.ssh: Exception on ssh "
                "event stream with gerrit:\nTraceback (most recent call last):\n"
            )
        proc = health("--gerrit-ssh", ssh, "--scheduler-log", log, "--format", "json")
        self.assertEqual(2, proc.returncode, proc.stdout)
        checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
        self.assertEqual("critical", checks["stream"]["state"])
        self.assertIn(
            f"no connection to Gerrit's event stream at {ssh}", checks["stream"]["detail"]
        )
        self.assertIn("last stream error", checks["stream"]["detail"])
        self.assertEqual("ok", checks["last-event"]["state"])
        self.assertTrue(checks["last-event"]["at"].startswith("2026-11-23T"))

    def test_silent_ci_is_critical_and_alerts(self):
        webhook = Webhook()
        self.addCleanup(webhook.stop)
        alert_file = os.path.join(self.work, "alert.json")
        number, _, _ = self.gerrit.push_change("openstack/cinder", "master", {"a.py": "1\n"})
        self.gerrit.comment(number, "Build succeeded (RefFlash CI).", account="refflash-ci")
        args = [
            "--gerrit", self.gerrit.url, "--ci-account", "refflash-ci",
            "--project", "openstack/cinder", "--silent-hours", str(4 / 3600),
            "--alert-command", f"sh -c 'cat > {alert_file}'", "--alert-webhook", webhook.url,
        ]  # fmt: skip
        time.sleep(4.5)
        # Quiet upstream: nothing uploaded since our last comment.
        proc = health(*args)
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(proc.stdout, r"OK\s+last-comment\s+refflash-ci last commented \d+s ago")

        self.gerrit.new_patchset(number, {"a.py": "2\n"})
        proc = health(*args)  # uploaded a moment ago: not overdue yet
        self.assertEqual(0, proc.returncode, proc.stdout)
        self.assertFalse(os.path.exists(alert_file))

        time.sleep(4.5)
        proc = health(*args)
        self.assertEqual(2, proc.returncode, proc.stdout + proc.stderr)
        self.assertRegex(
            proc.stdout,
            rf"CRITICAL\s+silence\s+silent: 1 patchsets uploaded since our last comment "
            rf"have waited over 0.00111\d*h \(oldest: change {number},",
        )
        with open(alert_file) as f:
            sent = json.load(f)
        self.assertEqual("critical", sent["state"])
        self.assertIn("silence: silent: 1 patchsets", sent["summary"])
        self.assertEqual([sent], webhook.bodies)


class TestNodesAndArray(testtools.TestCase):
    """A real OpenSSH sshd (the sandbox's static node) and the reference array's API."""

    def test_node_and_array_reachable_then_not(self):
        work = tempfile.mkdtemp(prefix="people-nodes-", dir="/tmp")
        self.addCleanup(shutil.rmtree, work, True)
        os.chmod(work, 0o755)  # sshd reads authorized_keys as the node user
        key = os.path.join(work, "id_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        node = StaticNode(work, [key + ".pub"])
        node.start()
        self.addCleanup(node.stop)
        array = ArrayFixture(os.path.join(work, "array"), iscsi=False)
        array.start()
        self.addCleanup(array.stop)
        api = f"{array.url}/api/v1/system"

        proc = health("--node", f"127.0.0.1:{node.port}", "--array", api, "--format", "json")
        self.assertEqual(0, proc.returncode, proc.stdout + proc.stderr)
        checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
        self.assertTrue(checks[f"node:127.0.0.1:{node.port}"]["detail"].startswith("SSH-2.0-"))
        self.assertRegex(checks["array"]["detail"], rf"^{api} answered HTTP [1-4]\d\d$")

        node.stop()
        array.stop()
        proc = health("--node", f"127.0.0.1:{node.port}", "--array", api, "--timeout", "2")
        self.assertEqual(2, proc.returncode, proc.stdout)
        self.assertRegex(proc.stdout, rf"CRITICAL\s+node:127.0.0.1:{node.port}\s+unreachable")
        self.assertRegex(proc.stdout, rf"CRITICAL\s+array\s+{api} unreachable \(ConnectionError\)")
