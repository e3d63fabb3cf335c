"""Zuul's PostgreSQL lets nobody in without a password and cannot read root's files.

Starts the harness's real PostgreSQL (Debian's server) and tries what a
local user or a SQL injection would: connect with no password, a wrong one,
over TCP and the unix socket; read a root-only file through the server
(``COPY ... FROM PROGRAM`` as the superuser); find a password in the
server's argv, log or the files a user may print.
"""

import os
import shutil
import subprocess
import tempfile

import testtools

from ci_tools.errors import ServiceError
from ci_tools.harness.postgres import PostgreSQL


def proc_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids


class TestPostgresForZuul(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("runs the server as the postgres user: needs root")
        self.work = tempfile.mkdtemp(prefix="pg-", dir="/var/tmp")
        os.chmod(self.work, 0o711)
        self.addCleanup(shutil.rmtree, self.work, True)
        self.pg = PostgreSQL(self.work)
        self.addCleanup(self.pg.stop)
        self.pg.start()

    def connect(self, user, password, host="127.0.0.1"):
        env = dict(os.environ, PGPASSWORD=password) if password is not None else dict(os.environ)
        env.pop("PGPASSFILE", None)
        env["PGPASSFILE"] = os.devnull
        return subprocess.run(
            [
                os.path.join(self.pg.bindir, "psql"),
                "-h",
                host,
                "-p",
                str(self.pg.port),
                "-U",
                user,
                "-d",
                "zuul",
                "-w",
                "-tAc",
                "SELECT current_user",
            ],
            capture_output=True,
            text=True,
            env=env,
            user="postgres",
            group="postgres",
            extra_groups=[],
        )

    def test_password_needed_on_every_path(self):
        for user in ("postgres", "zuul"):
            for host in ("127.0.0.1", self.pg.socket_dir):
                none = self.connect(user, None, host)
                self.assertNotEqual(0, none.returncode, f"{user} via {host} without password")
                self.assertIn("password", none.stderr)
                wrong = self.connect(user, "not-the-password", host)
                self.assertNotEqual(0, wrong.returncode, f"{user} via {host}, wrong password")
                self.assertIn("password authentication failed", wrong.stderr)
        ok = self.connect("zuul", self.pg.password)
        self.assertEqual("zuul", ok.stdout.strip(), ok.stderr)
        stored = self.pg.psql("SELECT rolpassword FROM pg_authid WHERE rolname='zuul'")
        self.assertTrue(stored.startswith("SCRAM-SHA-256$4096:"), stored[:20])
        with open(os.path.join(self.pg.data, "pg_hba.conf")) as f:
            self.assertNotIn("trust", f.read())

    def test_server_runs_without_roots_groups(self):
        ids = proc_ids(self.pg.process.pid)
        self.assertNotIn(0, ids["Uid"])
        self.assertNotIn(0, ids["Gid"])
        self.assertNotIn(0, ids["Groups"])
        # The probe: the superuser asks the server to read a root:root
        # 0640 file. Running as postgres:postgres, the server cannot.
        secret = os.path.join(self.work, "root-only.txt")
        with open(secret, "w") as f:
            f.write("root's secret\n")
        os.chmod(secret, 0o640)
        err = self.assertRaises(
            ServiceError,
            self.pg.psql,
            f"CREATE TEMP TABLE t (line text); COPY t FROM PROGRAM 'cat {secret}';"
            " SELECT * FROM t;",
        )
        self.assertIn('program "cat', str(err))
        self.assertIn("exit code 1", str(err))
        self.assertNotIn("root's secret", str(err))
        # control: the same query reads a file the postgres group may read
        os.chown(secret, 0, proc_ids(self.pg.process.pid)["Gid"][0])
        out = self.pg.psql(
            f"CREATE TEMP TABLE t (line text); COPY t FROM PROGRAM 'cat {secret}'; SELECT * FROM t;"
        )
        self.assertIn("root's secret", out)

    def test_passwords_kept_out_of_argv_logs_and_public_uri(self):
        self.assertIn(self.pg.password, self.pg.dburi)
        self.assertNotIn(self.pg.password, self.pg.public_uri)
        for path in (self.pg.password_file, self.pg.superuser_password_file):
            self.assertEqual(0o600, os.stat(path).st_mode & 0o777, path)
        with open(self.pg.superuser_password_file) as f:
            superuser = f.read().strip()
        with open(f"/proc/{self.pg.process.pid}/cmdline", "rb") as f:
            argv = f.read().decode()
        with open(self.pg.log_path) as f:
            log = f.read()
        for password in (self.pg.password, superuser):
            self.assertNotIn(password, argv)
            self.assertNotIn(password, log)
        # a restart reuses the cluster and its passwords
        self.pg.stop()
        self.pg.start()
        self.assertEqual("zuul", self.connect("zuul", self.pg.password).stdout.strip())
