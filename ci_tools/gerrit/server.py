"""``ci-tools gerrit serve``: the SSH and HTTP front ends over one data dir.

Writes ``<data-dir>/server.json`` (ports, URL, pid) once both listen, so the
CLI and the fixture find a running emulator, and ``admin-token`` (mode 0600)
for the admin API. Listens on loopback only.
"""

import json
import logging
import os
import secrets
import signal
import threading

from ci_tools.gerrit.rest import RESTServer
from ci_tools.gerrit.service import Gerrit
from ci_tools.gerrit.sshd import SSHServer

LOG = logging.getLogger(__name__)
HOST = "127.0.0.1"


def admin_token(data_dir):
    path = os.path.join(data_dir, "admin-token")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(16))
    with open(path) as f:
        return f.read().strip()


def read_state(data_dir):
    """server.json of a running emulator, or None."""
    try:
        with open(os.path.join(data_dir, "server.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class EmulatorServer:
    def __init__(self, data_dir, ssh_port=29418, http_port=8080):
        self.data_dir = os.path.abspath(data_dir)
        os.makedirs(self.data_dir, exist_ok=True)
        self.gerrit = Gerrit(self.data_dir)
        self.gerrit.repos.install_hooks()
        for project in self.gerrit.store.projects():
            if self.gerrit.repos.exists(project["name"]):
                self.gerrit.repos.create(project["name"])  # refreshes hooks path and config
        self.ssh = SSHServer(
            self.gerrit, os.path.join(self.data_dir, "ssh_host_ed25519_key"), HOST, ssh_port
        )
        self.http = RESTServer(self.gerrit, admin_token(self.data_dir), HOST, http_port)
        self.gerrit.ssh_port = self.ssh.port
        self.gerrit.base_url = f"http://{HOST}:{self.http.server_address[1]}"
        self._threads = []

    @property
    def state(self):
        return {
            "pid": os.getpid(),
            "ssh_port": self.ssh.port,
            "http_port": self.http.server_address[1],
            "url": self.gerrit.base_url,
        }

    def start(self):
        for target in (self.ssh.serve_forever, self.http.serve_forever):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        path = os.path.join(self.data_dir, "server.json")
        with open(path + ".tmp", "w") as f:
            json.dump(self.state, f)
        os.replace(path + ".tmp", path)
        LOG.info(
            "gerrit emulator: ssh on %s:%s, http on %s", HOST, self.ssh.port, self.gerrit.base_url
        )
        return self

    def stop(self):
        try:
            os.unlink(os.path.join(self.data_dir, "server.json"))
        except OSError:
            pass
        self.gerrit.bus.drop_all()
        self.ssh.stop()
        self.http.shutdown()
        self.http.server_close()
        self.gerrit.store.close()

    def run(self):
        """Serve until SIGTERM or SIGINT."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *a: done.set())
        self.start()
        done.wait()
        LOG.info("gerrit emulator stopping")
        self.stop()
