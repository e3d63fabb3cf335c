"""doc/gertty.rst's snippet, loaded by gertty 1.6.0 itself, reads our real report.

gertty runs from its own venv (tools/setup-gertty.sh): its config schema
accepts the snippet, its comment link turns each job line of our report into
a test result, its palette registers with urwid, and hide-comments folds CI
accounts only.
"""

import json
import os
import subprocess

import fixtures
import testtools
import yaml

from ci_tools.harness.zuul_daemons import kit_root
from tests import people_samples as samples
from tests.unit.people.test_gertty import LOG, snippet

DRIVER = os.path.join(os.path.dirname(__file__), "gertty_commentlinks.py")


class TestGerttySnippet(testtools.TestCase):
    def test_gertty_reads_our_report_with_the_documented_snippet(self):
        python = os.path.join(kit_root(), "gertty", "bin", "python")
        if not os.path.exists(python):
            self.fail("gertty venv missing: run tools/setup-gertty.sh")
        home = self.useFixture(fixtures.TempDir()).path
        config = snippet()
        config["servers"] = [
            {
                "name": "opendev",
                "url": "https://review.example.org/",
                "username": "maintainer",
                "password": "unused",
                "git-root": os.path.join(home, "git"),
            }
        ]
        path = os.path.join(home, "gertty.yaml")
        with open(path, "w") as f:
            yaml.safe_dump(config, f)
        os.chmod(path, 0o600)  # gertty refuses a readable config holding a password
        message = samples.our_comment(
            [
                ("refflash-ci-tempest-iscsi", LOG, "SUCCESS", 3723),
                ("refflash-ci-tempest-fc", LOG + "-fc", "FAILURE", 2890, False),
            ],
            patchset=3,
        )
        message_path = os.path.join(home, "message.txt")
        with open(message_path, "w") as f:
            f.write(message)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["HOME"] = home
        proc = subprocess.run(
            [python, DRIVER, path, message_path, "Reference Flash RefFlash CI", "Jane Developer"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        out = json.loads(proc.stdout)
        self.assertEqual(
            {
                "refflash-ci-tempest-iscsi": [
                    ["link", "refflash-ci-tempest-iscsi".ljust(42)],
                    ["test-SUCCESS", "SUCCESS"],
                    [None, " in 1h 02m 03s"],
                ],
                "refflash-ci-tempest-fc": [
                    ["link", "refflash-ci-tempest-fc".ljust(42)],
                    ["test-FAILURE", "FAILURE"],
                    [None, " in 48m 10s (non-voting)"],
                ],
            },
            out["results"],
        )
        self.assertEqual(
            {"Reference Flash RefFlash CI": True, "Jane Developer": False}, out["hidden"]
        )
        self.assertTrue(out["palette_ok"])
