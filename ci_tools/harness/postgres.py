"""A private PostgreSQL cluster (Debian's server binaries) for Zuul's database.

Zuul needs PostgreSQL or MySQL; SQLite is not supported. PostgreSQL refuses to
run as root, so when we are root the cluster runs as the ``postgres`` user
and group created by Debian's package (none of root's groups), in a
directory it owns.

Every connection needs a password (SCRAM-SHA-256; no ``trust`` line, local
or TCP): any user of the machine could otherwise connect as the superuser
and run programs as the server. The superuser's and Zuul's passwords are
generated once per work dir and kept in 0600 files there; the server only
ever receives SCRAM verifiers computed here, so neither password reaches
its log, and argv never carries one (psql reads them from the environment
and its SQL from stdin). Zuul's ``dburi`` carries its password;
``public_uri`` is the one to print.
"""

import base64
import glob
import hashlib
import hmac
import logging
import os
import pwd
import secrets
import shutil
import subprocess
import time
import urllib.parse

from ci_tools.errors import ServiceError
from ci_tools.harness.ports import free_port
from ci_tools.harness.process import ManagedProcess

LOG = logging.getLogger(__name__)


def pg_bindir():
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    if not candidates:
        raise ServiceError(
            "PostgreSQL server binaries not found: install `postgresql` (bindep.txt)"
        )
    return os.path.dirname(candidates[0])


