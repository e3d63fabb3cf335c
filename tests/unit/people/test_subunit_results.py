"""Failed tests and first error lines from subunit v2 streams; comparing two runs."""

import datetime
import gzip
import os
import re

import fixtures
import subunit
import testtools

from ci_tools.errors import UsageError
from ci_tools.people import subunit_results as sr

TIMEOUT_TB = """Traceback (most recent call last):
  File "/opt/stack/tempest/tempest/common/waiters.py", line 120, in wait_for_volume_status
    raise lib_exc.TimeoutException(message)
tempest.lib.exceptions.TimeoutException: Request timed out
Details: volume 5c1d was not in in-use status within 196 s
"""

CHAINED_TB = """Traceback (most recent call last):
  File "/opt/stack/cinder/cinder/volume/drivers/refflash/driver.py", line 88, in create_volume
    self.client.post("/volumes", body)
refflash.client.ArrayBusy: array busy (code 503)

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/stack/cinder/cinder/volume/manager.py", line 780, in create_volume
cinder.exception.VolumeBackendAPIException: Bad or unexpected response from the backend API
"""

MISMATCH_TB = """Traceback (most recent call last):
  File "/opt/stack/tempest/tempest/api/volume/test_volumes_get.py", line 41, in test_volume_get
    self.assertEqual(1, 2)
testtools.matchers._impl.MismatchError: 1 != 2
"""

T0 = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)
VOL = "tempest.api.volume"
GET = f"{VOL}.test_volumes_get.VolumesGetTest"
ACT = f"{VOL}.test_volumes_actions.VolumesActionsTest"


def write_stream(path, tests, compress=False):
    """A real subunit v2 stream: (id, status, traceback or None, seconds)."""
    opener = gzip.open if compress else open
    with opener(path, "wb") as f:
        out = subunit.StreamResultToBytes(f)
        for test_id, status, tb, seconds in tests:
            out.status(test_id=test_id, test_status="inprogress", timestamp=T0)
            if tb:
                out.status(
                    test_id=test_id,
                    file_name="traceback",
                    file_bytes=tb.encode(),
                    mime_type="text/x-traceback; charset=utf8",
                    eof=True,
                )
            out.status(
                test_id=test_id,
                test_status=status,
                timestamp=T0 + datetime.timedelta(seconds=seconds),
            )
    return path


NEW_RUN = [
    (f"{GET}.test_volume_create_get[id-1,smoke]", "success", None, 12),
    (f"{ACT}.test_attach_detach[id-2]", "fail", TIMEOUT_TB, 200),
    (f"{VOL}.test_volumes_extend.VolumesExtendTest.test_extend[id-3]", "fail", CHAINED_TB, 30),
    (f"{GET}.test_volume_get[id-4]", "fail", MISMATCH_TB, 3),
    (f"{VOL}.test_volumes_backup.VolumesBackupsTest.test_backup_create[id-5]", "skip", None, 0),
    (f"{VOL}.test_volumes_list.VolumesListTest.test_list[id-6]", "success", None, 4),
]  # fmt: skip
BASE_RUN = [
    (f"{GET}.test_volume_create_get[id-1,smoke]", "success", None, 12),
    (f"{ACT}.test_attach_detach[id-2]", "success", None, 90),
    (f"{VOL}.test_volumes_extend.VolumesExtendTest.test_extend[id-3]", "fail", CHAINED_TB, 30),
    (f"{GET}.test_volume_get[id-4]", "success", None, 3),
    (f"{VOL}.test_volumes_list.VolumesListTest.test_list[id-6]", "fail", MISMATCH_TB, 4),
]  # fmt: skip


class TestFirstErrorLine(testtools.TestCase):
    def test_forms(self):
        self.assertEqual(
            "tempest.lib.exceptions.TimeoutException: Request timed out",
            sr.first_error_line(TIMEOUT_TB),
        )
        # The root cause comes first in a chained traceback.
        self.assertEqual(
            "refflash.client.ArrayBusy: array busy (code 503)", sr.first_error_line(CHAINED_TB)
        )
        self.assertEqual(
            "testtools.matchers._impl.MismatchError: 1 != 2", sr.first_error_line(MISMATCH_TB)
        )
        self.assertEqual("the array went away", sr.first_error_line("\nthe array went away\n\n"))
        self.assertEqual(
            "OSError: gone", sr.first_error_line("setup log\nOSError: gone\nmore log\n")
        )
        self.assertEqual("", sr.first_error_line(""))


