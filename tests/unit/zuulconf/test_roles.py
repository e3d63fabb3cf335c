"""Playbooks and roles: what Zuul only finds out when a job runs, checked ahead.

Zuul loads zuul.d without opening playbooks, so a job pointing at a missing
playbook, or a playbook naming a missing role, passes the config check and
fails its first build. Roles follow zuul-jobs' conventions: kebab-case
names, every default prefixed with the role name and documented.
"""

import glob
import importlib.util
import os
import re
import subprocess

import testtools
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!encrypted/pkcs1-oaep", lambda loader, node: "<encrypted>")


def _load(path):
    with open(path) as f:
        return yaml.load(f, _Loader)


def _playbook_names(value):
    for item in value if isinstance(value, list) else [value]:
        yield item["name"] if isinstance(item, dict) else item


def job_playbooks():
    for path in glob.glob(os.path.join(REPO_ROOT, "zuul.d", "*.yaml")) + glob.glob(
        os.path.join(REPO_ROOT, "zuul-tests.d", "*.yaml")
    ):
        for stanza in _load(path) or []:
            job = stanza.get("job")
            if not job:
                continue
            for key in ("pre-run", "run", "post-run", "cleanup-run"):
                if key in job:
                    for name in _playbook_names(job[key]):
                        yield job["name"], name


def roles():
    """Committed roles; a role still being written in a shared tree is not judged yet."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "roles"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (sdist)
        return sorted(os.listdir(os.path.join(REPO_ROOT, "roles")))
    return sorted({line.split("/")[1] for line in out.splitlines() if line.count("/") >= 2})


class TestPlaybooks(testtools.TestCase):
    def test_every_job_playbook_exists(self):
        pairs = list(job_playbooks())
        self.assertGreater(len(pairs), 10)
        for job, playbook in pairs:
            self.assertTrue(os.path.isfile(os.path.join(REPO_ROOT, playbook)), f"{job}: {playbook}")

    def test_every_role_a_playbook_uses_exists(self):
        for path in glob.glob(os.path.join(REPO_ROOT, "playbooks", "*", "*.yaml")):
            for play in _load(path):
                for role in play.get("roles", []):
                    name = role["role"] if isinstance(role, dict) else role
                    self.assertTrue(os.path.isdir(os.path.join(REPO_ROOT, "roles", name)), path)

    def test_base_test_mirrors_base(self):
        base = sorted(os.listdir(os.path.join(REPO_ROOT, "playbooks", "base")))
        twin = os.listdir(os.path.join(REPO_ROOT, "playbooks", "base-test"))
        self.assertEqual([], [p for p in base if p not in twin])


def _scrub_module():
    path = os.path.join(REPO_ROOT, "roles", "scrub-log-secrets", "library", "scrub_log_secrets.py")
    spec = importlib.util.spec_from_file_location("scrub_log_secrets", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestRoles(testtools.TestCase):
    def test_roles_follow_zuul_jobs_layout(self):
        self.assertNotEqual([], roles())
        for role in roles():
            self.assertRegex(role, r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
            for part in ("README.rst", "defaults/main.yaml", "tasks/main.yaml"):
                self.assertTrue(
                    os.path.isfile(os.path.join(REPO_ROOT, "roles", role, part)), f"{role}/{part}"
                )

    def test_defaults_are_prefixed_and_documented(self):
        for role in roles():
            prefix = role.replace("-", "_") + "_"
            defaults = _load(os.path.join(REPO_ROOT, "roles", role, "defaults", "main.yaml")) or {}
            with open(os.path.join(REPO_ROOT, "roles", role, "README.rst")) as f:
                readme = f.read()
            self.assertIn("Role Variables", readme, role)
            documented = set(re.findall(r"^\.\. zuul:rolevar:: (\S+)", readme, re.M))
            for var in defaults:
                self.assertTrue(var.startswith(prefix), f"{role}: {var}")
                self.assertIn(var, documented, f"{role}: {var} missing from README.rst")

    def test_tasks_handling_secret_values_hide_them(self):
        found = 0
        for path in glob.glob(os.path.join(REPO_ROOT, "roles", "*", "tasks", "*.yaml")):
            for task in _load(path) or []:
                if "scrub_log_secrets_values" not in str(task):
                    continue
                found += 1
                if "scrub_log_secrets" in task and "loop" not in task:
                    # the module declares its values no_log: Ansible masks them
                    spec = _scrub_module().ARGUMENT_SPEC
                    self.assertTrue(spec["values"].get("no_log"), "scrub_log_secrets values")
                else:
                    self.assertTrue(task.get("no_log"), f"{path}: {task['name']}")
        self.assertGreater(found, 0)
