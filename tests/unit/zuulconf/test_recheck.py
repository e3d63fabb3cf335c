"""The check pipeline's comment triggers, as rendered into zuul.d/pipelines.yaml."""

import os

import testtools

from ci_tools.zuulconf import recheck
from ci_tools.zuulconf.site import load_site

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class TestCheckTrigger(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.ci = load_site(REPO_ROOT)["ci_name"]
        self.patterns = recheck.comment_regexes(REPO_ROOT, "check")

    def assertTriggers(self, comment):
        self.assertTrue(recheck.triggers(comment, self.patterns), f"should trigger: {comment!r}")

    def assertIgnores(self, comment):
        self.assertFalse(recheck.triggers(comment, self.patterns), f"should ignore: {comment!r}")

    def test_both_regexes_are_rendered(self):
        self.assertEqual(2, len(self.patterns))
        self.assertIn(r"(?i)^(Patch Set [0-9]+:)?( [\w\\+-]*)*(\n\n)?\s*recheck", self.patterns)

    def test_plain_recheck(self):
        self.assertTriggers("recheck")
        self.assertTriggers("RECHECK")

    def test_recheck_as_gerrit_sends_it(self):
        self.assertTriggers("Patch Set 3:\n\nrecheck")
        self.assertTriggers("Patch Set 12: Code-Review+1\n\nrecheck")
        self.assertTriggers("Patch Set 3: Verified-1\n\nrecheck bug 12345")

    def test_recheck_naming_this_ci(self):
        self.assertTriggers(f"recheck {self.ci}")
        self.assertTriggers(f"Patch Set 3:\n\nrecheck {self.ci}")

    def test_run_this_ci(self):
        self.assertTriggers(f"run-{self.ci}")
        self.assertTriggers(f"Patch Set 7:\n\nrun-{self.ci}")
        self.assertTriggers(f"Patch Set 7:\n\n  run-{self.ci}\nplease")

    def test_other_comments_are_ignored(self):
        self.assertIgnores("please do not recheck yet")
        self.assertIgnores("Patch Set 3:\n\nplease do not recheck yet")
        self.assertIgnores("Patch Set 3: Code-Review+2\n\nLooks good")
        self.assertIgnores("Patch Set 3:\n\n(1 comment)\n\nnit: typo")

    def test_another_ci_run_keyword_is_ignored(self):
        self.assertIgnores("run-other-ci")
        self.assertIgnores("Patch Set 3:\n\nrun-other-ci")
        self.assertIgnores(f"Patch Set 3:\n\nrun-{self.ci}-nightly")
        self.assertIgnores(f"run-not-{self.ci}")


class TestExperimentalTrigger(testtools.TestCase):
    def test_check_experimental_only(self):
        patterns = recheck.comment_regexes(REPO_ROOT, "experimental")
        self.assertTrue(recheck.triggers("Patch Set 2:\n\ncheck experimental", patterns))
        self.assertFalse(recheck.triggers("Patch Set 2:\n\nrecheck", patterns))

    def test_unknown_pipeline(self):
        self.assertRaises(LookupError, recheck.comment_regexes, REPO_ROOT, "gate")
