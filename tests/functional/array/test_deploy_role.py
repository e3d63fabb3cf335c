"""roles/deploy-cinder-driver with Zuul's Ansible on localhost: venv, cinder.conf, restart."""

import configparser
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import testtools
import yaml

from ci_tools.harness.playbook import run_playbook
from tests.functional.array.test_cinder_driver import DRIVER, TOP


def driver_version():
    """The driver's version from the one place it lives (refflash_cinder/__init__.py)."""
    with open(os.path.join(DRIVER, "refflash_cinder", "__init__.py")) as f:
        return re.search(r'^__version__ = "([^"]+)"', f.read(), re.M).group(1)


class DeployRoleTest(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="deploy-driver-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.venv = os.path.join(self.work, "venv")
        subprocess.run([sys.executable, "-m", "venv", self.venv], check=True)
        self.conf = os.path.join(self.work, "etc", "cinder.conf")
        os.makedirs(os.path.dirname(self.conf))
        with open(self.conf, "w") as f:
            f.write("[DEFAULT]\ndebug = true\n\n[database]\nconnection = mysql+pymysql://x\n")
        self.restarts = os.path.join(self.work, "restarts")
        with open(os.path.join(TOP, "tempest-config", "iscsi", "backend.yaml")) as f:
            backend = yaml.safe_load(f)
        self.password = "deploy-pw-" + os.urandom(6).hex()
        # The driver as a Zuul checkout has it: tracked files only. The
        # working tree may hold build output (tox installs the driver, which
        # writes refflash_cinder.egg-info beside it), which no node receives.
        src = os.path.join(self.work, "src")
        os.makedirs(src)
        files = subprocess.run(["git", "ls-files", "-z", "."], cwd=DRIVER, check=True,
                               capture_output=True).stdout  # fmt: skip
        subprocess.run(["tar", "--null", "-T", "-", "-cf", os.path.join(self.work, "d.tar")],
                       cwd=DRIVER, input=files, check=True)  # fmt: skip
        subprocess.run(["tar", "-xf", os.path.join(self.work, "d.tar"), "-C", src], check=True)
        self.vars = {
            "deploy_cinder_driver_src": src,
            "deploy_cinder_driver_dest": os.path.join(self.work, "node", "refflash"),
            "deploy_cinder_driver_venv": self.venv,
            "deploy_cinder_driver_pip_extra_args": "--no-deps",
            "deploy_cinder_driver_class": backend["driver"],
            "deploy_cinder_driver_options": backend["options"],
            "deploy_cinder_driver_backends": backend["backends"],
            "deploy_cinder_driver_credentials": {
                "san_login": "admin",
                "san_password": self.password,
            },
            "deploy_cinder_driver_config_file": self.conf,
            "deploy_cinder_driver_restart_command": f"sh -c 'echo restarted >> {self.restarts}'",
            "deploy_cinder_driver_secrets_file": os.path.join(self.work, "secrets.txt"),
        }

    def deploy(self, name):
        proc = run_playbook(
            "test-playbooks/deploy-cinder-driver/deploy.yaml",
            self.work,
            extra_vars=self.vars,
            timeout=600,
            log_name=name,
        )
        out = proc.stdout + proc.stderr
        self.assertEqual(0, proc.returncode, out[-4000:])
        self.assertNotIn(self.password, out)
        return out

    def restart_count(self):
        if not os.path.exists(self.restarts):
            return 0
        with open(self.restarts) as f:
            return len(f.read().splitlines())

    def test_installs_configures_restarts_once_and_is_idempotent(self):
        self.deploy("first")
        found = subprocess.run(
            [os.path.join(self.venv, "bin", "python"), "-c",
             "import importlib.metadata as m, importlib.util as u;"
             "print(m.version('refflash-cinder'), u.find_spec('refflash_cinder.iscsi').origin)"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        self.assertEqual(driver_version(), found[0])
        self.assertTrue(found[1].startswith(self.venv), found)

        parser = configparser.ConfigParser(interpolation=None)
        parser.read(self.conf)
        self.assertEqual("refflash-iscsi-1,refflash-iscsi-2", parser["DEFAULT"]["enabled_backends"])
        self.assertEqual("refflash-iscsi-1", parser["DEFAULT"]["default_volume_type"])
        self.assertEqual("true", parser["DEFAULT"]["debug"])  # the rest is left alone
        self.assertEqual("mysql+pymysql://x", parser["database"]["connection"])
        section = parser["refflash-iscsi-2"]
        self.assertEqual("refflash_cinder.iscsi.RefFlashISCSIDriver", section["volume_driver"])
        self.assertEqual("refflash-iscsi-2", section["volume_backend_name"])
        self.assertEqual(self.password, section["san_password"])
        self.assertEqual("true", section["use_chap_auth"].lower())
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.conf).st_mode))
        with open(self.vars["deploy_cinder_driver_secrets_file"]) as f:
            self.assertIn(self.password, f.read().splitlines())
        self.assertEqual(1, self.restart_count())

        out = self.deploy("second")
        self.assertRegex(out, r"localhost\s*: ok=\d+\s+changed=0 ")
        self.assertEqual(1, self.restart_count(), "nothing changed: no restart")

        # a changed driver tree is reinstalled and restarts cinder-volume
        marker = os.path.join(self.vars["deploy_cinder_driver_dest"], "refflash_cinder",
                              "__init__.py")  # fmt: skip
        with open(marker, "a") as f:
            f.write("# drifted on the host\n")
        self.deploy("third")
        self.assertEqual(2, self.restart_count())
