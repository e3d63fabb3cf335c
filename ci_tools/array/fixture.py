"""Run a whole reference array (REST API + its tgtd) as a subprocess.

For tests and the sandbox::

    with ArrayFixture(work_dir) as array:
        session = array.session()          # a logged-in requests.Session
        array.url, array.username, array.password, array.iscsi_portals

Ports are picked free on 127.0.0.1 at start; :meth:`stop` stops the server,
which takes tgtd down with it (offline, delete targets, delete system), and
kills the process group if anything is left, so nothing keeps running.
"""

import json
import os
import secrets
import sys

import requests

from ci_tools.errors import ServiceError
from ci_tools.harness.ports import free_port
from ci_tools.harness.process import ManagedProcess


class SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connect from a given local address, e.g. 127.0.0.2: a second client on loopback."""

    def __init__(self, source, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


class ArrayFixture:
    def __init__(
        self,
        work_dir,
        name="refflash",
        pools=None,
        iscsi=True,
        password=None,
        extra_args=(),
        users=None,
        tls=None,
    ):
        self.work_dir = os.path.abspath(work_dir)
        self.data_dir = os.path.join(self.work_dir, "data")
        self.name = name
        self.pools = pools or {"pool-a": 100}
        self.iscsi = iscsi
        self.username = "admin"
        self.password = password or secrets.token_urlsafe(12)
        self.extra_args = list(extra_args)
        self.users = dict(users or {})  # name -> (role, password): more accounts
        self.tls = tls  # (cert, key) PEM paths: the API speaks HTTPS, trusted via the cert
        self.port = None
        self.iscsi_ports = []
        self.process = None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self):
        """requests' ``verify`` for this array: its certificate when it has one."""
        return self.tls[0] if self.tls else True

    @property
    def iscsi_portals(self):
        return [f"127.0.0.1:{p}" for p in self.iscsi_ports]

    @property
    def log_path(self):
        return os.path.join(self.work_dir, "array.log")

    def start(self, timeout=30.0):
        os.makedirs(self.data_dir, exist_ok=True)
        password_file = os.path.join(self.work_dir, "password")
        fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.password)
        if self.port is None:  # a restart on the same data dir keeps its ports
            self.port = free_port()
            self.iscsi_ports = [free_port(), free_port()] if self.iscsi else []
        argv = [
            sys.executable, "-m", "ci_tools.cli", "array", "serve",
            "--data-dir", self.data_dir,
            "--port", str(self.port),
            "--name", self.name,
            "--username", self.username,
            "--password-file", password_file,
            "--iscsi-ports", ",".join(map(str, self.iscsi_ports)) or "none",
        ]  # fmt: skip
        for pool, gb in self.pools.items():
            argv += ["--pool", f"{pool}:{gb}"]
        for user, (role, password) in sorted(self.users.items()):
            path = os.path.join(self.work_dir, f"password-{user}")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password)
            argv += ["--user", f"{user}:{role}:{path}"]
        if self.tls:
            argv += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        argv += self.extra_args
        endpoint = os.path.join(self.data_dir, "endpoint.json")
        if os.path.exists(endpoint):
            os.unlink(endpoint)

        def healthy():
            if not os.path.exists(endpoint):
                return False
            r = requests.get(f"{self.url}/api/v1/system", timeout=2, verify=self.verify)
            return r.status_code == 401

        self.process = ManagedProcess(
            f"array-{self.name}", argv, self.log_path, env=dict(os.environ), healthy=healthy
        )
        self.process.start()
        try:
            self.process.wait_healthy(timeout=timeout, interval=0.1)
        except ServiceError:
            self.stop()
            raise
        with open(endpoint) as f:
            self.serial = json.load(f)["serial"]
        return self

    def stop(self):
        if self.process is not None:
            self.process.stop(timeout=15)
            self.process = None

    def session(self, username=None, source_address=None):
        """A requests.Session logged in as the admin (or as one of ``users``)."""
        s = requests.Session()
        s.verify = self.verify
        if source_address:
            s.mount("http://", SourceAddressAdapter(source_address))
        password = self.users[username][1] if username else self.password
        r = s.post(
            f"{self.url}/api/v1/auth/login",
            json={"username": username or self.username, "password": password},
            timeout=10,
        )
        r.raise_for_status()
        s.headers["X-Auth-Token"] = r.json()["token"]
        return s

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
