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


class TestRealWorldShapes(testtools.TestCase):
    """Comment shapes third-party CIs post on review.opendev.org."""

    def test_zuul_merge_failure_is_information(self):
        text = ("Patch Set 4:\n\nMerge Failed.\n\nThis change or one of its cross-repo "
                "dependencies was unable to be automatically merged with the current state of "
                "its repository. Please rebase the change and upload a new patchset.")  # fmt: skip
        self.assertEqual("info", parse.parse_comment(text).kind)
        bare = "Patch Set 4:\n\nThis change was unable to be automatically merged."
        self.assertEqual("info", parse.parse_comment(bare).kind)

    def test_build_succeeded_above_a_failed_voting_job_is_a_failure(self):
        text = (
            "Patch Set 2: Verified+1\n\nBuild succeeded.\n\n"
            "- acme-tempest-iscsi http://logs.acme.example/12/3/ : FAILURE in 1h 02m 03s\n"
            "- acme-tempest-fc http://logs.acme.example/12/4/ : SUCCESS in 58m 10s\n"
        )
        report = parse.parse_comment(text)
        self.assertEqual(("result", "FAILURE"), (report.kind, report.result))
        nonvoting = text.replace("FAILURE in 1h 02m 03s", "FAILURE in 1h 02m 03s (non-voting)")
        self.assertEqual("SUCCESS", parse.parse_comment(nonvoting).result)

    def test_vote_only_reset_is_information(self):
        self.assertEqual("info", parse.parse_comment("Patch Set 7: -Verified").kind)
        self.assertEqual("info", parse.parse_comment("Patch Set 7: -Verified\n\n").kind)

    def test_free_form_passed_and_failed(self):
        text = "Patch Set 1:\n\nAcme Storage tempest run PASSED. Logs at http://ci.acme.example/1"
        passed = parse.parse_comment(text)
        self.assertEqual(("result", "SUCCESS"), (passed.kind, passed.result))
        failed = parse.parse_comment("Patch Set 1:\n\nThe job FAILED, see http://ci.acme.example/1")
        self.assertEqual(("result", "FAILURE"), (failed.kind, failed.result))
        # Lower-case prose is not a verdict.
        self.assertEqual(
            "unparsed", parse.parse_comment("Patch Set 1:\n\nthe run passed for me").kind
        )

    def test_gerrit_trigger_lines_without_a_dash(self):
        text = (
            "Patch Set 3: Verified-1\n\nBuild Failed\n\n"
            "http://jenkins.acme.example/job/cinder-acme-dsvm-iscsi/4242/ : FAILURE\n"
            "http://jenkins.acme.example/job/cinder-acme-dsvm-fc/4243/ : SUCCESS\n"
        )
        report = parse.parse_comment(text)
        self.assertEqual("FAILURE", report.result)
        self.assertEqual(["cinder-acme-dsvm-iscsi", "cinder-acme-dsvm-fc"],
                         [j.name for j in report.jobs])  # fmt: skip
        ok = parse.parse_comment(
            "Patch Set 3:\n\nhttp://ci.acme.example/job/acme-tempest/9/ : SUCCESS"
        )
        self.assertEqual(("result", "SUCCESS"), (ok.kind, ok.result))

    def test_the_kits_own_reports(self):
        text = (
            "Patch Set 1: Verified+1\n\nBuild succeeded (check pipeline).\n"
            "http://z/t/a/buildset/1\n\n- acme-tempest-iscsi http://z/b/1 : SUCCESS in 42s\n"
        )
        ok = parse.parse_comment(text)
        self.assertEqual("SUCCESS", ok.result)
        text = ("Patch Set 1:\n\nBuild succeeded (check pipeline).\n\nNo Acme CI job needs "
                "to run: this change touches only documentation.")  # fmt: skip
        nojobs = parse.parse_comment(text)
        self.assertEqual(("result", "SUCCESS"), (nojobs.kind, nojobs.result))
        text = ("Patch Set 1: Verified-1\n\nvote-guard: Verified-1 for the build reported "
                "above: test failures in acme-tempest-iscsi.")  # fmt: skip
        guard = parse.parse_comment(text)
        self.assertEqual("info", guard.kind)


class TestCIAccounts(testtools.TestCase):
    """CI accounts as review.opendev.org groups them, the name pattern as fallback."""

    class Client:
        def __init__(self, answer):
            self.answer = answer
            self.paths = []

        def get(self, path, params=None):
            from ci_tools.errors import ServiceError

            self.paths.append(path)
            if isinstance(self.answer, Exception):
                raise ServiceError("404 Not found")
            return self.answer

    def test_group_members_count_whatever_their_name(self):
        from ci_tools.people import source

        client = self.Client([{"_account_id": 7, "username": "acme-storage", "name": "Acme"}])
        members = source.group_members(client, "Third-Party CI")
        self.assertEqual(["groups/Third-Party%20CI/members/"], client.paths)
        acme = {"_account_id": 7, "name": "Acme", "username": "acme-storage"}
        self.assertTrue(source.is_ci_account(acme, (), source.DEFAULT_CI_PATTERN, members))
        self.assertFalse(source.is_ci_account(acme, (), source.DEFAULT_CI_PATTERN, None))
        # Outside the group, a "<Company> CI" name still counts (the fallback).
        other = {"_account_id": 8, "name": "Other Vendor CI"}
        self.assertTrue(source.is_ci_account(other, (), source.DEFAULT_CI_PATTERN, members))
        person = {"_account_id": 9, "name": "Jane Developer"}
        self.assertFalse(source.is_ci_account(person, (), source.DEFAULT_CI_PATTERN, members))

    def test_an_unreadable_group_falls_back_to_names(self):
        from ci_tools.people import source

        self.assertIsNone(source.group_members(self.Client(Exception()), "Third-Party CI"))
