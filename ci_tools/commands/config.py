"""``ci-tools config``: render zuul.d from site.yaml, and check it with a real Zuul."""

import os
import sys

from ci_tools.errors import ConfigError


def add_subparser(subparsers):
    parser = subparsers.add_parser("config", help="render and check the Zuul config")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    render = sub.add_parser("render", help="write zuul.d/ from site.yaml and templates/zuul.d/")
    render.add_argument("--repo", default=".", help="the config repo (default: .)")
    render.add_argument(
        "--check", action="store_true", help="change nothing; fail if zuul.d/ is out of date"
    )
    render.set_defaults(func=cmd_render)

    check = sub.add_parser(
        "check",
        help="boot a real Zuul on this repo's config and report every config error",
    )
    check.add_argument("--repo", default=".", help="the config repo (default: .)")
    check.add_argument(
        "--tenant-config",
        help="your own tenant file (default: a sandbox tenant mirroring production)",
    )
    check.add_argument("--tenant", help="tenant to check (default: site.yaml's tenant)")
    check.add_argument("--work-dir", help="keep state and logs here (default: a temp dir)")
    check.add_argument("--no-lint", action="store_true", help="skip nodepool/yamllint/ansible-lint")
    check.set_defaults(func=cmd_check)


def cmd_render(args):
    from ci_tools.zuulconf import render

    repo = os.path.abspath(args.repo)
    if args.check:
        problems = render.drift(repo)
        for path, diff in sorted(problems.items()):
            print(f"{path}: out of date with site.yaml", file=sys.stderr)
            sys.stderr.write(diff)
        if problems:
            raise ConfigError("zuul.d/ differs from its rendering: run `ci-tools config render`")
        print("zuul.d/ matches site.yaml")
        return 0
    changed = render.write(repo)
    for path in changed:
        print(f"wrote {path}")
    if not changed:
        print("zuul.d/ already up to date")
    return 0


def cmd_check(args):
    from ci_tools.configcheck.check import run_check

    def progress(msg):
        print(f"config check: {msg}", file=sys.stderr, flush=True)

    result = run_check(
        args.repo,
        work_dir=args.work_dir,
        tenant_config=args.tenant_config,
        tenant=args.tenant,
        lint=not args.no_lint,
        progress=progress,
    )
    print(result.report())
    return 0 if result.ok else 1
