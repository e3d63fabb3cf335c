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
    # Why Gerrit's CI summary would not list the reports (ci_tools/zuulconf/summary.py).
    report_format: list = dataclasses.field(default_factory=list)

    @property
    def ok(self):
        return (not self.zuul_errors and not self.report_format
                and all(r.ok is not False for r in self.lint))  # fmt: skip

    def report(self):
        lines = [f"report format: {p}" for p in self.report_format]
        lines.append(
            "report format: "
            + ("Gerrit's CI summary would not list the reports" if self.report_format
               else "reports match Gerrit's CI summary patterns")
        )  # fmt: skip
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


def report_format_problems(repo_root):
    """Apply the CI summary's patterns to site.yaml and zuul.d/pipelines.yaml."""
    from ci_tools.zuulconf import summary
    from ci_tools.zuulconf.site import load_site

    site = load_site(repo_root)
    with open(os.path.join(repo_root, "zuul.d", "pipelines.yaml")) as f:
        return summary.problems(site, f.read())


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
        report_format = report_format_problems(repo_root)
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
        return CheckResult(tenant, zuul_errors, lint_results, report_format)
    finally:
        if own_work:
            shutil.rmtree(work_dir, ignore_errors=True)


__all__ = ["CheckResult", "run_check", "stage"]
