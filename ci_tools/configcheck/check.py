"""Orchestrates ``ci-tools config check``.

The sandbox tenant mirrors production: this repo is a config project served
by Zuul's git driver, and the Cinder projects come from a Gerrit connection
named as in site.yaml, here backed by the Gerrit emulator so the check runs
offline. A vendor may pass their own tenant file instead.
"""

import dataclasses
import logging
import os
import shutil
import tempfile

from ci_tools.configcheck import linters, stage
from ci_tools.configcheck.report import format_error
from ci_tools.harness.stack import ZuulStack

LOG = logging.getLogger(__name__)

# The check needs mergers for Zuul's cat jobs (the executor is one) but no launcher.
CHECK_SERVICES = ("scheduler", "executor", "web")


@dataclasses.dataclass
class CheckResult:
    tenant: str
    zuul_errors: list
    lint: list

    @property
    def ok(self):
        return not self.zuul_errors and all(r.ok is not False for r in self.lint)

    def report(self):
        lines = []
        for entry in self.zuul_errors:
            lines.append(format_error(entry))
        n = len(self.zuul_errors)
        lines.append(f"zuul: {n} config error{'s' if n != 1 else ''} in tenant {self.tenant}")
        for result in self.lint:
            lines.append(f"{result.name}: {result.status}")
            if result.ok is not True and result.output:
                lines.extend("    " + ln for ln in result.output.splitlines()[-40:])
        return "\n".join(lines)


def collect_config_errors(stack, tenant):
    """Every error, paging through the API (Zuul returns 50 at a time)."""
    errors, skip = [], 0
    while True:
        page = stack.api(f"tenant/{tenant}/config-errors?limit=50&skip={skip}")
        errors.extend(page)
        if len(page) < 50:
            return errors
        skip += len(page)


def run_check(repo_root, work_dir=None, tenant_config=None, tenant=None, connections=None,
              lint=True, progress=print):  # fmt: skip
    """Boot Zuul on a snapshot of ``repo_root`` and return a :class:`CheckResult`."""
    from ci_tools.configcheck.sandbox_tenant import SandboxTenant

    repo_root = os.path.abspath(repo_root)
    own_work = work_dir is None
    work_dir = work_dir or tempfile.mkdtemp(prefix="config-check-", dir="/var/tmp")
    os.makedirs(work_dir, exist_ok=True)
    os.chmod(work_dir, 0o711)  # PostgreSQL runs as its own user and must reach its dir
    try:
        with SandboxTenant(repo_root, work_dir) as sandbox:
            tenant_file = tenant_config or sandbox.tenant_file
            tenant = tenant or sandbox.tenant
            progress(f"booting zuul-scheduler, executor and zuul-web (work dir {work_dir})")
            with ZuulStack(os.path.join(work_dir, "zuul-stack"), tenant_file,
                           {**sandbox.connections, **(connections or {})},
                           services=CHECK_SERVICES,
                           daemon_files=sandbox.daemon_files) as stack:  # fmt: skip
                stack.wait_for_tenant(tenant)
                zuul_errors = collect_config_errors(stack, tenant)
        lint_results = []
        if lint:
            for linter in linters.ALL:
                progress(f"running {linter.__name__.replace('_', '-')}")
                lint_results.append(linter(repo_root))
        return CheckResult(tenant, zuul_errors, lint_results)
    finally:
        if own_work:
            shutil.rmtree(work_dir, ignore_errors=True)


__all__ = ["CheckResult", "run_check", "stage"]
