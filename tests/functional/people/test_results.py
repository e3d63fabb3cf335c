"""``ci-tools results`` on subunit streams that a real stestr run wrote.

A small stand-in for a Tempest run (one module, passing, failing, erroring
and skipped tests) runs under stestr twice, as a base run and as the run of
the patch under test; the patch run's stream is gzipped into a Zuul-style
log directory, as jobs publish it.
"""

import gzip
import os
import shutil
import subprocess
import sys
import tempfile

import testtools

SUITE = """
import os
import unittest

BROKEN = os.environ.get("SAMPLE_BROKEN", "").split(",")


class TimeoutException(Exception):
    pass


class VolumesTest(unittest.TestCase):
    def test_create(self):
        pass

    def test_attach(self):
        if "attach" in BROKEN:
            raise TimeoutException("volume 5c1d was not in-use within 196 s")

    def test_extend(self):
        self.assertEqual(2, 1 if "extend" in BROKEN else 2)

    def test_backup(self):
        self.skipTest("backup service not enabled")

    def test_migrate(self):
        if "migrate" in BROKEN:
            raise RuntimeError("host not found")
"""


class TestResults(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="people-results-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        pkg = os.path.join(self.dir, "suite", "sample")
        os.makedirs(pkg)
        open(os.path.join(pkg, "__init__.py"), "w").close()
        with open(os.path.join(pkg, "test_volumes.py"), "w") as f:
            f.write(SUITE)

    def stestr_run(self, broken):
        suite = os.path.join(self.dir, "suite")
        env = dict(os.environ, SAMPLE_BROKEN=",".join(broken))
        stestr = os.path.join(os.path.dirname(sys.executable), "stestr")
        proc = subprocess.run(
            [stestr, "--test-path", "./sample", "--top-dir", ".", "run", "--subunit"],
            cwd=suite,
            env=env,
            capture_output=True,
            timeout=120,
        )
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        shutil.rmtree(os.path.join(suite, ".stestr"), ignore_errors=True)
        return proc.stdout

    def results(self, *args):
        return subprocess.run(
            [sys.executable, "-m", "ci_tools.cli", "results", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_summary_html_and_comparison(self):
        base = os.path.join(self.dir, "base.subunit")
        with open(base, "wb") as f:
            f.write(self.stestr_run(["migrate"]))
        logs = os.path.join(self.dir, "logs", "controller", "tempest")
        os.makedirs(logs)
        with gzip.open(os.path.join(logs, "testrepository.subunit.gz"), "wb") as f:
            f.write(self.stestr_run(["attach", "extend", "migrate"]))
        flaky = os.path.join(self.dir, "flaky.txt")
        with open(flaky, "w") as f:
            f.write("# races in the lab's FC zoning\n\\.test_attach$\n")
        html = os.path.join(self.dir, "testr_results.html")

        proc = self.results(
            os.path.join(self.dir, "logs"),
            "--html",
            html,
            "--compare",
            base,
            "--flaky",
            flaky,
            "--title",
            "refflash-ci-tempest-iscsi",
            "--fail-on-new",
        )
        self.assertEqual(1, proc.returncode, proc.stderr)  # test_extend newly fails
        out = proc.stdout
        self.assertTrue(
            out.startswith("refflash-ci-tempest-iscsi: 1 passed, 3 failed, 1 skipped\n"), out
        )
        self.assertIn(
            "- sample.test_volumes.VolumesTest.test_attach\n"
            "    sample.test_volumes.TimeoutException: volume 5c1d was not in-use within 196 s\n",
            out,
        )
        self.assertIn(
            "- sample.test_volumes.VolumesTest.test_extend\n    AssertionError: 2 != 1\n",
            out,
        )
        self.assertIn(
            "New failures (not failing in the base run, not known flaky): 1\n"
            "- sample.test_volumes.VolumesTest.test_extend\n",
            out,
        )
        self.assertIn("Known flaky: 1\n- sample.test_volumes.VolumesTest.test_attach\n", out)
        self.assertIn(
            "Also failing in the base run: 1\n- sample.test_volumes.VolumesTest.test_migrate\n", out
        )
        with open(html) as f:
            page = f.read()
        self.assertIn("test_extend", page)
        self.assertIn("RuntimeError: host not found", page)

    def test_clean_run_and_bad_input(self):
        stream = os.path.join(self.dir, "ok.subunit")
        with open(stream, "wb") as f:
            f.write(self.stestr_run([]))
        proc = self.results(stream, "--fail-on-new")
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual("Test results: 4 passed, 0 failed, 1 skipped\n", proc.stdout)

        proc = self.results(os.path.join(self.dir, "suite"))
        self.assertEqual(2, proc.returncode)
        self.assertIn("no *.subunit or *.subunit.gz file in this directory", proc.stderr)
