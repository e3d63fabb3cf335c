"""Per-CI figures: last report, last success, pass rates, silence, at risk."""

import datetime

import testtools

from ci_tools.people import aggregate, table
from tests import people_samples as samples

NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)


def ago(days, hours=0):
    return NOW - datetime.timedelta(days=days, hours=hours)


def ok(ps=1):
    return samples.our_comment([("job", "http://l/1", "SUCCESS", 60)], patchset=ps)


def bad(ps=1):
    return samples.our_comment([("job", "http://l/2", "FAILURE", 60)], patchset=ps)


def comment(ci, when, message, branch="master", project="openstack/cinder"):
    return aggregate.CIComment(ci, project, branch, 1000, when, message)


class TestAggregate(testtools.TestCase):
    def test_figures_per_branch_and_overall(self):
        comments = [
            comment("A CI", ago(1), ok()),
            comment("A CI", ago(3), bad()),
            comment("A CI", ago(6, 23), bad()),  # inside the 7-day window
            comment("A CI", ago(7, 1), ok()),  # outside it, inside 30
            comment("A CI", ago(20), ok(), branch="stable/2025.2"),
            comment("A CI", ago(2), samples.UNKNOWN),
            comment("A CI", ago(2), samples.STARTED),
        ]
        status = aggregate.aggregate(comments, NOW, drivers={"A CI": "acme"})
        ci = status.cis["A CI"]
        self.assertEqual(("acme", 7, 1, 1), (ci.driver, ci.comments, ci.unparsed, ci.info))
        master = ci.branches["master"]
        self.assertEqual((1, 3), master.window[7])
        self.assertEqual((2, 4), master.window[30])
        self.assertEqual(ago(1), master.last_success)
        self.assertEqual(1, master.silent_days(NOW))
        self.assertFalse(master.at_risk(NOW))
        stable = ci.branches["stable/2025.2"]
        self.assertEqual(20, stable.silent_days(NOW))
        self.assertTrue(stable.at_risk(NOW))
        self.assertIsNone(stable.pass_rate(7))
        self.assertEqual((3, 5), ci.overall.window[30])
        self.assertFalse(ci.overall.at_risk(NOW))

    def test_at_risk_after_fourteen_days_without_success(self):
        comments = [
            comment("B CI", ago(14, 1), ok()),
            comment("B CI", ago(1), bad()),
            comment("C CI", ago(13, 23), ok()),
        ]
        status = aggregate.aggregate(comments, NOW)
        self.assertTrue(status.cis["B CI"].overall.at_risk(NOW))
        self.assertEqual(1, status.cis["B CI"].overall.silent_days(NOW))
        self.assertFalse(status.cis["C CI"].overall.at_risk(NOW))

    def test_silent_expected_ci_is_listed_and_at_risk(self):
        status = aggregate.aggregate([], NOW, expected=["Gone CI"])
        data = status.to_dict()["cis"][0]
        self.assertEqual(
            ("Gone CI", True, None), (data["ci"], data["at_risk"], data["overall"]["last_report"])
        )
        self.assertIn("never", table.format_table(status))

    def test_json_shape_and_daily_series(self):
        comments = [comment("A CI", ago(0, 1), ok()), comment("A CI", ago(0, 2), bad())]
        data = aggregate.aggregate(comments, NOW, days=30).to_dict()
        (ci,) = data["cis"]
        self.assertEqual(30, len(ci["daily"]))
        self.assertEqual({"date": "2026-11-20", "successes": 1, "failures": 1}, ci["daily"][-1])
        self.assertEqual(
            {"successes": 1, "reports": 2, "rate": 0.5}, ci["overall"]["pass_rate"]["7d"]
        )
        self.assertEqual("2026-11-20T11:00:00Z", ci["overall"]["last_report"])

    def test_future_comments_are_ignored(self):
        status = aggregate.aggregate(
            [comment("A CI", NOW + datetime.timedelta(hours=1), ok())], NOW
        )
        self.assertEqual(0, status.cis.get("A CI", aggregate.CIStatus("A CI")).overall.reports)

    def test_table(self):
        comments = [
            comment("A CI", ago(1), ok()),
            comment("A CI", ago(2), bad(), branch="stable/2025.1"),
        ]
        text = table.format_table(aggregate.aggregate(comments, NOW, drivers={"A CI": "acme"}))
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("CI"))
        self.assertRegex(
            lines[2],
            r"^A CI\s+acme\s+all\s+2026-11-19\s+SUCCESS\s+2026-11-19\s+1/2\s+1/2\s+1\s+ok\s+0$",
        )
        self.assertRegex(
            lines[4], r"^\s+stable/2025.1\s+2026-11-18\s+FAILURE\s+never\s+0/1\s+0/1\s+2\s+AT RISK$"
        )
