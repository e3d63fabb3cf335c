"""Shared helpers for the ZTSP functional tests: run the CLI, run commands in the lab."""

import json
import os
import shutil
import subprocess
import sys
import tempfile

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

    def link(self, state, array=1):
        cli("ztsp", "lab", "link", "--work-dir", self.work, "--array", str(array), state)
