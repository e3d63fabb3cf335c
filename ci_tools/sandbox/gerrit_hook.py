"""The sandbox's Gerrit: the emulator playing review.opendev.org.

Plugs into SandboxTenant's ``gerrit=`` hook: it starts the emulator, creates
the CI's account (SSH key for stream-events, HTTP password for REST, a
Verified -1..+1 grant as upstream gives third-party CIs, membership of the
"Third-Party CI" group that holds Stream Events), a developer account
that uploads changes and comments, and the Cinder projects seeded from their
released trees. ``zuul_connection()`` is what zuul.conf gets: the same
options a vendor sets for upstream Gerrit, pointed at loopback.
"""

import os
import secrets
import subprocess

from ci_tools.gerrit.fixture import THIRD_PARTY_CI, GerritEmulator
from ci_tools.gerrit.repos import Repos
from ci_tools.sandbox import sources

DEVELOPER = "upstream-dev"


class SandboxGerrit:
    def __init__(self, work_dir, ci_account, label="Verified", rest=True, full_name=None):
        self.work_dir = os.path.join(work_dir, "gerrit")
        self.ci_account = ci_account
        # The account's full name is the CI's identity in Gerrit's CI summary
        # (it must end in " CI"): site.yaml's display_name, as in production.
        self.full_name = full_name or f"{ci_account} CI"
        self.label = label
        self.rest = rest
        self.emulator = None
        self.ci_key = os.path.join(self.work_dir, "ci-ssh-key")
        self.ci_password = None

    def _key(self, path):
        if not os.path.exists(path):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
        with open(path + ".pub") as f:
            return f.read().strip()

    def start(self, projects, branches):
        if self.emulator is not None:  # started by the sandbox's own phase already
            return
        os.makedirs(self.work_dir, exist_ok=True)
        self.emulator = GerritEmulator(self.work_dir)
        self.emulator.start()
        pw_file = os.path.join(self.work_dir, "ci-http-password")
        if os.path.exists(pw_file):
            with open(pw_file) as f:
                self.ci_password = f.read().strip()
        else:
            self.ci_password = secrets.token_urlsafe(16)
            fd = os.open(pw_file, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(self.ci_password)
        # add_account creates or updates, so a warm sandbox dir is reused as is.
        self.emulator.add_account(
            self.ci_account,
            full_name=self.full_name,
            email=f"{self.ci_account}@example.invalid",
            ssh_pubkey=self._key(self.ci_key),
            http_password=self.ci_password,
        )
        self.emulator.grant(self.ci_account, self.label, -1, 1)
        # As upstream: the CI account joins "Third-Party CI", whose Stream Events
        # capability lets Zuul listen to stream-events.
        self.emulator.add_group(THIRD_PARTY_CI, members=[self.ci_account])
        self.emulator.add_account(
            DEVELOPER,
            full_name="Upstream Developer",
            email=f"{DEVELOPER}@example.invalid",
            ssh_pubkey=self._key(os.path.join(self.work_dir, "dev-ssh-key")),
        )
        repos = Repos(self.emulator.data_dir)
        for project in projects:
            if repos.exists(project):
                continue
            seed = os.path.join(self.work_dir, "seed", project)
            sources.seed_repo(project, seed, branches[1:])
            self.emulator.add_project(project, source=seed)

    def zuul_connection(self):
        conn = {
            "driver": "gerrit",
            "server": "127.0.0.1",
            "port": str(self.emulator.ssh_port),
            "baseurl": self.emulator.url,
            "user": self.ci_account,
            "sshkey": self.ci_key,
            # Projects get upstream's canonical names (opendev.org/openstack/cinder),
            # so jobs find zuul.projects exactly as they do in production.
            "canonical_hostname": "opendev.org",
        }
        if self.rest:
            conn["password"] = self.ci_password
            conn["auth_type"] = "basic"
        return conn

    def stop(self):
        if self.emulator is not None:
            self.emulator.stop()