class TestRuns(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_summary_lists_failures_with_their_error_line(self):
        run = sr.read_run(write_stream(os.path.join(self.dir, "r.subunit"), NEW_RUN))
        self.assertEqual(
            {"passed": 2, "failed": 3, "skipped": 1, "expected failures": 0}, run.counts()
        )
        self.assertEqual(200.0, run.tests[NEW_RUN[1][0]].duration)
        self.assertEqual(
            "Tempest: 2 passed, 3 failed, 1 skipped\n"
            "\n"
            "Failed tests:\n"
            f"- {NEW_RUN[1][0]}\n"
            "    tempest.lib.exceptions.TimeoutException: Request timed out\n"
            f"- {NEW_RUN[2][0]}\n"
            "    refflash.client.ArrayBusy: array busy (code 503)\n"
            "... and 1 more (see testr_results.html)\n",
            sr.summary(run, max_failures=2, title="Tempest"),
        )

    def test_log_dir_gzip_and_preferred_name(self):
        logs = os.path.join(self.dir, "logs", "controller")
        os.makedirs(os.path.join(logs, "other"))
        write_stream(os.path.join(logs, "other", "unit.subunit"), BASE_RUN)
        write_stream(os.path.join(logs, "testrepository.subunit.gz"), NEW_RUN, compress=True)
        run = sr.read_run(os.path.join(self.dir, "logs"))
        self.assertTrue(run.source.endswith("testrepository.subunit.gz"))
        self.assertEqual(3, len(run.failed))

    def test_compare_new_failures_flaky_and_fixed(self):
        base = sr.read_run(write_stream(os.path.join(self.dir, "b.subunit"), BASE_RUN))
        new = sr.read_run(write_stream(os.path.join(self.dir, "n.subunit"), NEW_RUN))
        flaky = [re.compile(r"test_attach_detach")]
        result = sr.compare(base, new, flaky)
        ids = {k: [t.id for t in v] for k, v in result.items()}
        self.assertEqual([NEW_RUN[3][0]], ids["new"])
        self.assertEqual([NEW_RUN[1][0]], ids["known_flaky"])
        self.assertEqual([NEW_RUN[2][0]], ids["also_in_base"])
        self.assertEqual([NEW_RUN[5][0]], ids["fixed"])
        text = sr.format_comparison(result)
        self.assertIn("New failures (not failing in the base run, not known flaky): 1\n", text)

    def test_flaky_file(self):
        path = os.path.join(self.dir, "flaky.txt")
        with open(path, "w") as f:
            f.write("# known races\ntest_attach_detach  # bug 2001234\n\n")
        self.assertEqual(["test_attach_detach"], [p.pattern for p in sr.load_flaky(path)])
        with open(path, "w") as f:
            f.write("ok\ntest_(\n")
        err = self.assertRaises(UsageError, sr.load_flaky, path)
        self.assertIn("flaky.txt:2: bad regex", err.message)

    def test_bad_input_is_a_clear_error(self):
        text = os.path.join(self.dir, "notes.txt")
        with open(text, "w") as f:
            f.write("this is not subunit\n")
        err = self.assertRaises(UsageError, sr.read_run, text)
        self.assertIn("no test results in this subunit stream", err.message)
        err = self.assertRaises(UsageError, sr.read_run, os.path.join(self.dir, "missing"))
        self.assertIn("no such file or directory", err.message)
        empty = os.path.join(self.dir, "empty-logs")
        os.makedirs(empty)
        err = self.assertRaises(UsageError, sr.read_run, empty)
        self.assertIn("no *.subunit or *.subunit.gz file", err.message)
        with open(os.path.join(self.dir, "cut.subunit.gz"), "wb") as f:
            f.write(gzip.compress(b"x" * 100)[:20])
        err = self.assertRaises(UsageError, sr.read_run, os.path.join(self.dir, "cut.subunit.gz"))
        self.assertIn("not a readable subunit stream", err.message)

    def test_html_by_subunit2html(self):
        stream = write_stream(os.path.join(self.dir, "r.subunit"), NEW_RUN)
        html = sr.write_html(stream, os.path.join(self.dir, "testr_results.html"))
        with open(html) as f:
            page = f.read()
        self.assertIn("subunit2html", page)
        self.assertIn("test_attach_detach", page)
        self.assertIn("TimeoutException: Request timed out", page)
