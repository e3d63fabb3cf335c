"""The Gerrit emulator as a Python fixture for tests and the sandbox.

    gerrit = GerritEmulator(work_dir)
    gerrit.start()
    gerrit.add_account("zuul", "Zuul CI", "zuul@example.com", ssh_pubkey, "secret")
    gerrit.add_project("openstack/cinder", source="/path/to/repo")
    gerrit.grant("zuul", "Verified", -1, 1, "openstack/*")
    gerrit.add_group("Third-Party CI", members=["zuul"])   # holds Stream Events
    gerrit.grant_permission("abandon", group="Core", project="openstack/cinder")
    number, ps, sha = gerrit.push_change("openstack/cinder", "master", {"a.py": "x"}, "Fix")
    gerrit.comment(number, "recheck", "admin")
    gerrit.events()          # the whole event history, oldest first
    gerrit.faults.drop_streams()
    gerrit.stop()

It runs ``ci-tools gerrit serve`` as a subprocess (a ManagedProcess in its own
session), so the emulator is exercised exactly as a user runs it. Accounts,
projects and grants go straight to the data dir; pushes, comments and faults
go through the admin API so stream clients see the events. ``start(projects,
branches)`` and ``zuul_connection()`` are what ``SandboxTenant`` needs.
"""

import json
import os
import secrets
import subprocess
import sys

import requests

from ci_tools.errors import ServiceError
from ci_tools.gerrit.repos import Repos, git
from ci_tools.gerrit.store import Store
from ci_tools.harness.ports import free_port, wait_for_port
from ci_tools.harness.process import ManagedProcess

ADMIN = "admin"
ZUUL = "zuul"
# As on review.opendev.org: third-party CI accounts join this group, which holds
# the global "Stream Events" capability (nobody else may stream-events).
THIRD_PARTY_CI = "Third-Party CI"


class Faults:
    def __init__(self, emulator):
        self._emulator = emulator

    def _set(self, **body):
        return self._emulator.admin("faults", body)

    def drop_streams(self):
        """Cut every stream-events connection now; returns how many were cut."""
        return self._set(drop_streams=True)

    def pause_events(self):
        return self._set(pause_events=True)

    def resume_events(self):
        return self._set(pause_events=False)

    def delay_rest(self, seconds, calls=1):
        return self._set(delay_calls=calls, delay_seconds=seconds)

    def fail_rest(self, status=503, calls=1):
        return self._set(fail_calls=calls, fail_status=status)

    def state(self):
        return self._emulator.admin("faults", method="GET")


