"""The sandbox says why a run failed: the job, its result, the task and its message."""

import os

import testtools

from ci_tools.sandbox import diagnose

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "job-output")

REPORT = """Patch Set 1:

Build failed (check pipeline).
http://127.0.0.1:1/t/refflash/buildset/abc

- refflash-ci-tempest-iscsi http://127.0.0.1:1/t/refflash/build/1 : RETRY_LIMIT in 26s
- refflash-ci-tempest-fc http://127.0.0.1:1/t/refflash/build/2 : SUCCESS in 5m 02s
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


class TestFailedTasks(testtools.TestCase):
    def test_first_real_failure_ignored_ones_skipped(self):
        failures = diagnose.failed_tasks(fixture("retry-limit-rsync.txt"))
        self.assertEqual(2, len(failures))
        first = failures[0]
        self.assertEqual(("PRE-RUN", "playbooks/base/pre.yaml"), (first.phase, first.playbook))
        self.assertEqual(
            "prepare-workspace : Push the prepared repos from the executor", first.task
        )
        self.assertEqual("controller", first.host)
        self.assertIn("Failed to find required executable rsync", first.message)
        self.assertEqual("POST-RUN", failures[1].phase)

    def test_command_stderr_beats_ansible_summary(self):
        ts = "2026-12-04 19:03:43.473944"
        out = "\n".join([
            f"{ts} | RUN START: [trusted : localhost/ci-config/playbooks/tempest/run.yaml@master]",
            f"{ts} | TASK [Read the change's commit message]",
            f"{ts} | controller | fatal: cannot change to 'src': No such file or directory",
            "2026-12-04 19:03:43.473944 | controller | ERROR",
            "2026-12-04 19:03:43.474244 | controller | {",
            '2026-12-04 19:03:43.474290 | controller |   "msg": "non-zero return code",',
            '2026-12-04 19:03:43.474329 | controller |   "rc": 128',
            "2026-12-04 19:03:43.474450 | controller | }",
        ])  # fmt: skip
        (failure,) = diagnose.failed_tasks(out)
        self.assertEqual("cannot change to 'src': No such file or directory (rc 128)",
                         failure.message)  # fmt: skip

    def test_the_error_line_not_the_closing_note(self):
        ts = "2026-12-04 20:06:14.728147"
        out = "\n".join([
            f"{ts} | PRE-RUN START: [trusted : l/ci-config/playbooks/tempest/pre.yaml@master]",
            f"{ts} | TASK [devstack-lite : Install cinder]",
            f"{ts} | controller |       ERROR: No matching distribution found for pbr>=6.1.1",
            f"{ts} | controller | note: This error originates from a subprocess.",
            f"{ts} | controller | ERROR",
            f"{ts} | controller | {{",
            f'{ts} | controller |   "msg": "non-zero return code",',
            f'{ts} | controller |   "rc": 1',
            f"{ts} | controller | }}",
        ])  # fmt: skip
        (failure,) = diagnose.failed_tasks(out)
        self.assertEqual("ERROR: No matching distribution found for pbr>=6.1.1 (rc 1)",
                         failure.message)  # fmt: skip

    def test_empty_output(self):
        self.assertEqual([], diagnose.failed_tasks(""))


class TestExplain(testtools.TestCase):
    def test_retry_limit_names_the_step(self):
        builds = [{"job_name": "refflash-ci-tempest-iscsi", "result": "RETRY_LIMIT",
                   "log_url": "http://logs/1/", "error_detail": None}]  # fmt: skip
        fetched = []

        def fetch(url):
            fetched.append(url)
            return fixture("retry-limit-rsync.txt")

        passed, text = diagnose.explain(REPORT, builds, fetch)
        self.assertFalse(passed)
        self.assertEqual(["http://logs/1/job-output.txt"], fetched)
        self.assertIn("refflash-ci-tempest-iscsi ended RETRY_LIMIT", text)
        self.assertIn('"prepare-workspace : Push the prepared repos from the executor"', text)
        self.assertIn("rsync", text)
        self.assertNotIn("tempest-fc", text)

    def test_success(self):
        ok = REPORT.replace("RETRY_LIMIT", "SUCCESS")
        self.assertEqual((True, "all 2 jobs succeeded"), diagnose.explain(ok, [], None))

    def test_no_logs_and_no_jobs(self):
        passed, text = diagnose.explain(REPORT, [], lambda url: None)
        self.assertFalse(passed)
        self.assertIn("no logs were published", text)
        passed, text = diagnose.explain("Patch Set 1:\n\nMerge Failed.", [], None)
        self.assertFalse(passed)
        self.assertIn("names no job results", text)
