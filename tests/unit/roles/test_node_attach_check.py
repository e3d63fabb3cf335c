"""run-tempest's node_attach_check: where the exclusions for a node that cannot attach apply.

The cases (tests/fixtures/node-attach/cases.yaml) are nodes as the module sees
them: a /sys tree, the programs on the PATH, and a modprobe that loads
iscsi_tcp (the module then appears in /sys/module, as the kernel shows it) or
fails with the message the sandbox's container gives.
"""

import importlib.util
import os
import shlex
import shutil
import stat
import tempfile

import testtools
import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PATH = os.path.join(REPO_ROOT, "roles", "run-tempest", "library", "node_attach_check.py")
CASES = os.path.join(REPO_ROOT, "tests", "fixtures", "node-attach", "cases.yaml")
_spec = importlib.util.spec_from_file_location("node_attach_check", PATH)
check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check)


def executable(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class Node:
    """A node's /sys, PATH and modprobe in a temporary dir."""

    def __init__(self, case):
        self.root = tempfile.mkdtemp(prefix="node-attach-")
        self.bin = os.path.join(self.root, "bin")
        os.mkdir(self.bin)
        for rel, content in (case.get("sys") or {}).items():
            path = os.path.join(self.root, "sys", rel)
            if content == "":
                os.makedirs(path)
            else:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
        for tool in case.get("tools") or []:
            executable(os.path.join(self.bin, tool), "exit 0\n")
        self.modprobe = ""
        behaviour = case.get("modprobe")
        if behaviour:
            self.modprobe = os.path.join(self.bin, "modprobe")
            module = shlex.quote(os.path.join(self.root, "sys", "module", "iscsi_tcp"))
            if behaviour == "loads":
                executable(self.modprobe, f'[ "$1" = iscsi_tcp ] && mkdir -p {module}\n')
            else:
                executable(self.modprobe, f"echo {shlex.quote(behaviour)} >&2\nexit 1\n")

    def decide(self, protocol, setting):
        return check.decide(protocol, setting, root=self.root, path=self.bin,
                            modprobe=self.modprobe)  # fmt: skip

    def module_loaded(self):
        return os.path.isdir(os.path.join(self.root, "sys", "module", "iscsi_tcp"))

    def remove(self):
        shutil.rmtree(self.root, True)


class TestCases(testtools.TestCase):
    def test_each_node_gets_the_decision_and_says_why(self):
        with open(CASES) as f:
            cases = yaml.safe_load(f)
        self.assertGreater(len(cases), 5)
        for case in cases:
            node = Node(case)
            self.addCleanup(node.remove)
            result = node.decide(case["protocol"], case["setting"])
            expect = case["expect"]
            self.assertIs(expect["can_attach"], result["can_attach"], case["name"])
            self.assertEqual(expect["decided_by"], result["decided_by"], case["name"])
            for words in expect["reason_has"]:
                self.assertIn(words, result["reason"], case["name"])
            self.assertNotIn("\n", result["reason"], case["name"])
            if result["decided_by"] == "setting" and case.get("modprobe") == "loads":
                # a given setting loads no kernel module on the node
                self.assertFalse(node.module_loaded(), case["name"])


class TestSetting(testtools.TestCase):
    def test_values_ansible_hands_over(self):
        self.assertEqual("auto", check.parse_setting("auto"))
        self.assertEqual("auto", check.parse_setting(" Auto "))
        for value in (True, "true", "True", "yes", "on", "1"):
            self.assertIs(True, check.parse_setting(value), value)
        for value in (False, "false", "no", "off", "0"):
            self.assertIs(False, check.parse_setting(value), value)

    def test_unknown_setting_names_the_variable(self):
        e = self.assertRaises(check.SettingError, check.parse_setting, "maybe")
        self.assertIn("run_tempest_node_can_attach", str(e))
        self.assertIn("auto, true or false", str(e))

    def test_auto_for_an_unknown_protocol_asks_for_a_setting(self):
        node = Node({})
        self.addCleanup(node.remove)
        e = self.assertRaises(check.SettingError, node.decide, "nvme", "auto")
        self.assertIn("'nvme'", str(e))
        self.assertIn("set run_tempest_node_can_attach to true or false", str(e))
