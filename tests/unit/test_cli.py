"""Every ``ci-tools`` subcommand answers --help, and bad input is one clear line, no traceback."""

import argparse
import contextlib
import io
import os
import re
import socket
import tempfile
import tomllib

import testtools

from ci_tools import cli

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def leaf_commands(parser, prefix=()):
    """Every runnable command path with its parser, e.g. ('gerrit', 'account', 'add')."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield prefix, parser
        return
    for name, child in subs[0].choices.items():
        yield from leaf_commands(child, (*prefix, name))


def has_required(parser):
    return any(a.required for a in parser._actions if a.option_strings or a.nargs is None)


def run(argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


class TestEverySubcommand(testtools.TestCase):
    def test_all_subcommands_import(self):
        # A subcommand whose import fails is silently missing from --help: a
        # missing default dependency (paramiko for `gerrit serve`) hid that way.
        names = {path[0] for path, _ in leaf_commands(cli.build_parser())}
        for expected in ("array", "config", "gerrit", "results", "sandbox", "services",
                         "status", "vote-guard", "ztsp"):  # fmt: skip
            self.assertIn(expected, names)

    def test_help_and_missing_arguments(self):
        leaves = list(leaf_commands(cli.build_parser()))
        self.assertGreater(len(leaves), 20)
        for path, parser in leaves:
            code, out, err = run([*path, "--help"])
            self.assertEqual(0, code, path)
            self.assertIn("usage: ci-tools " + " ".join(path), out)
            if not has_required(parser):
                continue  # it would run for real (sandbox up, status, ...)
            code, out, err = run(path)
            self.assertEqual(2, code, path)
            self.assertNotIn("Traceback", out + err, path)
            self.assertIn("the following arguments are required", err.strip().splitlines()[-1])


class TestBadInput(testtools.TestCase):
    def assert_usage_error(self, argv, *words):
        code, out, err = run(argv)
        self.assertEqual(2, code, err)
        self.assertNotIn("Traceback", out + err)
        last = err.strip().splitlines()[-1]
        self.assertTrue(last.startswith("ci-tools ") and "error:" in last, last)
        for word in words:
            self.assertIn(word, last)

    def test_ports_out_of_range(self):
        d = self.useFixture_tmp()
        self.assert_usage_error(["array", "serve", "--data-dir", d, "--port", "99999"],
                                "--port", "99999")  # fmt: skip
        self.assert_usage_error(["array", "serve", "--data-dir", d, "--port", "x"], "--port")
        self.assert_usage_error(["gerrit", "serve", "--data-dir", d, "--ssh-port", "99999"],
                                "--ssh-port", "99999")  # fmt: skip
        self.assert_usage_error(["gerrit", "serve", "--data-dir", d, "--http-port", "-1"],
                                "--http-port")  # fmt: skip
        self.assertEqual([], os.listdir(d), "a refused serve created files")

    def test_data_dir_must_exist_for_clients(self):
        missing = os.path.join(self.useFixture_tmp(), "nonexistent")
        self.assert_usage_error(["gerrit", "account", "add", "--data-dir", missing, "bob"],
                                missing, "does not exist")  # fmt: skip
        self.assert_usage_error(["gerrit", "project", "add", "--data-dir", missing, "p"],
                                "does not exist")  # fmt: skip
        self.assert_usage_error(["gerrit", "events", "--data-dir", missing], "does not exist")
        self.assert_usage_error(["array", "status", "--data-dir", missing], "does not exist")
        self.assertFalse(os.path.exists(missing), "a client created an emulator's data dir")

    def test_data_dir_that_is_a_file(self):
        with tempfile.NamedTemporaryFile() as f:
            self.assert_usage_error(["array", "serve", "--data-dir", f.name, "--port", "8000"],
                                    "is not a directory")  # fmt: skip

    def test_gerrit_port_in_use_is_named(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            code, out, err = run(["gerrit", "serve", "--data-dir", self.useFixture_tmp(),
                                  "--ssh-port", str(port), "--http-port", "0"])  # fmt: skip
        self.assertEqual(4, code)
        self.assertNotIn("Traceback", err)
        self.assertIn(f"--ssh-port {port} is already in use", err)

    def useFixture_tmp(self):
        d = tempfile.mkdtemp()
        self.addCleanup(lambda: os.path.isdir(d) and __import__("shutil").rmtree(d))
        return d


class TestDefaultInstall(testtools.TestCase):
    def test_requirements_match_package_dependencies(self):
        """`pip install` of the kit brings everything requirements.txt gives tox."""

        def names(lines):
            return {re.split(r"[<>=!~ ;\[]", line.strip(), maxsplit=1)[0].lower()
                    for line in lines if line.strip() and not line.startswith("#")}  # fmt: skip

        with open(os.path.join(TOP, "pyproject.toml"), "rb") as f:
            declared = names(tomllib.load(f)["project"]["dependencies"])
        with open(os.path.join(TOP, "requirements.txt")) as f:
            required = names(line.split("#")[0] for line in f)
        self.assertEqual(required, declared)
        self.assertIn("paramiko", declared)
