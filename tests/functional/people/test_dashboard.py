"""The status dashboard, rendered by headless Chromium as a person would see it.

Chromium runs in its own network namespace (``unshare -rn``): the page is
a local file and must need nothing from any network. The screenshot is kept
as a test artifact in ``$CI_KIT_TEST_ARTIFACTS`` (default:
``.test-artifacts/`` in the repo).
"""

import os
import shutil
import struct
import subprocess
import sys
import tempfile

import testtools

from tests.functional.people import history
from tests.functional.people.test_status import iso, start_emulator_with_history

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
WIDTH, HEIGHT = 1280, 1700


def artifacts_dir():
    path = os.environ.get("CI_KIT_TEST_ARTIFACTS") or os.path.join(REPO_ROOT, ".test-artifacts")
    os.makedirs(path, exist_ok=True)
    return path


def chromium(profile, *args):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        raise AssertionError("chromium is not installed: run tools/test-setup.sh (bindep [test])")
    cmd = ["unshare", "-rn", exe, "--headless", "--no-sandbox", "--disable-gpu"]
    cmd += ["--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


class TestDashboard(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.gerrit, self.now, _, _ = start_emulator_with_history(self)
        self.tmp = tempfile.mkdtemp(prefix="people-dashboard-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_dashboard_renders_in_chromium(self):
        page = os.path.join(self.tmp, "status.html")
        cmd = [sys.executable, "-m", "ci_tools.cli", "status", "--gerrit", self.gerrit.url]
        cmd += ["--now", iso(self.now), "--rate", "0", "--cache-dir", "", "--html", page]
        for key in history.CI_KEYS:
            acc = history.ACCOUNTS[key]
            cmd += ["--ci", f"{acc.name}={acc.driver}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(0, proc.returncode, proc.stderr)
        with open(page) as f:
            source = f.read()
        self.assertNotIn("<script", source.lower())

        dom = chromium(os.path.join(self.tmp, "p1"), "--dump-dom", "file://" + page)
        self.assertEqual(0, dom.returncode, dom.stderr)
        text = dom.stdout
        stamp = self.now.strftime("%Y-%m-%d %H:%M UTC")
        self.assertIn(f"<title>Third-party CI status – {stamp}</title>", text)
        self.assertIn(
            '<p class="summary" id="summary">6 CIs, 2 at risk: Gizmo Storage CI, Nimble CI</p>',
            text,
        )
        # Two at-risk CIs, each on three branches plus "all".
        self.assertEqual(8, text.count('<td class="risk">AT RISK</td>'))
        self.assertIn("<h3>Reference Flash RefFlash CI (refflash)</h3>", text)
        self.assertEqual(7, text.count("<svg"))  # six pass-rate charts and the silence chart
        self.assertIn("18d silent, 18d without success", text)
        self.assertIn("105 comments in unknown formats were counted as unparsed.", text)

        shot = os.path.join(artifacts_dir(), "status-dashboard.png")
        if os.path.exists(shot):
            os.unlink(shot)
        run = chromium(
            os.path.join(self.tmp, "p2"),
            "--hide-scrollbars",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            "file://" + page,
        )
        self.assertEqual(0, run.returncode, run.stderr)
        self.assertEqual((WIDTH, HEIGHT), png_size(shot))
        # A blank page compresses to a few kB; tables and charts do not.
        self.assertGreater(os.path.getsize(shot), 100_000)
        shutil.copy(page, os.path.join(artifacts_dir(), "status-dashboard.html"))