class GerritEmulator:
    def __init__(self, work_dir, ssh_port=None, http_port=None):
        self.work_dir = os.path.abspath(work_dir)
        self.data_dir = os.path.join(self.work_dir, "data")
        self.requested_ports = (ssh_port, http_port)
        self.ssh_port = None
        self.http_port = None
        self.process = None
        self.faults = Faults(self)
        self.admin_key = os.path.join(self.work_dir, "admin_ed25519")
        self.zuul_key = os.path.join(self.work_dir, "zuul_ed25519")
        self._passwords = {}

    # -- lifecycle ------------------------------------------------------------

    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, projects=(), branches=("master",)):
        """Start the server; ``projects`` are created (with ``branches``) for SandboxTenant."""
        os.makedirs(self.work_dir, exist_ok=True)
        self.ssh_port = self.requested_ports[0] or free_port()
        self.http_port = self.requested_ports[1] or free_port()
        self.process = ManagedProcess(
            "gerrit-emulator",
            [
                sys.executable,
                "-m",
                "ci_tools.cli",
                "gerrit",
                "serve",
                "--data-dir",
                self.data_dir,
                "--ssh-port",
                str(self.ssh_port),
                "--http-port",
                str(self.http_port),
            ],
            os.path.join(self.work_dir, "logs", "gerrit-emulator.log"),
            healthy=self._healthy,
        )
        self.process.start()
        try:
            self.process.wait_healthy(timeout=30, interval=0.1)
        except BaseException:
            self.process.stop()
            raise
        self._ensure_key(self.admin_key)
        self.add_account(
            ADMIN,
            "Administrator",
            "admin@example.com",
            self._pubkey(self.admin_key),
            self._password(ADMIN),
            admin=True,
        )
        self.add_group(THIRD_PARTY_CI, description="Third-party CI systems", visible_to_all=True)
        self.grant_permission("streamEvents", group=THIRD_PARTY_CI)
        for project in projects:
            self.add_project(project, branches=branches)
        return self

    def _healthy(self):
        resp = requests.get(f"{self.url}/config/server/version", timeout=2)
        return resp.status_code == 200 and wait_for_port(self.ssh_port, timeout=1)

    def stop(self):
        if self.process:
            self.process.stop()

    def restart(self):
        self.stop()
        self.requested_ports = (self.ssh_port, self.http_port)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- admin ------------------------------------------------------------------

    def _store(self):
        return Store(self.data_dir)

    def add_account(
        self, username, full_name=None, email=None, ssh_pubkey=None, http_password=None, admin=False
    ):
        """Create or update an account; ``ssh_pubkey`` is the key text or a .pub path."""
        keys = []
        if ssh_pubkey:
            keys.append(self._pubkey(ssh_pubkey) if os.path.exists(ssh_pubkey) else ssh_pubkey)
        if http_password:
            self._passwords[username] = http_password
        store = self._store()
        try:
            return store.add_account(username, full_name, email, http_password, keys, admin)
        finally:
            store.close()

    def add_project(self, name, source=None, branches=(), description=""):
        """A project seeded from ``source`` (git repo: all branches; dir: one commit);
        ``branches`` are created from master if missing."""
        repos = Repos(self.data_dir)
        repos.install_hooks()
        path = repos.create(name, source, description)
        existing = repos.branches(name)
        for branch in branches:
            if branch not in existing:
                git(path, "update-ref", f"refs/heads/{branch}", existing["master"])
        store = self._store()
        try:
            store.add_project(name, description)
        finally:
            store.close()
        return path

    def grant(self, account, label, min_value, max_value, project="*"):
        store = self._store()
        try:
            row = store.account_by_username(account)
            if not row:
                raise ServiceError(f"no account {account!r}")
            store.add_grant(row["id"], label, min_value, max_value, project)
        finally:
            store.close()

    def add_group(self, name, members=(), description="", visible_to_all=False):
        """Create a group (or add to it) with ``members`` (usernames)."""
        store = self._store()
        try:
            return store.add_group(name, description, visible_to_all, members)
        finally:
            store.close()

    def grant_permission(self, permission, account=None, group=None, project="*"):
        """``streamEvents`` (global) or ``abandon`` (per project) for an account or group."""
        store = self._store()
        try:
            store.grant_permission(permission, account, group, project)
        finally:
            store.close()

    def admin(self, action, body=None, method="POST"):
        with open(os.path.join(self.data_dir, "admin-token")) as f:
            token = f.read().strip()
        resp = requests.request(
            method,
            f"{self.url}/_emulator/{action}",
            json=body,
            headers={"X-Emulator-Token": token},
            timeout=30,
        )
        if resp.status_code != 200:
            raise ServiceError(f"gerrit emulator {action}: {resp.status_code} {resp.text.strip()}")
        return json.loads(resp.text[4:])

    # -- acting as upstream ------------------------------------------------------

    def push_change(self, project, branch="master", files=None, message="A change", account=ADMIN):
        """A new change uploaded by ``account``: (change number, patch set, revision)."""
        result = self.admin(
            "push",
            {
                "project": project,
                "branch": branch,
                "files": files or {},
                "message": message,
                "account": account,
            },
        )
        return result["number"], result["patchset"], result["revision"]

    def new_patchset(self, change, files=None, message=None, account=ADMIN):
        result = self.admin(
            "push",
            {
                "change": str(change),
                "files": files or {},
                "message": message or "",
                "account": account,
            },
        )
        return result["number"], result["patchset"], result["revision"]

    def comment(self, change, text, account=ADMIN, labels=None):
        return self.admin(
            "comment",
            {"change": str(change), "message": text, "account": account, "labels": labels or {}},
        )

    def events(self, since=0):
        return [item["event"] for item in self.admin(f"events?since={since}", method="GET")]

    # -- clients ------------------------------------------------------------------

    def ssh_argv(self, username=ADMIN, key=None):
        """An OpenSSH command line that logs in as ``username`` (add the command)."""
        return [
            "ssh",
            "-i",
            key or self.admin_key,
            "-p",
            str(self.ssh_port),
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            f"{username}@127.0.0.1",
        ]

    def zuul_connection(self, rest=True, user=ZUUL):
        """Options for a Zuul gerrit connection to this emulator (REST mode with
        a password, SSH mode without); creates the CI account on first use."""
        key = self.zuul_key if user == ZUUL else os.path.join(self.work_dir, f"{user}_ed25519")
        self._ensure_key(key)
        if user not in self._passwords:
            self.add_account(
                user, "Zuul", f"{user}@example.com", self._pubkey(key), self._password(user)
            )
            self.grant(user, "Verified", -1, 1)
            self.add_group(THIRD_PARTY_CI, members=[user])
        conn = {
            "driver": "gerrit",
            "server": "127.0.0.1",
            "port": str(self.ssh_port),
            "baseurl": self.url,
            "user": user,
            "sshkey": key,
        }
        if rest:
            conn["password"] = self._passwords[user]
        return conn

    def password(self, username):
        """The HTTP password of an account this fixture created or was given."""
        return self._passwords[username]

    def _password(self, username):
        return self._passwords.setdefault(username, secrets.token_hex(12))

    @staticmethod
    def _ensure_key(path):
        if not os.path.exists(path):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)

    @staticmethod
    def _pubkey(path):
        with open(path if path.endswith(".pub") else path + ".pub") as f:
            return f.read().strip()
