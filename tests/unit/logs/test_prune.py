"""``ci-tools logs prune``: only build log dirs older than N days go."""

import contextlib
import io
import os
import time
import uuid

import fixtures
import testtools

from ci_tools import cli
from ci_tools.logs.prune import DAY, prune

NOW = time.time()


class TestPrune(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path

    def build(self, age_days, files=("job-output.txt",)):
        """A published build, as publish-logs lays it out, ``age_days`` old."""
        name = uuid.uuid4().hex
        path = os.path.join(self.root, name[:2], name)
        os.makedirs(os.path.join(path, "zuul-info"))
        for f in files:
            with open(os.path.join(path, f), "w") as out:
                out.write("x" * 1000)
        stamp = NOW - age_days * DAY
        os.utime(path, (stamp, stamp))
        return path

    def test_removes_only_builds_older_than_the_limit(self):
        old = [self.build(31), self.build(45)]
        young = [self.build(29), self.build(0)]
        result = prune(self.root, days=30, now=NOW)
        self.assertEqual(sorted(old), sorted(result.removed))
        self.assertEqual(2, result.kept)
        self.assertEqual(2000, result.freed)
        for path in old:
            self.assertFalse(os.path.exists(path))
        for path in young:
            self.assertTrue(os.path.exists(os.path.join(path, "job-output.txt")))

    def test_other_files_and_links_are_never_touched(self):
        outside = self.useFixture(fixtures.TempDir()).path
        with open(os.path.join(outside, "keep.txt"), "w") as f:
            f.write("outside the log root")
        name = uuid.uuid4().hex
        os.makedirs(os.path.join(self.root, name[:2]))
        link = os.path.join(self.root, name[:2], name)
        os.symlink(outside, link)
        os.makedirs(os.path.join(self.root, "static"))
        with open(os.path.join(self.root, "index.html"), "w") as f:
            f.write("<html>")
        old_stamp = NOW - 90 * DAY
        for path in (os.path.join(self.root, "static"), os.path.join(self.root, "index.html")):
            os.utime(path, (old_stamp, old_stamp))
        result = prune(self.root, days=30, now=NOW)
        self.assertEqual([], result.removed)
        self.assertEqual([link], [p for p, _ in result.skipped])
        self.assertTrue(os.path.exists(os.path.join(outside, "keep.txt")))
        self.assertTrue(os.path.exists(os.path.join(self.root, "static")))
        self.assertTrue(os.path.exists(os.path.join(self.root, "index.html")))

    def test_dry_run_removes_nothing(self):
        old = self.build(40)
        result = prune(self.root, days=30, now=NOW, dry_run=True)
        self.assertEqual([old], result.removed)
        self.assertTrue(os.path.isdir(old))

    def test_emptied_prefix_dirs_go_too(self):
        old = self.build(40)
        prune(self.root, days=30, now=NOW)
        self.assertFalse(os.path.exists(os.path.dirname(old)))


class TestPruneCommand(testtools.TestCase):
    def run_cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
        return code, out.getvalue(), err.getvalue()

    def test_default_keeps_thirty_days(self):
        root = self.useFixture(fixtures.TempDir()).path
        name = uuid.uuid4().hex
        path = os.path.join(root, name[:2], name)
        os.makedirs(path)
        os.utime(path, (NOW - 31 * DAY, NOW - 31 * DAY))
        code, out, _ = self.run_cli("logs", "prune", "--root", root)
        self.assertEqual(0, code)
        self.assertIn("removed 1 build log dirs older than 30 days", out)
        self.assertFalse(os.path.exists(path))

    def test_missing_root_is_one_clear_line(self):
        code, _, err = self.run_cli("logs", "prune", "--root", "/nonexistent/logs")
        self.assertEqual(2, code)
        self.assertIn("log root /nonexistent/logs is not a directory", err)
        self.assertEqual(1, len(err.strip().splitlines()), err)
