"""A real Zuul (Gerrit driver) against the emulator, REST and SSH mode in one stack boot.

Two connections to the same emulator: ``gerrit`` with a password (REST: change
queries, review POST, git over HTTP) and ``gerrit-ssh`` without (``gerrit
query``/``gerrit review`` over SSH, git over SSH). Both listen to
``gerrit stream-events``. A change pushed to each connection's project must
come back as a ``comment-added`` with Zuul's Verified+1, visible in REST change
detail.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

import requests
import testtools

from ci_tools.gerrit.fixture import GerritEmulator
from ci_tools.harness.ports import free_port
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.zuul_daemons import zuul_venv

ZUUL_CONFIG = r"""
- pipeline:
    name: check
    manager: independent
    trigger:
      gerrit:
        - event: patchset-created
        - event: comment-added
          comment: (?i)^(Patch Set [0-9]+:)?( [\w\\+-]*)*(\n\n)?\s*recheck
      gerrit-ssh:
        - event: patchset-created
    success:
      gerrit:
        Verified: 1
      gerrit-ssh:
        Verified: 1
    failure:
      gerrit:
        Verified: -1
      gerrit-ssh:
        Verified: -1

- job:
    name: base
    parent: null

- project:
    name: rest-project
    check:
      jobs: [noop]

- project:
    name: ssh-project
    check:
      jobs: [noop]
"""

TENANT = """
- tenant:
    name: emulated
    source:
      gerrit:
        config-projects: [zuul-config]
        untrusted-projects: [rest-project]
      gerrit-ssh:
        untrusted-projects: [ssh-project]
"""


class TestZuulAgainstEmulator(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="zuul-gerrit-", dir="/tmp")
        os.chmod(self.work, 0o711)  # PostgreSQL runs as its own user
        self.addCleanup(shutil.rmtree, self.work, True)
        self.ssh_port = free_port()
        self.gerrit = GerritEmulator(os.path.join(self.work, "gerrit"), self.ssh_port, free_port())
        # Zuul's merger records the emulator's host key in the user's known_hosts
        # (OpenSSH reads the passwd home, whatever $HOME says), as it does for
        # upstream Gerrit. Leave no entry for this throwaway host key behind.
        self.forget_host_key()
        self.addCleanup(self.forget_host_key)
        self.gerrit.start()
        self.addCleanup(self.gerrit.stop)
        config_src = os.path.join(self.work, "zuul-config")
        os.makedirs(config_src)
        with open(os.path.join(config_src, "zuul.yaml"), "w") as f:
            f.write(ZUUL_CONFIG)
        self.gerrit.add_project("zuul-config", source=config_src)
        self.gerrit.add_project("rest-project")
        self.gerrit.add_project("ssh-project")

        rest = self.gerrit.zuul_connection(rest=True, user="zuul")
        rest["canonical_hostname"] = "review-rest.example.org"
        ssh = self.gerrit.zuul_connection(rest=False, user="zuul-ssh")
        ssh["canonical_hostname"] = "review-ssh.example.org"
        tenant = os.path.join(self.work, "main.yaml")
        with open(tenant, "w") as f:
            f.write(TENANT)
        self.stack = ZuulStack(
            os.path.join(self.work, "stack"),
            tenant,
            {"gerrit": rest, "gerrit-ssh": ssh},
            services=("scheduler", "executor", "web"),
        )
        self.addCleanup(self.stack.stop)
        self.stack.start()
        self.stack.wait_for_tenant("emulated")
        self.assertEqual([], self.stack.config_errors("emulated"))
        self.wait(
            lambda: self.gerrit.admin("health", method="GET")["stream_clients"] >= 2,
            "Zuul's two stream-events connections",
        )

    def forget_host_key(self):
        host = f"[127.0.0.1]:{self.ssh_port}"
        known = os.path.join(os.path.expanduser("~"), ".ssh", "known_hosts")
        if os.path.exists(known):
            subprocess.run(["ssh-keygen", "-q", "-R", host, "-f", known], capture_output=True)
            if os.path.exists(known + ".old"):
                os.unlink(known + ".old")

    def wait(self, predicate, what, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.5)
        logs = os.path.join(self.stack.work_dir, "logs", "zuul-scheduler.log")
        with open(logs, errors="replace") as f:
            tail = f.read()[-4000:]
        raise AssertionError(f"timed out waiting for {what}; scheduler log tail:\n{tail}")

    def zuul_review(self, number, user):
        for event in self.gerrit.events():
            if (
                event["type"] == "comment-added"
                and event["change"]["number"] == number
                and event["author"]["username"] == user
            ):
                return event
        return None

    def test_zuul_votes_through_rest_and_ssh(self):
        rest_change = self.gerrit.push_change("rest-project", "master", {"a.py": "1\n"}, "Fix a")[0]
        ssh_change = self.gerrit.push_change("ssh-project", "master", {"b.py": "1\n"}, "Fix b")[0]

        for number, user in ((rest_change, "zuul"), (ssh_change, "zuul-ssh")):
            event = self.wait(
                lambda n=number, u=user: self.zuul_review(n, u),
                f"{user}'s review on change {number}",
            )
            self.assertEqual(
                [{"type": "Verified", "description": "Verified", "value": "1", "oldValue": "0"}],
                event["approvals"],
            )
            self.assertTrue(
                event["comment"].startswith("Patch Set 1: Verified+1\n\nBuild succeeded"),
                event["comment"],
            )
            resp = requests.get(f"{self.gerrit.url}/changes/{number}/detail", timeout=10)
            detail = json.loads(resp.text[5:])
            votes = [(v["username"], v["value"]) for v in detail["labels"]["Verified"]["all"]]
            self.assertEqual([(user, 1)], votes)

        # Cut both event streams: Zuul reconnects (after its fixed 5 s), and a
        # recheck comment then retriggers the check pipeline: a second vote message.
        self.gerrit.faults.drop_streams()
        self.wait(
            lambda: self.gerrit.admin("health", method="GET")["stream_clients"] >= 2,
            "Zuul to reconnect both event streams",
            timeout=30,
        )
        self.gerrit.comment(rest_change, "recheck")
        self.wait(
            lambda: (
                sum(
                    1
                    for e in self.gerrit.events()
                    if e["type"] == "comment-added" and e["author"]["username"] == "zuul"
                )
                == 2
            ),
            "Zuul's second review after recheck",
        )
