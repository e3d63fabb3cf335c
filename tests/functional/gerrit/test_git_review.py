"""git-review, the patch author's own tool, against the emulator: Debian 12's 2.3.1
and PyPI's 2.5.0 (tools/setup-git-review.sh), with OpenSSH underneath.

Each version runs ``git review -s`` (remote from .gitreview, commit-msg hook by
``scp -O``), uploads a change, a second patch set, lists (``-l``) and downloads
(``-d``) it, and is refused with Gerrit's own line once the change is abandoned.
A CI account streams events meanwhile and sees each patch set's kind.
"""

import json
import os
import re
import stat
import subprocess

import requests

from ci_tools.harness.zuul_daemons import kit_root
from tests.functional.gerrit.base import EmulatorTestCase

DEBIAN_GIT_REVIEW = "/usr/bin/git-review"


def pypi_git_review():
    return os.path.join(kit_root(), "git-review-2.5.0", "bin", "git-review")


class GitReviewMixin:
    git_review = None  # path of the git-review under test
    download_branch = None  # the branch name ``-d`` checks out

    def setUp(self):
        super().setUp()
        if not os.path.exists(self.git_review):
            self.fail(f"{self.git_review} missing: run tools/test-setup.sh")
        self.dev_key = self.keypair("dev_ed25519")
        self.gerrit.add_account(
            "dev", "Dev Eloper", "dev@example.com", self.dev_key + ".pub", "dev-pw"
        )
        self.home = os.path.join(self.work, "home")
        os.makedirs(os.path.join(self.home, ".ssh"), mode=0o700)
        with open(os.path.join(self.home, ".ssh", "config"), "w") as f:
            f.write(
                f"Host 127.0.0.1\n  User dev\n  IdentityFile {self.dev_key}\n"
                "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n"
                "  UserKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR\n"
            )
        # OpenSSH reads the passwd entry's ~/.ssh, not $HOME's: wrappers first in
        # PATH hand it this config, as a user's own ~/.ssh/config would.
        self.bin = os.path.join(self.work, "bin")
        os.makedirs(self.bin)
        for tool in ("ssh", "scp"):
            path = os.path.join(self.bin, tool)
            with open(path, "w") as f:
                f.write(f'#!/bin/sh\nexec /usr/bin/{tool} -F "{self.home}/.ssh/config" "$@"\n')
            os.chmod(path, 0o755)
        with open(os.path.join(self.home, ".gitconfig"), "w") as f:
            f.write(
                "[user]\n  name = Dev Eloper\n  email = dev@example.com\n"
                "[gitreview]\n  username = dev\n[init]\n  defaultBranch = master\n"
            )
        # The project as upstream ships it: a .gitreview naming this Gerrit.
        seed = os.path.join(self.work, "seed")
        os.makedirs(seed)
        with open(os.path.join(seed, ".gitreview"), "w") as f:
            f.write(f"[gerrit]\nhost=127.0.0.1\nport={self.gerrit.ssh_port}\nproject=app.git\n")
        with open(os.path.join(seed, "README"), "w") as f:
            f.write("app\n")
        self.gerrit.add_project("app", source=seed)
        self.repo = os.path.join(self.work, "app")
        self.run_git("clone", "-q", f"ssh://dev@127.0.0.1:{self.gerrit.ssh_port}/app", self.repo)

    def env(self):
        env = dict(os.environ, HOME=self.home, GIT_TERMINAL_PROMPT="0")
        env["PATH"] = self.bin + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        for key in ("GIT_SSH", "GIT_SSH_COMMAND", "SSH_AUTH_SOCK"):
            env.pop(key, None)
        return env

    def run_git(self, *args, cwd=None, check=True):
        proc = subprocess.run(
            ["git", *args], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode:
            raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
        return proc

    def review(self, *args, check=True, cwd=None):
        proc = subprocess.run(
            [self.git_review, *args],
            cwd=cwd or self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode:
            raise AssertionError(
                f"git-review {' '.join(args)} exit {proc.returncode}:\n{proc.stdout}{proc.stderr}"
            )
        return proc

    def commit(self, name, text, amend=False, message=None):
        with open(os.path.join(self.repo, name), "w") as f:
            f.write(text)
        self.run_git("add", name, cwd=self.repo)
        args = ["commit", "-q"]
        args += ["--amend", "--no-edit"] if amend and message is None else []
        args += ["--amend"] if amend and message is not None else []
        args += ["-m", message] if message is not None else []
        self.run_git(*args, cwd=self.repo)
        return self.run_git("rev-parse", "HEAD", cwd=self.repo).stdout.strip()

    def rest(self, path):
        resp = requests.get(f"{self.gerrit.url}/{path}", timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)
        return json.loads(resp.text[5:])

    def ci_stream(self):
        """stream-events as a CI account (a member of "Third-Party CI")."""
        self.gerrit.zuul_connection()
        return self.stream("zuul", self.gerrit.zuul_key)[0]

    def test_setup_upload_patchset_list_download_and_closed_change(self):
        stream = self.ci_stream()
        proc = self.review("-s")
        hook = os.path.join(self.repo, ".git", "hooks", "commit-msg")
        self.assertTrue(os.stat(hook).st_mode & stat.S_IXUSR, proc.stdout)
        self.assertIn("gerrit", self.run_git("remote", cwd=self.repo).stdout.split())

        self.run_git("checkout", "-q", "-b", "fix-driver", cwd=self.repo)
        sha1 = self.commit("driver.py", "x = 1\n", message="Fix the driver")
        message = self.run_git("log", "-1", "--format=%B", cwd=self.repo).stdout
        change_id = re.search(r"^Change-Id: (I[0-9a-f]{40})$", message, re.M).group(1)
        proc = self.review("-t", "driver-fix")
        out = proc.stdout + proc.stderr
        number = self.rest(f"changes/{change_id}")["_number"]
        url = f"{self.gerrit.url}/c/app/+/{number}"
        self.assertIn("SUCCESS", out)
        self.assertIn(f"{url} Fix the driver [NEW]", out)
        self.assertIn("[new reference]", out)
        change = self.rest(f"changes/{number}?o=CURRENT_REVISION&o=DETAILED_ACCOUNTS")
        self.assertEqual(
            ("driver-fix", sha1, "dev"),
            (change["topic"], change["current_revision"], change["owner"]["username"]),
        )
        event = stream.next_event("patchset-created")
        self.assertEqual(
            (number, 1, "REWORK"),
            (event["change"]["number"], event["patchSet"]["number"], event["patchSet"]["kind"]),
        )

        sha2 = self.commit("driver.py", "x = 2\n", amend=True)
        proc = self.review("-t", "driver-fix")
        out = proc.stdout + proc.stderr
        self.assertIn(f"{url} Fix the driver", out)
        self.assertNotIn("[NEW]", out)
        event = stream.next_event("patchset-created")
        self.assertEqual(
            (2, sha2, "REWORK"),
            (event["patchSet"]["number"], event["patchSet"]["revision"], event["patchSet"]["kind"]),
        )

        listed = self.review("-l").stdout
        self.assertRegex(listed, rf"(?m)^\s*{number}\s+master\s+Fix the driver\s*$")
        self.assertIn("Found 1 items for review", listed)

        self.run_git("checkout", "-q", "master", cwd=self.repo)
        self.review("-d", str(number))
        self.assertEqual(sha2, self.run_git("rev-parse", "HEAD", cwd=self.repo).stdout.strip())
        self.assertEqual(
            self.download_branch.format(number=number),
            self.run_git("rev-parse", "--abbrev-ref", "HEAD", cwd=self.repo).stdout.strip(),
        )

        # Abandoned: a new patch set is refused with Gerrit's line, and nothing is stored.
        resp = requests.post(
            f"{self.gerrit.url}/a/changes/{number}/abandon",
            json={"message": "superseded"},
            auth=("dev", "dev-pw"),
            timeout=10,
        )
        self.assertEqual(200, resp.status_code, resp.text)
        self.commit("driver.py", "x = 3\n", amend=True)
        proc = self.review("-t", "driver-fix", check=False)
        self.assertNotEqual(0, proc.returncode)
        self.assertIn(
            "! [remote rejected] HEAD -> refs/for/master%topic=driver-fix "
            f"(change {number} closed)",
            proc.stdout + proc.stderr,
        )
        self.assertEqual(2, len(self.rest(f"changes/{number}?o=ALL_REVISIONS")["revisions"]))
        self.assertEqual("change-abandoned", stream.next_event("change-abandoned")["type"])


class TestDebianGitReview(GitReviewMixin, EmulatorTestCase):
    """git-review 2.3.1 from Debian 12."""

    git_review = DEBIAN_GIT_REVIEW
    download_branch = "review/dev_eloper/driver-fix"  # owner's name and topic


class TestPyPIGitReview(GitReviewMixin, EmulatorTestCase):
    """git-review 2.5.0 from PyPI, plus the patch-set kinds and the HTTP hook."""

    git_review = pypi_git_review()
    download_branch = "review/{number}"  # 2.4 named branches by change number

    def test_patchset_kinds_and_hook_over_http(self):
        stream = self.ci_stream()
        # An HTTP remote: --remote-hook (2.5.0 otherwise installs its bundled copy)
        # fetches the hook from /tools/hooks/commit-msg.
        http = f"http://dev:dev-pw@127.0.0.1:{self.gerrit.http_port}/a/app"
        self.run_git("remote", "add", "gerrit", http, cwd=self.repo)
        self.review("-s", "--remote-hook")
        hook = os.path.join(self.repo, ".git", "hooks", "commit-msg")
        with open(hook, "rb") as f:
            served = f.read()
        self.assertIn(b"Gerrit emulator commit-msg hook", served)
        # The same hook over SFTP, newer OpenSSH scp's default protocol (no -O).
        copy = os.path.join(self.work, "commit-msg-sftp")
        proc = subprocess.run(
            ["scp", "-P", str(self.gerrit.ssh_port), "127.0.0.1:hooks/commit-msg", copy],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        with open(copy, "rb") as f:
            self.assertEqual(served, f.read())

        self.commit("a.py", "a = 1\n", message="Add a")
        self.review("-R", "-T")
        self.assertEqual("REWORK", stream.next_event("patchset-created")["patchSet"]["kind"])

        # Message only: NO_CODE_CHANGE.
        message = self.run_git("log", "-1", "--format=%B", cwd=self.repo).stdout
        self.run_git(
            "commit",
            "-q",
            "--amend",
            "-m",
            message.replace("Add a", "Add a, reworded"),
            cwd=self.repo,
        )
        self.review("-R", "-T")
        self.assertEqual(
            "NO_CODE_CHANGE", stream.next_event("patchset-created")["patchSet"]["kind"]
        )

        # Same tree, parent and message, new commit: NO_CHANGE.
        self.run_git(
            "commit", "-q", "--amend", "--no-edit", "--date", "2020-01-01T00:00:00", cwd=self.repo
        )
        self.review("-R", "-T")
        self.assertEqual("NO_CHANGE", stream.next_event("patchset-created")["patchSet"]["kind"])

        # master moves on elsewhere; the same diff rebased on it: TRIVIAL_REBASE.
        other = os.path.join(self.work, "other")
        admin = self.git_ssh_env()
        self.git("clone", "-q", self.ssh_url(project="app"), other, env=admin)
        with open(os.path.join(other, "b.py"), "w") as f:
            f.write("b = 1\n")
        self.git("add", "b.py", cwd=other)
        self.git("commit", "-q", "-m", "Add b", cwd=other)
        self.git("push", "-q", "origin", "HEAD:refs/heads/master", cwd=other, env=admin)
        self.run_git("fetch", "-q", "gerrit", cwd=self.repo)
        self.run_git("rebase", "-q", "gerrit/master", cwd=self.repo)
        self.review("-R", "-T")
        event = stream.next_event("patchset-created")
        self.assertEqual(
            (4, "TRIVIAL_REBASE"), (event["patchSet"]["number"], event["patchSet"]["kind"])
        )
        revisions = self.rest(f"changes/{event['change']['number']}?o=ALL_REVISIONS")["revisions"]
        kinds = [r["kind"] for r in sorted(revisions.values(), key=lambda r: r["_number"])]
        self.assertEqual(["REWORK", "NO_CODE_CHANGE", "NO_CHANGE", "TRIVIAL_REBASE"], kinds)