class PostgreSQL:
    database = "zuul"
    user = "zuul"

    def __init__(self, work_dir):
        self.dir = os.path.join(work_dir, "postgres")
        self.data = os.path.join(self.dir, "data")
        self.socket_dir = os.path.join(self.dir, "run")
        self.log_path = os.path.join(work_dir, "logs", "postgres.log")
        self.port = None
        self.process = None
        self.run_as = "postgres" if os.geteuid() == 0 else None
        self.bindir = pg_bindir()
        self.superuser_password_file = os.path.join(self.dir, "postgres.password")
        self.password_file = os.path.join(self.dir, "zuul.password")

    @property
    def dburi(self):
        """Zuul's connection string, with its password: only for zuul.conf (0600)."""
        password = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{self.user}:{password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def public_uri(self):
        return f"postgresql://{self.user}:***@127.0.0.1:{self.port}/{self.database}"

    @property
    def password(self):
        return _read_or_create_password(self.password_file)

    def _identity(self):
        """subprocess arguments that drop to the postgres user and group, none of root's."""
        if not self.run_as:
            return {}
        pw = pwd.getpwnam(self.run_as)
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}

    def _run(self, *argv, input=None, env=None):
        try:
            return subprocess.run(
                [os.path.join(self.bindir, argv[0]), *argv[1:]],
                check=True, capture_output=True, text=True, input=input,
                env=dict(os.environ, **(env or {})), **self._identity(),
            )  # fmt: skip
        except subprocess.CalledProcessError as exc:
            raise ServiceError(
                f"{argv[0]} failed: {exc.stderr.strip() or exc.stdout.strip()}"
            ) from exc

    def _prepare(self):
        os.makedirs(self.socket_dir, exist_ok=True)
        if self.run_as:
            pw = pwd.getpwnam(self.run_as)
            for path in (self.dir, self.socket_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            # postgres must be able to traverse down to its directory
            if not os.access(self.dir, os.X_OK) or not _traversable_by(
                self.dir, pw.pw_uid, pw.pw_gid
            ):
                raise ServiceError(
                    f"{self.dir} is not reachable by the postgres user; use a work dir "
                    "whose parents it may traverse (world, or group postgres, as "
                    "ci_tools.harness.workdir makes them)"
                )
        owner = pwd.getpwnam(self.run_as) if self.run_as else None
        superuser = _read_or_create_password(self.superuser_password_file)
        _read_or_create_password(self.password_file)
        if os.path.exists(os.path.join(self.data, "PG_VERSION")) and not _scram_only(self.data):
            # A cluster from before password auth: set aside (nothing is
            # deleted), and a new one is made.
            aside = f"{self.data}.trust-{int(time.time())}"
            os.rename(self.data, aside)
            LOG.warning("PostgreSQL: a cluster without password auth moved to %s", aside)
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            pwfile = os.path.join(self.dir, ".initdb-pw")
            _write_private(pwfile, superuser, owner)
            try:
                self._run(
                    "initdb", "-D", self.data, "--auth=scram-sha-256", "-U", "postgres",
                    f"--pwfile={pwfile}", "-E", "UTF8",
                )  # fmt: skip
            finally:
                os.unlink(pwfile)
        # Password auth on every line, local socket included.
        with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
            f.write(PG_HBA)
        if owner:
            os.chown(os.path.join(self.data, "pg_hba.conf"), owner.pw_uid, owner.pw_gid)

    def _healthy(self):
        ready = subprocess.run(
            [os.path.join(self.bindir, "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True,
        )
        return ready.returncode == 0

    def start(self):
        self._prepare()
        self.port = free_port()
        argv = [
            os.path.join(self.bindir, "postgres"), "-D", self.data,
            "-h", "127.0.0.1", "-p", str(self.port), "-k", self.socket_dir,
            "-c", "fsync=off", "-c", "shared_buffers=32MB", "-c", "max_connections=100",
        ]  # fmt: skip
        self.process = ManagedProcess(
            "postgres", argv, self.log_path, healthy=self._healthy, **self._identity()
        )
        self.process.start()
        self.process.wait_healthy(timeout=60)
        self._create_database()

    def psql(self, sql, user="postgres", password=None, database="postgres"):
        """Run SQL (from stdin, never argv) as ``user``; return its unaligned output."""
        if password is None:
            password = _read_or_create_password(self.superuser_password_file)
        argv = [
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", database,
            "-v", "ON_ERROR_STOP=1", "-tA", "-f", "-",
        ]  # fmt: skip
        return self._run(*argv, input=sql, env={"PGPASSWORD": password}).stdout

    def _create_database(self):
        verifier = scram_verifier(self.password)
        exists = self.psql(f"SELECT 1 FROM pg_roles WHERE rolname='{self.user}'")
        verb = "ALTER" if exists.strip() else "CREATE"
        # Only the verifier reaches the server (and its log, should this fail).
        self.psql(f"{verb} ROLE {self.user} LOGIN PASSWORD '{verifier}'")
        exists = self.psql(f"SELECT 1 FROM pg_database WHERE datname='{self.database}'")
        if not exists.strip():
            self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def stop(self):
        if self.process:
            self.process.stop()


PG_HBA = """\
# Written by ci-tools: every connection authenticates with a password (SCRAM).
local   all   all                  scram-sha-256
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""


def _scram_only(data_dir):
    try:
        with open(os.path.join(data_dir, "pg_hba.conf")) as f:
            lines = [ln.split() for ln in f if ln.strip() and not ln.lstrip().startswith("#")]
    except OSError:
        return False
    return bool(lines) and all(ln[-1] == "scram-sha-256" for ln in lines)


def _write_private(path, text, owner=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    if owner:
        os.chown(path, owner.pw_uid, owner.pw_gid)


def _read_or_create_password(path, owner=None):
    if not os.path.exists(path):
        _write_private(path, secrets.token_urlsafe(24), owner)
    with open(path) as f:
        return f.read().strip()


def scram_verifier(password, salt=None, iterations=4096):
    """The SCRAM-SHA-256 verifier PostgreSQL stores (RFC 7677), computed client-side."""
    salt = salt or secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(raw):
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def _traversable_by(path, uid, gid):
    """Whether every parent of ``path`` lets ``uid`` with the one group ``gid``
    (the server runs with no other group) pass through."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts)):
        parent = os.sep.join(parts[:i]) or os.sep
        st = os.stat(parent)
        if st.st_uid == uid:
            if st.st_mode & 0o100:
                continue
            return False
        if st.st_gid == gid:
            if st.st_mode & 0o010:
                continue
            return False
        if not st.st_mode & 0o001:
            return False
    return True


def have_postgres():
    return bool(shutil.which("pg_isready") or glob.glob("/usr/lib/postgresql/*/bin/postgres"))
