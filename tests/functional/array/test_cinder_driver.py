"""The refflash Cinder drivers' own tests, run in the Cinder venv against real arrays.

The driver package (drivers/refflash) is installed next to cinder on a node,
never into the kit's venv, so its tests run with the Cinder venv's python
(tools/setup-cinder.sh builds it) and this test reports their result.
"""

import os
import subprocess
import sys

import testtools

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DRIVER = os.path.join(TOP, "drivers", "refflash")


def cinder_python():
    root = os.environ.get("CI_KIT_ROOT", "/opt/cinder-ci")
    return os.path.join(root, "cinder-venv", "bin", "python")


class CinderDriverTest(testtools.TestCase):
    def test_driver_suite_passes_in_the_cinder_venv(self):
        python = cinder_python()
        if not os.path.exists(python):
            self.fail(f"{python} missing: run tools/setup-cinder.sh (or tools/test-setup.sh)")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([TOP, DRIVER]))
        result = subprocess.run(
            [python, "-W", "ignore", "-m", "unittest", "discover", "-v", "-s", "tests", "-t", "."],
            cwd=DRIVER,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        out = result.stdout + result.stderr
        self.addDetail("driver-tests", testtools.content.text_content(out))
        sys.stdout.write(out[-3000:])
        self.assertEqual(0, result.returncode, out[-6000:])
        self.assertIn("\nOK", out)
        ran = [line for line in out.splitlines() if line.startswith("Ran ")]
        self.assertTrue(ran and int(ran[-1].split()[1]) >= 15, ran)
