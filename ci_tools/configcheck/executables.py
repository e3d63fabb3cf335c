"""Which programs the kit runs, and whether the setup of each README command installs them.

A fresh Debian machine once lacked rsync for the sandbox's node: bindep.txt
named it only for the ``test`` profile, and CI ran on a machine where it was
already installed, so nothing noticed. This module finds the executables that
roles, playbooks, the harness, the tests and the benchmarks call, and maps
each to the Debian package that provides it (``tools/executables.yaml``); a
unit test then checks bindep.txt installs that package for every profile
whose command runs the caller, and the fresh-root check (tools/fresh-root-check.sh)
proves each one is on PATH after ``tools/test-setup.sh`` in a minimal Debian root.

Who runs what (the profiles of bindep.txt):
- roles/, playbooks/, drivers/: the job node (``node``); the sandbox's and the
  functional tests' node is this machine, so ``sandbox`` and ``test`` too;
- ci_tools/ (but ztsp and people): the sandbox and the tests;
- ci_tools/ztsp, ci_tools/people, tests/, benchmarks/: the tests.

    python -m ci_tools.configcheck.executables [--profile P]   # exe<TAB>package<TAB>caller
"""

import argparse
import ast
import functools
import os
import re
import shlex
import sys

import yaml

PROFILES_BY_PATH = (
    (("roles/", "playbooks/", "drivers/"), {"node", "sandbox", "test"}),
    (("ci_tools/ztsp/", "ci_tools/people/", "tests/", "benchmarks/"), {"test"}),
    (("ci_tools/",), {"sandbox", "test"}),
)
# Packages that need no bindep line: every Debian root has them (minbase), or
# the kit builds them into a venv (Zuul, Ansible, the node's OpenStack venv).
# "optional": every caller copes when it is missing (e.g. journalctl on a node
# without systemd: collect-job-logs then has no journal to publish).
NOT_IN_BINDEP = ("minbase", "venv", "optional")
_SUBPROCESS = {"run", "Popen", "check_output", "check_call", "call"}
# Shell builtins and keywords: no program to install.
_SHELL_WORDS = {
    "set", "export", "cd", "echo", "test", "[", "[[", "fi", "for", "done", "case", "esac",
    "exit", "true", "false", "umask", "read", "printf", "}", "source", ".", "trap", "wait",
    "return", "local", "shift", "unset", "break", "continue", "eval", "pwd", "kill",
}  # fmt: skip
# Words after which the command itself follows.
_PREFIX_WORDS = {"{", "!", "if", "then", "else", "elif", "do", "while", "until", "time",
                 "sudo", "env", "nohup", "exec"}  # fmt: skip


def profiles_for(relpath):
    for prefixes, profiles in PROFILES_BY_PATH:
        if relpath.startswith(prefixes):
            return profiles
    return set()


# -- finding calls -----------------------------------------------------------


def _module_strings(tree):
    consts = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
            if isinstance(value.value, str):
                consts[target.id] = value.value
    return consts


def _subprocess_names(tree):
    """Local names bound to subprocess's runners (``from subprocess import run``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "subprocess":
            names |= {a.asname or a.name for a in node.names if a.name in _SUBPROCESS}
    return names


def python_calls(source):
    """Executables named literally in subprocess calls and shutil.which()."""
    tree = ast.parse(source)
    consts = _module_strings(tree)
    imported = _subprocess_names(tree)
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            is_run = func.value.id == "subprocess" and func.attr in _SUBPROCESS
            is_which = func.value.id == "shutil" and func.attr == "which"
        else:
            is_run = isinstance(func, ast.Name) and func.id in imported
            is_which = False
        first = node.args[0]
        if is_run and isinstance(first, (ast.List, ast.Tuple)) and first.elts:
            first = first.elts[0]
        elif not is_which:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.add(os.path.basename(first.value))
        elif isinstance(first, ast.Name) and first.id in consts:
            found.add(os.path.basename(consts[first.id]))
    return found


def _tokens(line):
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return list(lexer)


def shell_commands(text):
    """The program of each simple command of a shell snippet (templated words skipped)."""
    text = re.sub(r"\{\{.*?\}\}", "TEMPLATED", text, flags=re.S)
    text = text.replace("\\\n", " ")
    try:
        lines = [_tokens(line) for line in text.splitlines()]
    except ValueError:  # a quote spans lines
        try:
            lines = [_tokens(text.replace("\n", " ; "))]
        except ValueError:
            return set()
    found = set()
    for tokens in lines:
        expect = True  # at the start of a simple command
        for tok in tokens:
            if re.fullmatch(r"[;&|()]+", tok):
                expect = True
                continue
            if not expect:
                continue
            if tok in _PREFIX_WORDS or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tok):
                continue  # the command comes next
            expect = False
            if tok in _SHELL_WORDS or tok.startswith(("-", "$", "<", ">", "TEMPLATED")):
                continue
            if re.fullmatch(r"[\w./+-]+", tok) and not tok.isdigit():
                found.add(os.path.basename(tok))
    return found


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            if key in node:
                yield from _tasks(node[key])


def ansible_calls(text):
    """Executables a playbook or task file runs: command/shell words, synchronize's rsync."""
    found = set()
    for task in _tasks(yaml.safe_load(text) or []):
        if task.get("become") is True:
            found.add("sudo")  # Ansible's default become method
        for module, args in task.items():
            short = module.rsplit(".", 1)[-1]
            if short == "synchronize":
                found.add("rsync")
            elif short in ("command", "shell"):
                if isinstance(args, str):
                    found |= shell_commands(args)
                elif isinstance(args, dict):
                    if isinstance(args.get("argv"), list) and args["argv"]:
                        argv0 = str(args["argv"][0])
                        if "{{" not in argv0:
                            found.add(os.path.basename(argv0))
                    if args.get("cmd"):
                        found |= shell_commands(str(args["cmd"]))
                    if args.get("executable"):
                        found.add(os.path.basename(str(args["executable"])))
    return found


