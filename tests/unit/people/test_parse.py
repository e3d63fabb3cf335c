"""Result lines of third-party CI comments: ours, Zuul's and real-world forms."""

import testtools

from ci_tools.people import parse
from tests import people_samples as samples

LOG = "https://refflash-ci-logs.example.com/45/912345/3/check/refflash-ci-tempest-iscsi/0a1b2c3"


class TestOurFormat(testtools.TestCase):
    def test_success_with_durations(self):
        comment = samples.our_comment(
            [
                ("refflash-ci-tempest-iscsi", LOG, "SUCCESS", 3723),
                ("refflash-ci-tempest-fc", LOG + "-fc", "SUCCESS", 2710),
            ],
            patchset=3,
        )
        report = parse.parse_comment(comment)
        self.assertEqual(
            ("result", "SUCCESS", "zuul", 3),
            (report.kind, report.result, report.fmt, report.patchset),
        )
        self.assertEqual(
            [
                ("refflash-ci-tempest-iscsi", LOG, "SUCCESS", 3723, True),
                ("refflash-ci-tempest-fc", LOG + "-fc", "SUCCESS", 2710, True),
            ],
            [(j.name, j.url, j.result, j.duration, j.voting) for j in report.jobs],
        )

    def test_failure_non_voting_and_short_durations(self):
        comment = samples.our_comment(
            [
                ("refflash-ci-tempest-iscsi", LOG, "FAILURE", 605),
                ("refflash-ci-tempest-fc", LOG + "-fc", "POST_FAILURE", 42, False),
            ],
            vote=-1,
        )
        report = parse.parse_comment(comment)
        self.assertEqual("FAILURE", report.result)
        self.assertEqual([605, 42], [j.duration for j in report.jobs])
        self.assertEqual([True, False], [j.voting for j in report.jobs])
        self.assertEqual("POST_FAILURE", report.jobs[1].result)

    def test_merge_conflict_is_not_a_result(self):
        message = samples.check_pipeline()["merge-conflict-message"]
        self.assertEqual("info", parse.parse_comment(f"Patch Set 2:\n\n{message}").kind)

    def test_vote_guard_message_is_not_a_second_result(self):
        # The guard votes on the report above it; counting it would double the run.
        text = (
            "Patch Set 2: Verified-1\n\nvote-guard: Verified-1 from the Reference Flash "
            "RefFlash CI report above: test failures in refflash-ci-tempest-iscsi."
        )
        self.assertEqual("info", parse.parse_comment(text).kind)

    def test_build_without_log_url(self):
        comment = samples.our_comment([("refflash-ci-tempest-iscsi", None, "NODE_FAILURE", None)])
        (job,) = parse.parse_comment(comment).jobs
        self.assertEqual(
            ("refflash-ci-tempest-iscsi", None, "NODE_FAILURE", None),
            (job.name, job.url, job.result, job.duration),
        )


class TestOtherFormats(testtools.TestCase):
    def test_old_zuul_build_failed(self):
        report = parse.parse_comment(samples.OLD_ZUUL_FAILED)
        self.assertEqual(("result", "FAILURE", 2), (report.kind, report.result, report.patchset))
        self.assertEqual([4325, 3490], [j.duration for j in report.jobs])

    def test_star_lines_with_header(self):
        report = parse.parse_comment(samples.STAR_SUCCEEDED)
        self.assertEqual("SUCCESS", report.result)
        self.assertEqual([3720, 3300], [j.duration for j in report.jobs])
        self.assertEqual("http://logs.example.org/fc/1", report.jobs[0].url)

    def test_star_lines_without_header_ignore_non_voting(self):
        report = parse.parse_comment(samples.STAR_NO_HEADER)
        self.assertEqual(("result", "SUCCESS", "zuul"), (report.kind, report.result, report.fmt))

    def test_plain_ci_result(self):
        self.assertEqual(("result", "SUCCESS", "plain"), _summary(samples.PLAIN_SUCCESS))
        self.assertEqual(("result", "FAILURE", "plain"), _summary(samples.PLAIN_FAILURE))

    def test_vote_only(self):
        self.assertEqual(("result", "SUCCESS", "vote"), _summary(samples.VOTE_ONLY))
        self.assertEqual(
            ("result", "FAILURE", "vote"), _summary("Patch Set 9: Verified-1\n\nsee logs")
        )

    def test_non_results(self):
        self.assertEqual(("info", None, None), _summary(samples.STARTED))
        self.assertEqual(("info", None, None), _summary("Patch Set 1:\n\nMerge Failed.\n\nrebase"))

    def test_unknown_text_is_unparsed_not_an_error(self):
        for odd in (samples.UNKNOWN, "", "\x00\xff", None, 42, "Patch Set x:", "- : :"):
            self.assertEqual("unparsed", parse.parse_comment(odd).kind, repr(odd))


class TestDuration(testtools.TestCase):
    def test_forms(self):
        self.assertEqual(3723, parse.parse_duration(" in 1h 02m 03s"))
        self.assertEqual(3720, parse.parse_duration(" in 1h 2m"))
        self.assertEqual(300, parse.parse_duration(" in 5m"))
        self.assertEqual(45, parse.parse_duration(" in 45s (non-voting)"))
        self.assertIsNone(parse.parse_duration(" (non-voting)"))


def _summary(message):
    report = parse.parse_comment(message)
    return report.kind, report.result, report.fmt
