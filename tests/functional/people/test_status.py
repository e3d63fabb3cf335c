"""``ci-tools status`` against the Gerrit emulator holding a generated month of history.

The figures ``status`` prints (parsed from comment text read through the
emulator's REST API, paged) must equal those computed from the generator's
own record of what each CI reported.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import testtools

from ci_tools.gerrit.fixture import GerritEmulator
from tests.functional.people import emulator_history, history


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def start_emulator_with_history(test):
    """A running emulator holding the month up to now (the emulator's ``-age:``
    works on its own clock); returns (emulator, now, changes, events)."""
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    changes, events = history.generate(now=now)
    work = tempfile.mkdtemp(prefix="people-status-")
    test.addCleanup(shutil.rmtree, work, True)
    gerrit = GerritEmulator(os.path.join(work, "emu")).start()
    test.addCleanup(gerrit.stop)
    emulator_history.load(gerrit, changes)
    return gerrit, now, changes, events


class StatusTestBase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.gerrit, self.now, self.changes, self.events = start_emulator_with_history(self)
        self.tmp = tempfile.mkdtemp(prefix="people-status-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def ci_args(self):
        args = []
        for key in history.CI_KEYS:
            acc = history.ACCOUNTS[key]
            args += ["--ci", f"{acc.name}={acc.driver}"]
        return args

    def status(self, *extra, check=True):
        cmd = [sys.executable, "-m", "ci_tools.cli", "status", "--gerrit", self.gerrit.url]
        cmd += ["--now", iso(self.now), "--rate", "0", "--cache-dir", ""] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            self.fail(f"status exited {proc.returncode}: {proc.stderr}")
        return proc


class TestStatusFigures(StatusTestBase):
    def test_figures_equal_hand_computed_ones(self):
        proc = self.status("--format", "json", "--page-size", "25", *self.ci_args())
        data = json.loads(proc.stdout)
        expected = history.expected_figures(self.events, self.now)
        got = {ci["ci"]: ci for ci in data["cis"]}
        self.assertEqual(sorted(expected), sorted(got))
        for name, branches in expected.items():
            ci = got[name]
            self.assertEqual(branches["*"]["unparsed"], ci["unparsed"], name)
            for branch, fig in branches.items():
                out = ci["overall"] if branch == "*" else ci["branches"][branch]
                where = f"{name} {branch}"
                self.assertEqual(iso(fig["last_report"]), out["last_report"], where)
                self.assertEqual(iso(fig["last_success"]), out["last_success"], where)
                for window in ("7d", "30d"):
                    self.assertEqual(
                        fig[window],
                        [
                            out["pass_rate"][window]["successes"],
                            out["pass_rate"][window]["reports"],
                        ],
                        f"{where} {window}",
                    )
                silent = (self.now - fig["last_report"]) // datetime.timedelta(days=1)
                self.assertEqual(silent, out["silent_days"], where)
                at_risk = fig["last_success"] is None or (
                    self.now - fig["last_success"] > datetime.timedelta(days=14)
                )
                self.assertEqual(at_risk, out["at_risk"], where)
        # The scenario's story, as a release manager reads it.
        at_risk = sorted(name for name, ci in got.items() if ci["at_risk"])
        self.assertEqual(["Gizmo Storage CI", "Nimble CI"], at_risk)
        self.assertEqual(10, got["Widget CI"]["overall"]["silent_days"])
        self.assertEqual(18, got["Nimble CI"]["overall"]["silent_days"])
        self.assertEqual("refflash", got["Reference Flash RefFlash CI"]["driver"])
        self.assertGreater(got["Oddball CI"]["unparsed"], 10)
        # Every page was read (S=/n=, following _more_changes), one query per
        # project: ceil(changes / 25) requests each.
        pages = sum(
            -(-sum(c["project"] == p for c in self.changes) // 25) for p in history.BRANCHES
        )
        self.assertEqual(pages, data["gerrit"]["requests"])
        self.assertEqual([], data["gerrit"]["problems"])

    def test_ci_accounts_found_by_name_without_a_list(self):
        data = json.loads(self.status("--format", "json").stdout)
        names = sorted(ci["ci"] for ci in data["cis"])
        self.assertEqual(sorted(history.ACCOUNTS[k].name for k in history.CI_KEYS), names)

    def test_table_and_fail_at_risk_exit_code(self):
        proc = self.status(*self.ci_args(), "--fail-at-risk", check=False)
        self.assertEqual(1, proc.returncode, proc.stderr)
        self.assertIn("at risk: Gizmo Storage CI, Nimble CI", proc.stderr)
        rows = {line.split("  ")[0]: line for line in proc.stdout.splitlines()}
        self.assertRegex(rows["Gizmo Storage CI"], r"\bgizmo\s+all\b.*\bFAILURE\b.*\bAT RISK\s+0$")
        self.assertRegex(rows["Widget CI"], r"\bwidget\s+all\b.*\s10\s+ok\s+0$")
        self.assertIn("CI comments in unknown formats were counted as unparsed", proc.stdout)


class TestGerritTrouble(StatusTestBase):
    def test_errors_and_timeouts_are_retried_and_reported(self):
        self.gerrit.faults.fail_rest(503, calls=2)
        proc = self.status("--backoff", "0.05", "--format", "json")
        self.assertIn("HTTP 503; retry 1 in 0.05s", proc.stderr)
        self.assertIn("HTTP 503; retry 2 in 0.1s", proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual(2, len(data["gerrit"]["problems"]), data["gerrit"]["problems"])
        self.assertEqual(6, len(data["cis"]))

        # Held past the client's timeout; the retry comes after the held call ended.
        self.gerrit.faults.delay_rest(1.5, calls=1)
        proc = self.status("--timeout", "0.5", "--backoff", "1.2", "--format", "json")
        problems = json.loads(proc.stdout)["gerrit"]["problems"]
        self.assertEqual(1, len(problems), problems)
        self.assertIn("timed out after 0.5s; retry 1 in 1.2s", problems[0])

    def test_gives_up_with_a_clear_error(self):
        self.gerrit.faults.fail_rest(503, calls=100)
        proc = self.status("--retries", "2", "--backoff", "0.01", check=False)
        self.assertEqual(4, proc.returncode)
        self.assertIn("gave up after 3 tries: HTTP 503", proc.stderr)
        # Three tries each, no more: the "Third-Party CI" group lookup (then the
        # name pattern stands in for it), and the change query that gives up.
        self.assertEqual(100 - 2 * 3, self.gerrit.faults.state()["fail_calls"])

    def test_cache_and_rate_limit(self):
        cache = os.path.join(self.tmp, "cache")
        started = time.monotonic()
        first = self.status(
            "--cache-dir", cache, "--rate", "4", "--page-size", "25", "--format", "json"
        )
        elapsed = time.monotonic() - started
        sent = json.loads(first.stdout)["gerrit"]["requests"]
        self.assertGreater(sent, 4)
        self.assertGreaterEqual(elapsed, (sent - 1) / 4)  # at most 4 requests a second
        second = self.status("--cache-dir", cache, "--page-size", "25", "--format", "json")
        again = json.loads(second.stdout)
        self.assertEqual((0, sent), (again["gerrit"]["requests"], again["gerrit"]["cache_hits"]))
        self.assertEqual(json.loads(first.stdout)["cis"], again["cis"])
        time.sleep(1.1)
        third = self.status("--cache-dir", cache, "--cache-ttl", "1", "--page-size", "25",
                            "--format", "json")  # fmt: skip
        self.assertEqual(sent, json.loads(third.stdout)["gerrit"]["requests"], "expired: refetched")
