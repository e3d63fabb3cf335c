"""``ci-tools health``: is our CI alive? Exit 0 ok, 1 warning, 2 critical, for monitoring."""

import datetime
import json
import os
import sys

from ci_tools.errors import CIToolsError, UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "health",
        help="check our CI: Zuul, event stream, last event and comment, queue, nodes, array",
        description="Runs the checks whose inputs are given and exits 0 (ok), 1 (warning) "
        "or 2 (critical). With --alert-command or --alert-webhook, a critical result "
        "(a stopped scheduler, a dropped stream, or silence while upstream had patchsets) "
        "also runs the command or posts the JSON report.",
    )
    parser.add_argument("--zuul-web", metavar="URL", help="zuul-web base URL")
    parser.add_argument("--tenant", help="Zuul tenant (default: site.yaml's tenant)")
    parser.add_argument("--max-queue", type=int, default=50, help="warn above this many")
    parser.add_argument(
        "--gerrit-ssh", metavar="HOST:PORT", help="Gerrit's SSH endpoint the event stream uses"
    )
    parser.add_argument("--scheduler-log", metavar="FILE", help="zuul-scheduler's (debug) log")
    parser.add_argument(
        "--max-event-age", type=float, metavar="HOURS", help="warn when no event for this long"
    )
    parser.add_argument("--gerrit", metavar="URL", help="Gerrit REST URL for comments")
    parser.add_argument("--ci-account", help="our CI's Gerrit account (name or username)")
    parser.add_argument(
        "--project",
        action="append",
        dest="projects",
        help="projects to watch (default: openstack/cinder and openstack/os-brick)",
    )
    parser.add_argument(
        "--silent-hours",
        type=float,
        default=6.0,
        help="critical when a patchset has waited this long for our comment (default: 6)",
    )
    parser.add_argument("--node", action="append", default=[], metavar="HOST[:PORT]")
    parser.add_argument("--array", metavar="URL", help="the array's management API URL")
    parser.add_argument("--insecure", action="store_true", help="do not verify the array's TLS")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--alert-command", metavar="CMD", help="run on critical; JSON on stdin")
    parser.add_argument("--alert-webhook", metavar="URL", help="POST the JSON report on critical")
    parser.add_argument("--repo", default=".", help="config repo, for site.yaml defaults")
    parser.set_defaults(func=cmd_health)


def _host_port(text, default_port, option):
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError as exc:
        raise UsageError(f"{option} {text!r}: port must be a number") from exc


def _site_tenant(repo):
    try:
        from ci_tools.zuulconf.site import load_site

        return load_site(repo)["tenant"]
    except (CIToolsError, OSError):  # no usable site.yaml: the user must say --tenant
        return None


def cmd_health(args):
    from ci_tools.people import health
    from ci_tools.people.gerrit_rest import GerritRest
    from ci_tools.people.source import DEFAULT_PROJECTS

    now = datetime.datetime.now(datetime.UTC)
    checks = []
    if args.zuul_web:
        tenant = args.tenant or _site_tenant(os.path.abspath(args.repo))
        if not tenant:
            raise UsageError("--zuul-web needs --tenant (no site.yaml to read it from)")
        checks += health.check_zuul(args.zuul_web, tenant, args.timeout, args.max_queue)
    if args.gerrit_ssh:
        host, port = _host_port(args.gerrit_ssh, 29418, "--gerrit-ssh")
        checks.append(health.check_stream(host, port, now, args.scheduler_log))
    if args.scheduler_log:
        checks.append(health.check_last_event(args.scheduler_log, now, args.max_event_age))
    if args.gerrit:
        if not args.ci_account:
            raise UsageError("--gerrit needs --ci-account (our CI's Gerrit account)")
        client = GerritRest(args.gerrit, timeout=args.timeout, rate=5, retries=2, backoff=0.5)
        checks += health.check_comments(
            client,
            args.ci_account,
            args.projects or DEFAULT_PROJECTS,
            now,
            args.silent_hours,
        )
    for node in args.node:
        host, port = _host_port(node, 22, "--node")
        checks.append(health.check_node(host, port, args.timeout))
    if args.array:
        checks.append(health.check_array(args.array, args.timeout, not args.insecure))
    if not checks:
        raise UsageError("nothing to check: give --zuul-web, --gerrit-ssh, --gerrit, --node ...")

    data = health.report(checks, now)
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(health.format_text(checks))
    code = health.exit_code(checks)
    if code == 2 and (args.alert_command or args.alert_webhook):
        for problem in health.alert(data, args.alert_command, args.alert_webhook, args.timeout):
            print(f"health: {problem}", file=sys.stderr)
    return code
