"""The recheck comment, its REST path and the check against our pipeline's triggers."""

import fixtures
import testtools

from ci_tools.errors import UsageError
from ci_tools.people import recheck
from tests import people_samples as samples


class TestRecheck(testtools.TestCase):
    def test_comment(self):
        self.assertEqual("recheck", recheck.recheck_comment())
        self.assertEqual("run-refflash-ci", recheck.recheck_comment("refflash-ci"))

    def test_review_path(self):
        self.assertEqual("changes/912345/revisions/current/review", recheck.review_path(912345))
        self.assertEqual(
            "changes/openstack%2Fcinder~stable%2F2025.2~I0123abc/revisions/3/review",
            recheck.review_path("openstack/cinder~stable/2025.2~I0123abc", 3),
        )
        self.assertRaises(UsageError, recheck.review_path, " ")

    def test_checked_against_our_check_pipeline(self):
        root = samples.REPO_ROOT
        self.assertTrue(recheck.check_triggers("recheck", root))
        self.assertTrue(recheck.check_triggers("run-refflash-ci", root))
        err = self.assertRaises(UsageError, recheck.check_triggers, "run-refflash", root)
        self.assertIn("does not match the check pipeline's comment triggers", err.message)
        empty = self.useFixture(fixtures.TempDir()).path  # no zuul.d here: nothing to check
        self.assertFalse(recheck.check_triggers("recheck", empty))
