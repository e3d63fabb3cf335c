"""``ci-tools status`` against a month of generated history served over real HTTP.

The figures ``status`` prints (parsed from comment text read through the
REST API, paged) must equal those computed from the generator's own record
of what each CI reported. Until the Gerrit emulator can be populated, the
history is served by the test-only REST server beside this file.
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

import testtools

from tests.functional.people import history
from tests.functional.people.test_only_gerrit_rest import TestOnlyGerritREST


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


class StatusTestBase(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.changes, self.events = history.generate()
        self.server = TestOnlyGerritREST(self.changes, history.NOW).start()
        self.addCleanup(self.server.stop)
        self.tmp = tempfile.mkdtemp(prefix="people-status-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.tmp], check=False)

    def ci_args(self):
        args = []
        for key in history.CI_KEYS:
            acc = history.ACCOUNTS[key]
            args += ["--ci", f"{acc.name}={acc.driver}"]
        return args

    def status(self, *extra, check=True):
        cmd = [sys.executable, "-m", "ci_tools.cli", "status", "--gerrit", self.server.url]
        cmd += ["--now", iso(history.NOW), "--rate", "0", "--cache-dir", ""] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if check and proc.returncode != 0:
            self.fail(f"status exited {proc.returncode}: {proc.stderr}")
        return proc


class TestStatusFigures(StatusTestBase):
    def test_figures_equal_hand_computed_ones(self):
        proc = self.status("--format", "json", "--page-size", "25", *self.ci_args())
        data = json.loads(proc.stdout)
        expected = history.expected_figures(self.events)
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
                silent = (history.NOW - fig["last_report"]) // datetime.timedelta(days=1)
                self.assertEqual(silent, out["silent_days"], where)
                at_risk = fig["last_success"] is None or (
                    history.NOW - fig["last_success"] > datetime.timedelta(days=14)
                )
                self.assertEqual(at_risk, out["at_risk"], where)
        # The scenario's story, as a release manager reads it.
        at_risk = sorted(name for name, ci in got.items() if ci["at_risk"])
        self.assertEqual(["Gizmo Storage CI", "Nimble CI"], at_risk)
        self.assertEqual(10, got["Widget CI"]["overall"]["silent_days"])
        self.assertEqual(18, got["Nimble CI"]["overall"]["silent_days"])
        self.assertEqual("refflash", got["Reference Flash RefFlash CI"]["driver"])
        self.assertGreater(got["Oddball CI"]["unparsed"], 10)
        # Every page was read, with Gerrit's S=/n= paging, one query per project.
        for project in history.BRANCHES:
            count = sum(c["project"] == project for c in self.changes)
            quoted = urllib.parse.quote_plus(f"project:{project}")
            starts = [
                int(urllib.parse.parse_qs(urllib.parse.urlsplit(p).query)["S"][0])
                for _, p, _ in self.server.requests
                if f"q={quoted}+" in p
            ]
            self.assertEqual(list(range(0, count, 25)), starts, project)
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
        self.server.faults = ["503", "503", 1.5]
        proc = self.status("--timeout", "0.5", "--backoff", "0.05", "--format", "json")
        self.assertIn("HTTP 503; retry 1", proc.stderr)
        self.assertIn("HTTP 503; retry 2", proc.stderr)
        self.assertIn("timed out after 0.5s; retry 3", proc.stderr)
        data = json.loads(proc.stdout)
        self.assertEqual(3, len(data["gerrit"]["problems"]))
        self.assertEqual(6, len(data["cis"]))

    def test_gives_up_with_a_clear_error(self):
        self.server.faults = ["503"] * 100
        proc = self.status("--retries", "2", "--backoff", "0.01", check=False)
        self.assertEqual(4, proc.returncode)
        self.assertIn("gave up after 3 tries: HTTP 503", proc.stderr)
        self.assertEqual(3, len(self.server.requests))

    def test_cache_and_rate_limit(self):
        cache = os.path.join(self.tmp, "cache")
        first = self.status("--cache-dir", cache, "--rate", "4", "--format", "json")
        sent = len(self.server.requests)
        times = [t for _, _, t in self.server.requests]
        self.assertGreaterEqual(min(b - a for a, b in zip(times, times[1:], strict=False)), 0.2)
        second = self.status("--cache-dir", cache, "--format", "json")
        self.assertEqual(sent, len(self.server.requests), "second run should be served from cache")
        self.assertEqual(json.loads(first.stdout)["cis"], json.loads(second.stdout)["cis"])
        self.assertEqual(sent, json.loads(second.stdout)["gerrit"]["cache_hits"])
        time.sleep(1.1)
        self.status("--cache-dir", cache, "--cache-ttl", "1")
        self.assertEqual(2 * sent, len(self.server.requests), "expired cache entries are refetched")
