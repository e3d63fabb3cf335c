"""Reports show in Gerrit's CI summary: the plugin's patterns on our messages.

The patterns are zuul-results-summary's (ci_tools/zuulconf/summary.py); they
are applied to the messages rendered into zuul.d/pipelines.yaml and to real
reports the sandbox's Zuul posted (tests/fixtures/reports/).
"""

import glob
import json
import os
import shutil

import fixtures
import testtools
import yaml

from ci_tools.configcheck.check import report_format_problems
from ci_tools.zuulconf import render, summary
from ci_tools.zuulconf.site import load_site

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(REPO_ROOT, "tests", "fixtures", "reports")


def pipelines(rendered):
    text = rendered["zuul.d/pipelines.yaml"]
    return {s["pipeline"]["name"]: s["pipeline"] for s in yaml.safe_load(text) if "pipeline" in s}


class TestRenderedMessages(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.site = load_site(REPO_ROOT)
        self.pipelines = pipelines(render.render(REPO_ROOT))

    def test_check_and_experimental_outcomes_parse(self):
        for name in ("check", "experimental"):
            p = self.pipelines[name]
            self.assertEqual(("succeeded", name), summary.status(p["success-message"]), name)
            self.assertEqual(("failed", name), summary.status(p["failure-message"]), name)

    def test_a_change_no_job_runs_for_still_gets_a_success_report(self):
        check = self.pipelines["check"]
        self.assertEqual(("succeeded", "check"), summary.status(check["no-jobs-message"]))
        self.assertEqual({"gerrit": {}}, check["no-jobs"])

    def test_the_account_name_is_the_ci_identity(self):
        self.assertTrue(summary.AUTHOR_RE.match(self.site["display_name"]))
        self.assertTrue(self.site["display_name"].endswith(" CI"))

    def test_committed_config_passes_the_config_check(self):
        self.assertEqual([], report_format_problems(REPO_ROOT))

    def test_the_old_text_would_not_show(self):
        # What the kit used to post: the tab skipped it.
        old = "Build succeeded (Reference Flash RefFlash CI, check pipeline)."
        self.assertIsNone(summary.STATUS_RE.search(old))


class TestConfigCheckCatchesDrift(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.root = self.useFixture(fixtures.TempDir()).path
        for name in ("templates", "zuul.d"):
            shutil.copytree(os.path.join(REPO_ROOT, name), os.path.join(self.root, name))
        shutil.copy(os.path.join(REPO_ROOT, "site.yaml"), self.root)

    def test_a_message_that_drifted_is_named(self):
        path = os.path.join(self.root, "zuul.d", "pipelines.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(
                text.replace('"Build failed (check pipeline)."', '"Build failed (Acme, check)."')
            )
        (problem,) = report_format_problems(self.root)
        self.assertIn("check failure-message", problem)

    def test_an_account_name_without_ci_is_refused(self):
        with open(os.path.join(self.root, "site.yaml"), "a") as f:
            f.write("display_name: Acme Flash\n")
        from ci_tools.errors import ConfigError

        err = self.assertRaises(ConfigError, load_site, self.root)
        self.assertIn("display_name", str(err))
        self.assertIn('" CI"', str(err))


class TestRealReports(testtools.TestCase):
    """Messages Zuul posted in a sandbox run, as Gerrit's REST API returned them."""

    def fixtures(self):
        paths = sorted(glob.glob(os.path.join(FIXTURES, "*.json")))
        self.assertNotEqual([], paths, "no captured reports in tests/fixtures/reports")
        out = []
        for path in paths:
            with open(path) as f:
                out.append((os.path.basename(path), json.load(f)))
        return out

    def test_each_real_report_shows_with_every_job(self):
        for name, message in self.fixtures():
            self.assertTrue(summary.AUTHOR_RE.match(message["author"]["name"]), name)
            got = summary.status(message["message"])
            self.assertIsNotNone(got, name)
            self.assertEqual("check", got[1], name)
            rows = summary.job_rows(message["message"])
            self.assertEqual(message["expect"]["jobs"], sorted(r["job"] for r in rows), name)
            for row in rows:
                self.assertTrue(row["link"].startswith("http"), (name, row))
                self.assertIn(row["result"], ("SUCCESS", "FAILURE"), (name, row))
                self.assertRegex(row["time"] or "", r"^(\d+h )?(\d+m )?\d+s", (name, row))
            self.assertEqual(message["expect"]["status"], got[0], name)
