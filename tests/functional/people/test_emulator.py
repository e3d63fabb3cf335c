"""``ci-tools status`` and ``ci-tools recheck`` against the Gerrit emulator, live.

test_status.py loads a backdated month into the emulator's store; here
changes and CI comments are pushed and posted through the emulator's admin
API as they happen, and recheck's review POST goes through its REST API.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile

import requests
import testtools

from ci_tools.gerrit.fixture import GerritEmulator
from ci_tools.people.gerrit_rest import GerritRest, strip_guard
from ci_tools.zuulconf import recheck
from tests import people_samples as samples

REPO_ROOT = samples.REPO_ROOT
PASSWORD = "s3cret-http-pw"


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "ci_tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, **(env or {})),
        cwd=REPO_ROOT,
    )


class EmulatorBase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="people-emu-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.gerrit = GerritEmulator(os.path.join(self.work, "emu")).start()
        self.addCleanup(self.gerrit.stop)
        self.gerrit.add_project("openstack/cinder", branches=["stable/2025.2"])
        self.gerrit.add_project("openstack/os-brick")
        self.gerrit.add_account("dev", "Dev Eloper", "dev@example.com", None, PASSWORD)


class TestRecheck(EmulatorBase):
    def comments(self):
        return [
            (e["author"]["username"], e["comment"])
            for e in self.gerrit.events()
            if e["type"] == "comment-added"
        ]

    def test_recheck_posts_a_comment_our_pipeline_answers(self):
        number, _, _ = self.gerrit.push_change("openstack/cinder", "master", {"a.py": "x\n"})
        self.gerrit.new_patchset(number, {"a.py": "y\n"})
        env = {"GERRIT_HTTP_PASSWORD": PASSWORD}
        base = ["recheck", "--gerrit", self.gerrit.url, "--user", "dev"]

        proc = cli(*base, str(number), env=env)
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual(f"posted 'recheck' on change {number}\n", proc.stdout)
        # Gerrit 3.10 (like the emulator) offers Basic only: digest is refused, clearly.
        proc = cli(*base, "--auth", "digest", "--ci", "refflash-ci", str(number), env=env)
        self.assertEqual(4, proc.returncode, proc.stderr)
        self.assertIn("Gerrit refused the credentials", proc.stderr)
        proc = cli(*base, "--auth", "basic", "--ci", "refflash-ci", str(number), env=env)
        self.assertEqual(0, proc.returncode, proc.stderr)

        posted = self.comments()
        self.assertEqual(
            [("dev", "Patch Set 2:\n\nrecheck"), ("dev", "Patch Set 2:\n\nrun-refflash-ci")],
            posted,
        )
        patterns = recheck.comment_regexes(REPO_ROOT, "check")
        for _, comment in posted:
            self.assertTrue(recheck.triggers(comment, patterns), comment)
        self.assertNotIn(PASSWORD, proc.stdout + proc.stderr)

    def test_errors_are_clear(self):
        number, _, _ = self.gerrit.push_change("openstack/cinder", "master", {"a.py": "x\n"})
        base = ["recheck", "--gerrit", self.gerrit.url, "--user", "dev", str(number)]
        proc = cli(*base, env={"GERRIT_HTTP_PASSWORD": "wrong"})
        self.assertEqual(4, proc.returncode)
        self.assertIn("Gerrit refused the credentials", proc.stderr)
        self.assertNotIn("wrong", proc.stderr)

        proc = cli(*base[:-1], "99999", env={"GERRIT_HTTP_PASSWORD": PASSWORD})
        self.assertEqual(4, proc.returncode)
        self.assertIn("HTTP 404", proc.stderr)

        proc = cli("recheck", "--gerrit", self.gerrit.url, str(number), env={"GERRIT_USER": ""})
        self.assertEqual(2, proc.returncode)
        self.assertIn("posting needs --user", proc.stderr)

        # A comment our own check pipeline would ignore is refused before posting.
        proc = cli(*base, "--comment", "please run again", env={"GERRIT_HTTP_PASSWORD": PASSWORD})
        self.assertEqual(0, proc.returncode)  # --comment is for other CIs' conventions
        proc = cli(*base, "--ci", "refflash ci", env={"GERRIT_HTTP_PASSWORD": PASSWORD})
        self.assertEqual(0, proc.returncode, proc.stderr)  # another CI's name: not ours to check
        self.assertEqual(
            ["Patch Set 1:\n\nplease run again", "Patch Set 1:\n\nrun-refflash ci"],
            [c for _, c in self.comments()],
        )


class TestStatusOnEmulator(EmulatorBase):
    def test_status_figures_from_the_emulator(self):
        cis = {
            "refflash-ci": "Reference Flash RefFlash CI",
            "acme-ci": "Acme Storage CI",
            "gizmo-ci": "Gizmo Storage CI",
        }
        for username, name in cis.items():
            self.gerrit.add_account(username, name, f"{username}@example.com")
        changes = []
        for project, branch in [
            ("openstack/cinder", "master"),
            ("openstack/cinder", "stable/2025.2"),
            ("openstack/os-brick", "master"),
            ("openstack/cinder", "master"),
            ("openstack/os-brick", "master"),
        ]:
            number, _, _ = self.gerrit.push_change(project, branch, {"f.py": f"{len(changes)}\n"})
            changes.append((number, branch))
        log = "https://logs.example.org/1"
        for i, (number, _) in enumerate(changes):
            ours = "FAILURE" if i == 2 else "SUCCESS"
            body = samples.our_comment([("refflash-ci-tempest-iscsi", log, ours, 3600)])
            self.gerrit.comment(number, body.split("\n\n", 1)[1], account="refflash-ci")
            acme = "Build succeeded." if i % 2 else "Build failed."
            self.gerrit.comment(number, f"{acme}\n\n- acme-full {log} : X in 5m", account="acme-ci")
            self.gerrit.comment(number, "Gizmo Storage CI: FAILURE", account="gizmo-ci")
            self.gerrit.comment(number, "lab maintenance tonight", account="gizmo-ci")
            self.gerrit.comment(number, "looks good", account="dev")

        now = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
        proc = cli(
            "status",
            "--gerrit",
            self.gerrit.url,
            "--page-size",
            "2",
            "--cache-dir",
            "",
            "--rate",
            "0",
            "--now",
            now.isoformat(),
            "--format",
            "json",
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        got = {ci["ci"]: ci for ci in json.loads(proc.stdout)["cis"]}
        self.assertEqual(sorted(cis.values()), sorted(got))

        ours = got["Reference Flash RefFlash CI"]["overall"]
        self.assertEqual({"successes": 4, "reports": 5, "rate": 0.8}, ours["pass_rate"]["7d"])
        branches = got["Reference Flash RefFlash CI"]["branches"]
        self.assertEqual(3, branches["master"]["pass_rate"]["7d"]["successes"])
        self.assertEqual(4, branches["master"]["pass_rate"]["7d"]["reports"])
        self.assertEqual(1, branches["stable/2025.2"]["pass_rate"]["7d"]["reports"])
        acme = got["Acme Storage CI"]["overall"]["pass_rate"]["30d"]
        self.assertEqual({"successes": 2, "reports": 5, "rate": 0.4}, acme)
        gizmo = got["Gizmo Storage CI"]
        self.assertTrue(gizmo["at_risk"])
        self.assertEqual(5, gizmo["unparsed"])
        self.assertFalse(got["Acme Storage CI"]["at_risk"])

        # The last report's time is the emulator's own timestamp for that message.
        resp = requests.get(f"{self.gerrit.url}/changes/{changes[-1][0]}/detail", timeout=10)
        messages = json.loads(strip_guard(resp.text))["messages"]
        last = max(m["date"] for m in messages if m["author"].get("username") == "refflash-ci")
        expected = last[:19].replace(" ", "T") + "Z"
        self.assertEqual(expected, ours["last_report"])
        # Paging against the emulator: three cinder changes in pages of two.
        client = GerritRest(self.gerrit.url, rate=0)
        found = list(client.query_changes("project:openstack/cinder -age:1d", page_size=2))
        self.assertEqual(3, len(found))
        self.assertEqual(2, client.requests)
