"""Issue 16's probes, tried as an attacker would, in one table: probe, tried, held.

Each probe attacks a real part: the log scrubber Ansible runs (the whole
post-run is driven in test_log_leaks), the sandbox's work dir and its
node's sshd as other local users, the harness's PostgreSQL, the Gerrit
emulator and the reference array as processes on loopback, and the vote
guard's decision on zuul-web build records. The test fails if any probe
does not hold, and prints the table either way (doc/security.rst shows it).

    python -m tests.functional.security.test_probes    # just the table
"""

import base64
import http.client
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import requests
import testtools
from testtools.content import text_content

from ci_tools.array.fixture import ArrayFixture, SourceAddressAdapter
from ci_tools.errors import UsageError
from ci_tools.gerrit.fixture import GerritEmulator
from ci_tools.harness import workdir
from ci_tools.harness.postgres import PostgreSQL
from ci_tools.harness.static_node import StaticNode
from ci_tools.watchers import vote_guard
from tests import leak_forms

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
SCRUB = os.path.join(REPO, "roles", "scrub-log-secrets", "library", "scrub_log_secrets.py")
KEYS = ["san_password", "password", "connection", "transport_url"]


def load_scrubber():
    spec = importlib.util.spec_from_file_location("scrub_log_secrets", SCRUB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(condition, why):
    if not condition:
        raise AssertionError(why)


class Probes:
    """Runs probes and keeps the table; ``work`` is a scratch dir."""

    def __init__(self, work):
        self.work = work
        self.rows = []
        self.cleanups = []

    def run(self, area, probe, tried, fn):
        try:
            fn()
            held = "yes"
        except AssertionError as exc:
            held = f"NO: {exc}"
        self.rows.append((area, probe, tried, held))

    def table(self):
        head = ("area", "probe", "tried", "held")
        widths = [max(len(r[i]) for r in [head, *self.rows]) for i in range(4)]
        line = "  ".join("=" * w for w in widths)
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [line, fmt.format(*head), line]
        out += [fmt.format(*row) for row in self.rows]
        return "\n".join([*out, line])

    def failures(self):
        return [r for r in self.rows if r[3] != "yes"]

    def close(self):
        for fn in reversed(self.cleanups):
            fn()

    def all(self):
        # The work dir as the sandbox makes its own (root:postgres 0710).
        workdir.private_work_dir(self.work)
        self.logs()
        self.host()
        self.postgres()
        self.gerrit()
        self.array()
        self.vote_guard()

    # -- logs ------------------------------------------------------------------

    def logs(self):
        scrub = load_scrubber()
        forms = leak_forms.LeakForms()
        root = os.path.join(self.work, "logs")
        for rel, data in forms.files.items():
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        outside = os.path.join(self.work, "scrub-secrets.txt")
        with open(outside, "w") as f:
            f.write("OUTSIDE-THE-TREE\n")
        os.symlink(outside, os.path.join(root, "logs", "c-api.log.1"))
        os.symlink(self.work, os.path.join(root, "logs", "executor"))
        values = scrub.read_values([forms.listed], [], {"array": {"san_password": forms.job}})
        result = scrub.scrub_tree(root, values, KEYS, "***")

        def forms_masked():
            left = leak_forms.survivors(forms, root)
            check(not left, f"{len(left)} survived: {', '.join(sorted(left))}")
            check(not result["leaks"], f"scan found {sorted(result['leaks'])}")

        self.run(
            "logs",
            "secret forms in a job's logs",
            f"{len(forms.needles)} forms (encoded, escaped, split, compressed, truncated, "
            "in names; job secret, listed and unlisted values)",
            forms_masked,
        )

        def links_dropped():
            view = leak_forms.published_view(root)
            found = [
                p for p, d in view.items() if b"OUTSIDE-THE-TREE" in d or d.startswith(b"LINK")
            ]
            check(not found, f"published: {found}")
            check(len(result["dropped"]) == 2, f"dropped {result['dropped']}")

        self.run(
            "logs",
            "links out of the log tree",
            "a file link and a dir link to executor files",
            links_dropped,
        )

        def binary_fails():
            sub = os.path.join(self.work, "binary")
            os.makedirs(sub)
            with open(os.path.join(sub, "tempest.subunit"), "wb") as f:
                f.write(b"\xb3\x29\x00" + base64.b64encode(forms.job.encode()))
            leaks = scrub.scrub_tree(sub, values, KEYS, "***")["leaks"]
            check(list(leaks) == ["tempest.subunit"], f"leaks {leaks}")

        self.run(
            "logs",
            "a secret the scrubber cannot rewrite",
            "base64 of the job secret in a binary subunit stream",
            binary_fails,
        )

    # -- the host that runs the sandbox ---------------------------------------------

    def host(self):
        def as_user(name, argv):
            pw = pwd.getpwnam(name)
            return subprocess.run(argv, capture_output=True, text=True, user=pw.pw_uid,
                                  group=pw.pw_gid, extra_groups=[])  # fmt: skip

        def closed_dir():
            mode, gid = workdir.expected_mode()
            st = os.lstat(self.work)
            check(st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) == mode
                  and gid in (None, st.st_gid), workdir.describe(self.work))  # fmt: skip
            for user in ("zuul", "nobody"):
                check(as_user(user, ["ls", self.work]).returncode != 0, f"{user} lists it")
            # In its place: a link, a dir of another user. Both refused, left alone.
            spot = tempfile.mkdtemp(prefix="probe-spot-", dir="/var/tmp")
            self.cleanups.append(lambda: shutil.rmtree(spot, True))
            link, foreign = os.path.join(spot, "link"), os.path.join(spot, "foreign")
            os.symlink(spot, link)
            os.mkdir(foreign)
            os.chown(foreign, 65534, 65534)
            for path in (link, foreign):
                try:
                    workdir.private_work_dir(path)
                except UsageError:
                    continue
                raise AssertionError(f"accepted {path}")
            check(os.lstat(foreign).st_uid == 65534, "another user's dir taken over")

        self.run(
            "host",
            "other local users in the sandbox work dir",
            "list it as zuul and nobody; a link or another user's dir in its place",
            closed_dir,
        )

        key = os.path.join(self.work, "executor-key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        node = StaticNode(self.work, [key + ".pub"])
        node.start()
        self.cleanups.append(node.stop)

        def node_user():
            with open(os.path.join(node.dir, "sshd_config")) as f:
                config = f.read()
            check("StrictModes yes\n" in config, "StrictModes is off")
            ssh = subprocess.run(
                ["ssh", "-i", key, "-p", str(node.port), "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "zuul@127.0.0.1", f"id -un; cat {node.dir}/sshd_config"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            check(ssh.stdout.startswith("zuul\n"), f"no login as zuul: {ssh.stderr[-300:]}")
            check(ssh.returncode != 0 and "Permission denied" in ssh.stderr,
                  "the node user reads the sshd config in the work dir")  # fmt: skip

        self.run(
            "host",
            "the node user reaches the sandbox's own files",
            "log in as zuul through the node's sshd (StrictModes on), read its config",
            node_user,
        )

    # -- PostgreSQL --------------------------------------------------------------

    def postgres(self):
        # Starts in the 0710 work dir: the server passes through by its group.
        pg = PostgreSQL(os.path.join(self.work, "pg"))
        self.cleanups.append(pg.stop)
        pg.start()

        def psql(user, password, host="127.0.0.1"):
            env = dict(os.environ, PGPASSFILE=os.devnull)
            if password is not None:
                env["PGPASSWORD"] = password
            return subprocess.run(
                [
                    os.path.join(pg.bindir, "psql"),
                    "-h",
                    host,
                    "-p",
                    str(pg.port),
                    "-U",
                    user,
                    "-d",
                    "zuul",
                    "-w",
                    "-tAc",
                    "SELECT 1",
                ],
                capture_output=True,
                text=True,
                env=env,
                user="postgres",
                group="postgres",
                extra_groups=[],
            )

        def no_password():
            for user in ("postgres", "zuul"):
                for host in ("127.0.0.1", pg.socket_dir):
                    for password in (None, "guess"):
                        r = psql(user, password, host)
                        check(r.returncode != 0, f"{user} in via {host} with {password!r}")
            check(psql("zuul", pg.password).returncode == 0, "Zuul's own password refused")

        self.run(
            "PostgreSQL",
            "local user connects without Zuul's password",
            "postgres and zuul, TCP and socket, no or a wrong password",
            no_password,
        )

        def copy_program():
            secret = os.path.join(self.work, "root-only")
            with open(secret, "w") as f:
                f.write("root only\n")
            os.chmod(secret, 0o640)
            try:
                pg.psql(f"CREATE TEMP TABLE t (l text); COPY t FROM PROGRAM 'cat {secret}';")
            except Exception as exc:  # noqa: BLE001 - ServiceError carries psql's error
                check("root only" not in str(exc), "file content in the error")
                return
            raise AssertionError("the server read a root:root 0640 file")

        self.run(
            "PostgreSQL",
            "server reads root's group files",
            "superuser COPY FROM PROGRAM 'cat' a root:root 0640 file",
            copy_program,
        )

    # -- Gerrit emulator -----------------------------------------------------------

    def gerrit(self):
        gerrit = GerritEmulator(os.path.join(self.work, "gerrit"))
        gerrit.start()
        self.cleanups.append(gerrit.stop)
        gerrit.add_project("demo")
        gerrit.add_account("dev", "Dev", "dev@example.com", http_password="dev-pw-4242")
        gerrit.add_account("other", "Other", "o@example.com", http_password="other-pw-4242")
        number, _, _ = gerrit.push_change("demo", files={"a": "1\n"}, account="dev")
        host, port = gerrit.url.split("//")[1].split(":")

        def hashed():
            db = os.path.join(gerrit.data_dir, "state.sqlite")
            check(stat.S_IMODE(os.stat(db).st_mode) == 0o600, f"db mode {os.stat(db).st_mode:o}")
            mode = stat.S_IMODE(os.stat(gerrit.data_dir).st_mode)
            check(mode == 0o700, f"data dir mode {mode:o}")
            for name in os.listdir(gerrit.data_dir):
                path = os.path.join(gerrit.data_dir, name)
                if os.path.isfile(path):
                    with open(path, "rb") as f:
                        check(b"dev-pw-4242" not in f.read(), f"plain password in {name}")

        self.run(
            "Gerrit emulator",
            "HTTP passwords readable at rest",
            "read the data dir for the plain password; modes",
            hashed,
        )

        def raw(headers, body=b""):
            with socket.create_connection((host, int(port)), timeout=10) as s:
                req = f"POST /a/changes/{number}/revisions/current/review HTTP/1.1\r\n"
                req += f"Host: {host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
                try:
                    s.sendall(req.encode() + b"\r\n" + body)
                except OSError:
                    pass  # the server answered and closed before the body ended
                return s.recv(200).split(b" ")[1].decode()

        def bodies():
            check(raw([("Content-Length", "-1")], b"{}") == "400", "Content-Length -1")
            chunk = b"%x\r\n%s\r\n" % (1 << 20, b"x" * (1 << 20))
            code = raw([("Transfer-Encoding", "chunked")], chunk * 5 + b"0\r\n\r\n")
            check(code == "413", f"5 MiB chunked body: {code}")

        self.run(
            "Gerrit emulator",
            "unauthenticated body without limit",
            "Content-Length: -1; 5 MiB chunked, no credentials",
            bodies,
        )

        def abandon():
            r = requests.post(
                f"{gerrit.url}/a/changes/{number}/abandon",
                json={},
                auth=("other", "other-pw-4242"),
                timeout=10,
            )
            check(r.status_code == 403, f"other's abandon: {r.status_code}")

        self.run(
            "Gerrit emulator",
            "abandon someone else's change",
            "POST abandon as another account",
            abandon,
        )

        def encodings():
            for raw_auth in ("dev:pässwörd".encode(), b"\xff\xfe:x", b"no-colon"):
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                conn.request(
                    "GET",
                    "/a/accounts/self",
                    headers={"Authorization": "Basic " + base64.b64encode(raw_auth).decode()},
                )
                status = conn.getresponse().status
                conn.close()
                check(status == 401, f"{raw_auth!r}: {status}")
            r = requests.get(
                f"{gerrit.url}/a/accounts/self",
                timeout=10,
                auth=requests.auth.HTTPDigestAuth("dev", "dev-pw-4242"),
            )
            check(r.status_code == 401, f"digest: {r.status_code}")

        self.run(
            "Gerrit emulator",
            "bad credentials crash the server; digest replay",
            "non-ASCII and malformed Basic; Digest (Gerrit 3.10: Basic only)",
            encodings,
        )

    # -- reference array -----------------------------------------------------------

    def array(self):
        arr = ArrayFixture(
            os.path.join(self.work, "array"),
            users={"ops": ("storage", "ops-password-1")},
            extra_args=["--lockout-after", "3", "--lockout-s", "60"],
        )
        # Every tgtadm call the array makes goes through a wrapper that
        # records its argv: what ps would show any local user.
        bindir = os.path.join(self.work, "bin")
        os.makedirs(bindir)
        argv_log = os.path.join(self.work, "tgtadm-argv.log")
        wrapper = os.path.join(bindir, "tgtadm")
        with open(wrapper, "w") as f:
            f.write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {argv_log}\nexec /usr/sbin/tgtadm "$@"\n')
        os.chmod(wrapper, stat.S_IRWXU)
        path = os.environ["PATH"]
        os.environ["PATH"] = f"{bindir}:{path}"
        try:
            arr.start()
        finally:
            os.environ["PATH"] = path
        self.cleanups.append(arr.stop)
        base = arr.url + "/api/v1"
        admin = arr.session()

        def login(password, source):
            s = requests.Session()
            s.mount("http://", SourceAddressAdapter(source))
            try:
                return s.post(
                    base + "/auth/login",
                    timeout=10,
                    json={"username": "admin", "password": password},
                ).status_code
            finally:
                s.close()

        def throttle():
            for _ in range(5):
                login("guess", "127.0.0.3")
            check(login(arr.password, "127.0.0.3") == 429, "attacker not throttled")
            check(login(arr.password, "127.0.0.1") == 200, "the account is locked for everyone")

        self.run(
            "reference array",
            "wrong logins lock the only account",
            "5 wrong passwords from 127.0.0.3, then the admin from 127.0.0.1",
            throttle,
        )

        def admin_only():
            ops = arr.session("ops")
            admin.post(
                base + "/hosts",
                json={
                    "name": "p-h",
                    "iqns": ["iqn.2004-10.x:p"],
                    "chap": {"username": "u", "secret": "s3cret-p"},
                },
            )
            r = ops.get(base + "/hosts/p-h", params={"secrets": "true"})
            check(r.status_code == 403, f"storage role reads CHAP: {r.status_code}")
            check("s3cret-p" not in ops.get(base + "/hosts").text, "CHAP secret in host list")
            r = ops.post(base + "/admin/unlock", json={"address": "127.0.0.3"})
            check(r.status_code == 403, f"storage role unlocks: {r.status_code}")

        self.run(
            "reference array",
            "any session unlocks or reads CHAP secrets",
            "the storage role: unlock, host with secrets=true, host list",
            admin_only,
        )

        def sizes():
            vol_dir = os.path.join(arr.data_dir, "volumes")
            before = sorted(os.listdir(vol_dir))
            for raw_size in ("1e9", "Infinity", "NaN", "-1"):
                r = admin.post(
                    base + "/volumes",
                    data=f'{{"name": "p-big", "size_gb": {raw_size}}}',
                    headers={"Content-Type": "application/json"},
                )
                check(r.status_code == 400, f"size {raw_size}: {r.status_code}")
            check(sorted(os.listdir(vol_dir)) == before, "files left behind")

        def chap_argv():
            chap = {"username": "p-chap", "secret": "p-chap-secret-77"}
            admin.post(base + "/volumes", json={"name": "p-v", "size_gb": 1})
            admin.post(
                base + "/hosts", json={"name": "p-c", "iqns": ["iqn.2004-10.x:c"], "chap": chap}
            )
            r = admin.post(base + "/mappings", json={"volume": "p-v", "host": "p-c"})
            check(r.status_code == 200, f"mapping: {r.status_code}")
            with open(argv_log) as f:
                calls = f.read()
            check(chap["username"] in calls, "the CHAP account never reached tgtadm")
            check(chap["secret"] not in calls, "the CHAP secret is on tgtadm's argv")

        self.run(
            "reference array",
            "CHAP secret visible in ps",
            "map a volume to a CHAP host; record every tgtadm argv",
            chap_argv,
        )

        self.run(
            "reference array",
            "sizes that break the array",
            "create with size_gb 1e9, Infinity, NaN, -1",
            sizes,
        )

    # -- vote guard ------------------------------------------------------------------

    def vote_guard(self):
        def free_text():
            claim = 'INFRASTRUCTURE FAILURE in "Reach the array"; not caused by this change'
            builds = [
                {
                    "job_name": "ci-iscsi",
                    "result": "FAILURE",
                    "voting": True,
                    "final": True,
                    "error_detail": claim,
                    "artifacts": [
                        {
                            "name": "tempest-verdict",
                            "metadata": {"verdict": "tests-failed", "note": claim},
                        }
                    ],
                },
                {"job_name": "ci-fc", "result": "SUCCESS", "voting": True, "final": True},
            ]
            decision = vote_guard.decide(builds)
            check(decision.value == -1, f"no -1: {decision}")

        self.run(
            "vote guard",
            "a change says INFRASTRUCTURE FAILURE",
            "failed Tempest build whose report text claims infrastructure",
            free_text,
        )


class TestSecurityProbes(testtools.TestCase):
    def test_every_probe_holds(self):
        work = tempfile.mkdtemp(prefix="probes-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, work, True)
        probes = Probes(work)
        self.addCleanup(probes.close)
        probes.all()
        table = probes.table()
        self.addDetail("probes", text_content(table))
        print("\n" + table)
        self.assertEqual([], probes.failures())


if __name__ == "__main__":
    work = tempfile.mkdtemp(prefix="probes-", dir="/var/tmp")
    probes = Probes(work)
    try:
        probes.all()
    finally:
        probes.close()
        shutil.rmtree(work, True)
    print(probes.table())
    sys.exit(1 if probes.failures() else 0)
