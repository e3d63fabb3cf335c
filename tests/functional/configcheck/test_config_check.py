"""``ci-tools config check`` against a real Zuul: this repo is clean, a broken job is named."""

import io
import os
import shutil
import subprocess
import tempfile
from contextlib import redirect_stdout

import testtools

from ci_tools import cli
from ci_tools.harness.zuul_daemons import zuul_venv

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))

BROKEN_JOB = """\
# A job whose parent does not exist: Zuul must refuse it.
- job:
    name: refflash-ci-broken-on-purpose
    parent: no-such-parent-job
    run: playbooks/base/pre.yaml
"""


def copy_repo(dest):
    """A copy of the working tree (as the check itself sees it) to break safely."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    for rel in filter(None, files):
        src = os.path.join(REPO, rel)
        if not os.path.isfile(src):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


class TestConfigCheck(testtools.TestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(os.path.join(zuul_venv(), "bin", "zuul-scheduler")):
            self.fail("Zuul venv missing: run tools/test-setup.sh")
        self.work = tempfile.mkdtemp(prefix="cfgcheck-", dir="/var/tmp")
        os.chmod(self.work, 0o711)
        self.addCleanup(shutil.rmtree, self.work, True)

    def run_cli(self, *argv):
        out = io.StringIO()
        with redirect_stdout(out):
            rc = cli.main(["config", "check", *argv])
        return rc, out.getvalue()

    def test_this_repo_has_zero_config_errors(self):
        rc, out = self.run_cli("--repo", REPO, "--work-dir", os.path.join(self.work, "w"),
                               "--no-lint")  # fmt: skip
        self.assertIn("zuul: 0 config errors in tenant", out)
        self.assertEqual(0, rc, out)

    def test_broken_job_is_named_with_file_and_line(self):
        repo = os.path.join(self.work, "repo")
        copy_repo(repo)
        with open(os.path.join(repo, "zuul.d", "zz-broken.yaml"), "w") as f:
            f.write(BROKEN_JOB)
        rc, out = self.run_cli("--repo", repo, "--work-dir", os.path.join(self.work, "w"),
                               "--no-lint")  # fmt: skip
        self.assertEqual(1, rc, out)
        self.assertIn("zuul: 1 config error in tenant", out)
        # file and line of the stanza, and the job and the missing parent by name
        self.assertRegex(out, r"zuul\.d/zz-broken\.yaml:2: error: .*no-such-parent-job")
        self.assertIn("refflash-ci-broken-on-purpose", out)
