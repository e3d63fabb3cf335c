"""A private PostgreSQL cluster (Debian's server binaries) for Zuul's database.

Zuul needs PostgreSQL or MySQL; SQLite is not supported. PostgreSQL refuses to
run as root, so when we are root the cluster runs as the ``postgres`` user
created by Debian's package, in a directory it owns.
"""

import glob
import os
import pwd
import shutil
import subprocess

from ci_tools.errors import ServiceError
from ci_tools.harness.ports import free_port
from ci_tools.harness.process import ManagedProcess


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

    @property
    def dburi(self):
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *argv):
        try:
            return subprocess.run(
                [os.path.join(self.bindir, argv[0]), *argv[1:]],
                check=True, capture_output=True, text=True, user=self.run_as,
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
            if not os.access(self.dir, os.X_OK) or not _traversable_by(self.dir, pw.pw_uid):
                raise ServiceError(
                    f"{self.dir} is not reachable by the postgres user; use a work dir "
                    "whose parents are world-traversable (e.g. under /tmp or /var/tmp)"
                )
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8")

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
            "postgres", argv, self.log_path, user=self.run_as, healthy=self._healthy
        )
        self.process.start()
        self.process.wait_healthy(timeout=60)
        self._create_database()

    def _create_database(self):
        psql = [
            "psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
            "-v", "ON_ERROR_STOP=1", "-tAc",
        ]  # fmt: skip
        exists = self._run(*psql, f"SELECT 1 FROM pg_roles WHERE rolname='{self.user}'").stdout
        if not exists.strip():
            self._run(*psql, f"CREATE ROLE {self.user} LOGIN")
        exists = self._run(*psql, f"SELECT 1 FROM pg_database WHERE datname='{self.database}'")
        if not exists.stdout.strip():
            self._run(*psql, f"CREATE DATABASE {self.database} OWNER {self.user}")

    def stop(self):
        if self.process:
            self.process.stop()


def _traversable_by(path, uid):
    """Whether every parent of ``path`` lets ``uid`` (not root) pass through."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for i in range(2, len(parts)):
        parent = os.sep.join(parts[:i]) or os.sep
        st = os.stat(parent)
        if st.st_uid == uid:
            continue
        if not st.st_mode & 0o001:
            return False
    return True


def have_postgres():
    return bool(shutil.which("pg_isready") or glob.glob("/usr/lib/postgresql/*/bin/postgres"))
