"""The offline checks beside Zuul: nodepool config-validate, yamllint, ansible-lint.

Each returns a ``LintResult``; a tool that is not installed is reported as
such (``ok=None``) rather than passing silently.
"""

import dataclasses
import os
import shutil
import subprocess

from ci_tools.harness.zuul_daemons import kit_root, zuul_venv


@dataclasses.dataclass
class LintResult:
    name: str
    ok: bool | None  # None: the tool is missing, nothing was checked
    output: str

    @property
    def status(self):
        return {True: "ok", False: "FAILED", None: "NOT RUN"}[self.ok]


def _find(tool, *venvs):
    for venv in venvs:
        path = os.path.join(venv, "bin", tool)
        if os.path.exists(path):
            return path
    return shutil.which(tool)


def _run(name, argv, cwd, env=None):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env)
    return LintResult(name, proc.returncode == 0, (proc.stdout + proc.stderr).strip())


def nodepool_validate(repo_root):
    config = os.path.join(repo_root, "nodepool", "nodepool.yaml")
    if not os.path.exists(config):
        return LintResult("nodepool config-validate", None, "no nodepool/nodepool.yaml")
    tool = _find("nodepool", zuul_venv())
    if not tool:
        return LintResult("nodepool config-validate", None, "nodepool is not installed")
    return _run("nodepool config-validate", [tool, "-c", config, "config-validate"], repo_root)


def yamllint(repo_root):
    tool = _find("yamllint", os.path.join(kit_root(), "tools"))
    if not tool:
        return LintResult("yamllint", None, "yamllint is not installed")
    return _run("yamllint", [tool, "-s", "."], repo_root)


def ansible_lint(repo_root):
    script = os.path.join(repo_root, "tools", "ansible-lint.sh")
    tool = _find("ansible-lint", os.path.join(kit_root(), "tools"))
    if not tool:
        return LintResult("ansible-lint", None, "ansible-lint is not installed")
    env = dict(os.environ, PATH=os.path.dirname(tool) + os.pathsep + os.environ.get("PATH", ""))
    argv = ["bash", script] if os.path.exists(script) else [tool]
    return _run("ansible-lint", argv, repo_root, env=env)


ALL = (nodepool_validate, yamllint, ansible_lint)
