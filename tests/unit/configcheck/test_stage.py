"""The config check sees the working tree as it is, uncommitted edits included."""

import os
import subprocess

import fixtures
import testtools

from ci_tools.configcheck.stage import stage_repo, working_tree_files
from ci_tools.errors import UsageError


def git(*args, cwd):
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


class TestStage(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.src = self.useFixture(fixtures.TempDir()).path
        git("init", "-q", "-b", "main", cwd=self.src)
        write(self.src, "zuul.d/jobs.yaml", "- job: {name: a}\n")
        write(self.src, "playbooks/base/pre.yaml", "- hosts: all\n")
        write(self.src, "ci_tools/x.py", "")
        write(self.src, ".gitignore", "*.retry\n")
        git("add", "-A", cwd=self.src)
        git("commit", "-qm", "init", cwd=self.src)

    def test_includes_uncommitted_and_untracked_not_ignored(self):
        write(self.src, "zuul.d/jobs.yaml", "- job: {name: edited}\n")
        write(self.src, "zuul.d/new.yaml", "- job: {name: new}\n")
        write(self.src, "playbooks/base/pre.retry", "junk")
        files = working_tree_files(self.src)
        self.assertEqual(["playbooks/base/pre.yaml", "zuul.d/jobs.yaml", "zuul.d/new.yaml"], files)

        dest = os.path.join(self.useFixture(fixtures.TempDir()).path, "cfg")
        stage_repo(self.src, files, dest)
        self.assertEqual("master\n", git("rev-parse", "--abbrev-ref", "HEAD", cwd=dest))
        self.assertEqual("- job: {name: edited}\n", git("show", "HEAD:zuul.d/jobs.yaml", cwd=dest))
        self.assertEqual("", git("status", "--porcelain", cwd=dest))

    def test_refuses_a_tree_without_zuul_config(self):
        empty = self.useFixture(fixtures.TempDir()).path
        err = self.assertRaises(UsageError, working_tree_files, empty)
        self.assertIn("no zuul.d/", str(err))
