"""Every program the kit runs is installed by the setup of the command that runs it."""

import os
import shutil
import tempfile

import testtools

from ci_tools.configcheck import executables

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SYNC_ROLE = """
- name: Push the repos
  ansible.posix.synchronize:
    src: a/
    dest: b/
- name: Stop the services
  become: true
  ansible.builtin.shell:
    cmd: set -e; { systemctl stop x; } | tee out; FOO=1 mariadb -e 'select 1; drop x'
"""


class TestThisRepo(testtools.TestCase):
    def test_every_executable_is_installed_for_its_callers(self):
        self.assertEqual([], executables.problems(TOP))

    def test_scan_sees_the_node_and_harness_programs(self):
        calls = executables.scan(TOP)
        self.assertIn("roles/prepare-workspace/tasks/main.yaml", calls["rsync"])
        self.assertIn("ci_tools/array/tgt.py", calls["tgtd"])
        self.assertIn("sudo", calls)

    def test_sandbox_profile_needs_the_node_packages(self):
        needed = {exe: pkg for exe, pkg, _ in executables.needed_for(TOP, "sandbox")}
        self.assertEqual("rsync", needed["rsync"])
        self.assertEqual("mariadb-server", needed["mariadb"])
        self.assertNotIn("iscsi-ls", needed)  # only the tests run it


class TestCatchesMissingInstalls(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.top = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.top)
        os.makedirs(os.path.join(self.top, "tools"))
        os.makedirs(os.path.join(self.top, "roles", "ws", "tasks"))
        with open(os.path.join(self.top, "roles", "ws", "tasks", "main.yaml"), "w") as f:
            f.write(SYNC_ROLE)
        with open(os.path.join(self.top, "tools", "executables.yaml"), "w") as f:
            f.write("rsync: rsync\ntee: minbase\nsudo: sudo\nmariadb: mariadb-server\n")

    def write_bindep(self, text):
        with open(os.path.join(self.top, "bindep.txt"), "w") as f:
            f.write(text)

    def test_rsync_only_for_tests_is_caught(self):
        # What broke the sandbox on a fresh machine.
        self.write_bindep("rsync [test node]\nsudo\nmariadb-server [test sandbox node]\n")
        found = executables.problems(self.top)
        self.assertEqual(2, len(found), found)  # rsync, and systemctl unknown
        rsync = [p for p in found if p.startswith("rsync:")]
        self.assertIn("runs it under [sandbox]", rsync[0])
        unknown = [p for p in found if p.startswith("systemctl ")]
        self.assertIn("is not in tools/executables.yaml", unknown[0])

    def test_package_missing_from_bindep(self):
        self.write_bindep("rsync\nmariadb-server\n")
        found = executables.problems(self.top)
        self.assertIn("sudo: package sudo is not in bindep.txt (needed for node, sandbox, test)",
                      found)  # fmt: skip


class TestShellWords(testtools.TestCase):
    def test_programs_of_a_pipeline(self):
        self.assertEqual(
            {"journalctl", "gzip", "sha256sum", "timeout"},
            executables.shell_commands(
                "set -o pipefail; journalctl -b | gzip > {{ x }}/j.gz && "
                "{ echo '{{ a }}'; } | sha256sum\nsudo timeout 5 {{ venv }}/bin/stestr run"
            ),
        )

    def test_quoted_code_is_not_a_command(self):
        self.assertEqual({"python3"}, executables.shell_commands(
            "python3 -c 'import os; print(os.getcwd())'"))  # fmt: skip

    def test_python_calls(self):
        source = (
            "import subprocess, shutil\nfrom subprocess import run as r\n"
            "TGTD = '/usr/sbin/tgtd'\n"
            "subprocess.run(['git', 'log'])\nr([TGTD])\nshutil.which('qemu-img')\n"
            "def run(x): pass\nrun(['not-a-program'])\n"
        )
        self.assertEqual({"git", "tgtd", "qemu-img"}, executables.python_calls(source))
