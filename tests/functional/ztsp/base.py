"""Shared helpers for the ZTSP functional tests: run the CLI, run commands in the lab."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import testtools

from ci_tools.ztsp import lab as lab_mod

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def cli(*args, check=True, timeout=120):
    proc = subprocess.run(
        [sys.executable, "-m", "ci_tools.cli", *args],
        capture_output=True,
        text=True,
        cwd=TOP,
        timeout=timeout,
    )
    if check and proc.returncode:
        raise AssertionError(
            f"ci-tools {' '.join(args)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


class LabTestCase(testtools.TestCase):
    """Builds a lab with ``ci-tools ztsp lab up``; always removes it."""

    lab_args = ()
    # seconds for ``lab up``; a DevStack-lite node deploys a whole stack
    lab_timeout = 120

    def setUp(self):
        super().setUp()
        missing = lab_mod.missing_tools()
        if missing:
            self.fail(f"missing {', '.join(missing)}: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="ztsp-lab-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.addCleanup(self._down)
        self.up_out = cli(
            "ztsp", "lab", "up", "--work-dir", self.work, *self.lab_args, timeout=self.lab_timeout
        ).stdout
        with open(os.path.join(self.work, "lab.json")) as f:
            self.lab = json.load(f)

    def _down(self):
        if os.path.exists(os.path.join(self.work, "lab.json")):
            lab_mod.Lab.load(self.work).down()
        # whatever happened, no namespace of this lab may outlive the test
        prefix = getattr(self, "lab", {}).get("prefix")
        if prefix:
            left = [ns for ns in lab_mod.existing_namespaces() if ns.startswith(prefix + "-")]
            lab_mod.teardown(left)

    def in_ns(self, ns, argv, check=True, timeout=60, **kw):
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            **kw,
        )
        if check and proc.returncode:
            raise AssertionError(
                f"{ns}: {' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    # The switch's snmpd samples each port once a second (DisMan ``monitor
    # -r 1``, one monitor per trap, each on its own clock) and traps on a
    # change it sampled: a port that changes back within that time is never
    # seen by the other monitor, and its trap never comes, as on a real switch
    # whose agent polls. Cabling by hand keeps a state longer than that.
    LINK_HOLD = 3.0

    def link(self, state, array=1):
        changed = self.__dict__.setdefault("_link_changed_at", {})
        if array in changed:
            time.sleep(max(0.0, changed[array] + self.LINK_HOLD - time.monotonic()))
        cli("ztsp", "lab", "link", "--work-dir", self.work, "--array", str(array), state)
        changed[array] = time.monotonic()