@functools.lru_cache(maxsize=8)
def scan(top):
    """{executable: {relpath of a caller, ...}} over the repo at ``top``."""
    calls = {}
    for sub in ("roles", "playbooks", "drivers", "ci_tools", "tests", "benchmarks"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(top, sub)):
            dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
            for name in filenames:
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, top)
                try:
                    with open(path) as f:
                        text = f.read()
                    if name.endswith(".py"):
                        found = python_calls(text)
                    elif name.endswith(".yaml") and rel.startswith(("roles/", "playbooks/")):
                        found = ansible_calls(text) if "/defaults/" not in rel else set()
                    else:
                        continue
                except (SyntaxError, yaml.YAMLError, UnicodeDecodeError):
                    continue
                for exe in found:
                    calls.setdefault(exe, set()).add(rel)
    return calls


# -- what installs them ------------------------------------------------------


def load_map(top):
    with open(os.path.join(top, "tools", "executables.yaml")) as f:
        return yaml.safe_load(f) or {}


def bindep_profiles(top):
    """{package: set of profiles, or None when it is installed for every profile}."""
    packages = {}
    with open(os.path.join(top, "bindep.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name = line.split()[0]
            m = re.search(r"\[([^\]]*)\]", line)
            profiles = set(m.group(1).split()) if m else None
            if name in packages and (packages[name] is None or profiles is None):
                packages[name] = None
            else:
                packages[name] = (packages.get(name) or set()) | (profiles or set()) or None
    return packages


def problems(top):
    """What a fresh machine would miss, one sentence each (empty when all is covered)."""
    exe_map = load_map(top)
    installed = bindep_profiles(top)
    found = []
    for exe, callers in sorted(scan(top).items()):
        package = exe_map.get(exe)
        if package is None:
            found.append(f"{exe} (run by {sorted(callers)[0]}) is not in tools/executables.yaml: "
                         "name the Debian package that provides it")  # fmt: skip
            continue
        if package in NOT_IN_BINDEP:
            continue
        needed = set().union(*(profiles_for(c) for c in callers))
        have = installed.get(package, set())
        if package not in installed:
            found.append(f"{exe}: package {package} is not in bindep.txt "
                         f"(needed for {', '.join(sorted(needed))})")  # fmt: skip
        elif have is not None and needed - have:
            caller = sorted(c for c in callers if profiles_for(c) - have)[0]
            have_s, missing_s = " ".join(sorted(have)), " ".join(sorted(needed - have))
            found.append(f"{exe}: bindep.txt installs {package} for [{have_s}], "
                         f"but {caller} runs it under [{missing_s}]")  # fmt: skip
    return found


def needed_for(top, profile):
    """[(exe, package, a caller)] that must be on PATH after setup for ``profile``."""
    exe_map = load_map(top)
    rows = []
    for exe, callers in sorted(scan(top).items()):
        users = sorted(c for c in callers if profile in profiles_for(c))
        package = exe_map.get(exe)
        if users and package and package not in ("venv", "optional"):
            rows.append((exe, package, users[0]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", default=".")
    parser.add_argument("--profile", help="list what this profile needs on PATH")
    args = parser.parse_args(argv)
    if args.profile:
        for row in needed_for(args.top, args.profile):
            print("\t".join(row))
        return 0
    found = problems(args.top)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
