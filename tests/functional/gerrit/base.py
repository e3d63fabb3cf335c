"""Shared setup: a running emulator in a temp dir, real clients around it."""

import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

import testtools

from ci_tools.gerrit.fixture import GerritEmulator

CHANGE_ID = "I0123456789abcdef0123456789abcdef01234567"


class StreamClient:
    """``ssh ... gerrit stream-events`` (OpenSSH) with its lines read in a thread."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(
            argv + ["gerrit", "stream-events"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.decode())
        self.lines.put(None)

    def next_event(self, type_, timeout=15):
        import json

        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {type_} event within {timeout}s") from None
            if line is None:
                raise AssertionError(
                    f"stream ended before {type_}: {self.proc.stderr.read().decode()}"
                )
            event = json.loads(line)
            if event["type"] == type_:
                return event

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)


class EmulatorTestCase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="gerrit-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.gerrit = GerritEmulator(os.path.join(self.work, "emu"))
        self.gerrit.start()
        self.addCleanup(self.gerrit.stop)
        self.gerrit.add_project("demo", description="Demo project")

    def keypair(self, name):
        path = os.path.join(self.work, name)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
        return path

    def stream(self, username="admin", key=None, count=1):
        """Stream clients, returned once the server counts them all connected."""
        before = self.gerrit.admin("health", method="GET")["stream_clients"]
        clients = []
        for _ in range(count):
            client = StreamClient(self.gerrit.ssh_argv(username, key))
            self.addCleanup(client.stop)
            clients.append(client)
        deadline = time.monotonic() + 15
        while self.gerrit.admin("health", method="GET")["stream_clients"] < before + count:
            if time.monotonic() > deadline:
                raise AssertionError("stream clients did not connect")
            time.sleep(0.1)
        return clients

    def git(self, *args, cwd=None, env=None, check=True):
        full_env = dict(os.environ, GIT_TERMINAL_PROMPT="0", **(env or {}))
        proc = subprocess.run(
            ["git", "-c", "user.name=Dev", "-c", "user.email=dev@example.com", *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
        )
        if check and proc.returncode:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    def git_ssh_env(self, username="admin", key=None):
        return {"GIT_SSH_COMMAND": " ".join(self.gerrit.ssh_argv(username, key)[:-1])}

    def ssh_url(self, username="admin", project="demo"):
        return f"ssh://{username}@127.0.0.1:{self.gerrit.ssh_port}/{project}"

    def ssh(self, *command, username="admin", key=None, input=None):
        return subprocess.run(
            self.gerrit.ssh_argv(username, key) + list(command),
            input=input,
            capture_output=True,
            text=True,
            timeout=30,
        )
