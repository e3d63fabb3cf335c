"""``ci-tools status``: which drivers' third-party CIs are alive, from Gerrit's REST API."""

import datetime
import json
import os
import sys

import yaml

from ci_tools.errors import UsageError

DEFAULT_GERRIT = "https://review.opendev.org"


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "status",
        help="third-party CI status per driver and branch (last success, pass rates, at risk)",
        description="Reads comments by third-party CI accounts on Cinder and os-brick changes "
        "and reports, per CI and branch: last report, last success, pass rate over 7 and 30 "
        "days, silent days, and AT RISK when a CI has had no success for over 14 days.",
    )
    parser.add_argument(
        "--gerrit", default=DEFAULT_GERRIT, help="Gerrit URL (default: %(default)s)"
    )
    parser.add_argument(
        "--project",
        action="append",
        dest="projects",
        help="project to read (repeatable; default: openstack/cinder and openstack/os-brick)",
    )
    parser.add_argument("--branch", action="append", dest="branches", help="only this branch")
    parser.add_argument("--days", type=int, default=30, help="window read (default: 30)")
    parser.add_argument(
        "--ci",
        action="append",
        default=[],
        metavar="ACCOUNT[=DRIVER]",
        help="a CI account (name or username) and the driver it tests; repeatable. "
        "Named CIs are listed even when silent.",
    )
    parser.add_argument(
        "--cis-file",
        help="YAML mapping of CI account to driver (same meaning as --ci)",
    )
    parser.add_argument(
        "--zuul-web",
        metavar="URL",
        help="our zuul-web: also show our nightly periodic canary's newest results",
    )
    parser.add_argument("--tenant", help="Zuul tenant for --zuul-web (default: site.yaml's)")
    parser.add_argument(
        "--ci-group",
        default="Third-Party CI",
        help="Gerrit group whose members are CI accounts, when no --ci is given "
        "(default: %(default)s; '' to use the name pattern alone)",
    )
    parser.add_argument(
        "--ci-pattern",
        default=None,
        help="regex for CI account names when no --ci is given (default: name contains 'CI')",
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--json", dest="json_file", help="also write the JSON report here")
    parser.add_argument("--html", dest="html_file", help="also write a static HTML dashboard here")
    parser.add_argument(
        "--cache-dir",
        default=os.path.join(os.path.expanduser("~"), ".cache", "ci-tools", "gerrit"),
        help="cache of Gerrit answers (default: %(default)s); '' disables it",
    )
    parser.add_argument("--cache-ttl", type=int, default=600, help="seconds (default: 600)")
    parser.add_argument("--rate", type=float, default=2.0, help="max requests/second (default: 2)")
    parser.add_argument("--page-size", type=int, default=100, help="changes per request")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=4, help="retries on 5xx/timeouts")
    parser.add_argument("--backoff", type=float, default=1.0, help="first retry delay, seconds")
    parser.add_argument("--user", help="Gerrit user (anonymous reads need none)")
    parser.add_argument(
        "--password-env",
        default="GERRIT_HTTP_PASSWORD",
        help="environment variable holding the HTTP password (default: %(default)s)",
    )
    parser.add_argument(
        "--now", help="report as of this UTC time (ISO 8601), for reproducible reports"
    )
    parser.add_argument(
        "--fail-at-risk",
        action="store_true",
        help="exit 1 when any listed CI is at risk (for monitoring)",
    )
    parser.set_defaults(func=cmd_status)


def parse_now(text):
    if not text:
        return datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"--now: not an ISO 8601 time: {text!r}") from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC)


def parse_cis(pairs, cis_file):
    drivers = {}
    if cis_file:
        try:
            with open(cis_file) as f:
                data = yaml.safe_load(f) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"--cis-file {cis_file}: {exc}") from exc
        if not isinstance(data, dict):
            raise UsageError(f"--cis-file {cis_file}: expected a mapping of CI account to driver")
        drivers.update({str(k): (str(v) if v else None) for k, v in data.items()})
    for pair in pairs:
        account, _, driver = pair.partition("=")
        if not account.strip():
            raise UsageError(f"--ci {pair!r}: empty account name")
        drivers[account.strip()] = driver.strip() or None
    return drivers


def collect(args):
    from ci_tools.people.aggregate import aggregate
    from ci_tools.people.gerrit_rest import GerritRest
    from ci_tools.people.source import (
        DEFAULT_CI_PATTERN,
        DEFAULT_PROJECTS,
        ci_comments,
        group_members,
    )

    now = parse_now(args.now)
    if args.days < 1:
        raise UsageError("--days must be at least 1")
    if args.page_size < 1:
        raise UsageError("--page-size must be at least 1")
    drivers = parse_cis(args.ci, args.cis_file)
    client = GerritRest(
        args.gerrit,
        user=args.user,
        password=os.environ.get(args.password_env) if args.user else None,
        timeout=args.timeout,
        rate=args.rate,
        retries=args.retries,
        backoff=args.backoff,
        cache_dir=args.cache_dir or None,
        cache_ttl=args.cache_ttl,
    )
    members = None
    if args.ci_group and not drivers:
        members = group_members(client, args.ci_group)
        if members is None:
            print(f"status: group {args.ci_group!r} cannot be read; CI accounts are recognised "
                  "by name alone", file=sys.stderr)  # fmt: skip
    comments = ci_comments(
        client,
        now,
        days=args.days,
        projects=args.projects or DEFAULT_PROJECTS,
        branches=args.branches or (),
        accounts=tuple(drivers),
        pattern=args.ci_pattern or DEFAULT_CI_PATTERN,
        page_size=args.page_size,
        members=members,
    )
    status = aggregate(comments, now, drivers=drivers, days=args.days, expected=tuple(drivers))
    return status, client


def cmd_status(args):
    from ci_tools.people.table import format_table

    status, client = collect(args)
    data = status.to_dict()
    data["gerrit"] = {
        "url": args.gerrit,
        "requests": client.requests,
        "cache_hits": client.cache_hits,
        "problems": client.problems,
    }
    periodic = None
    if args.zuul_web:
        from ci_tools.people.health import check_periodic

        tenant = args.tenant
        if not tenant:
            from ci_tools.zuulconf.site import load_site

            tenant = load_site(os.path.abspath("."))["tenant"]
        periodic = check_periodic(args.zuul_web.rstrip("/"), tenant, args.timeout)
        data["periodic"] = periodic.to_dict()
    if args.json_file:
        with open(args.json_file, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
    if args.html_file:
        from ci_tools.people.dashboard import render_html

        with open(args.html_file, "w") as f:
            f.write(render_html(status))
    if args.format == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(format_table(status))
        if periodic is not None:
            print(f"our periodic canary: {periodic.state}: {periodic.detail}")
        unparsed = sum(ci.unparsed for ci in status.cis.values())
        if unparsed:
            print(f"{unparsed} CI comments in unknown formats were counted as unparsed")
    for problem in client.problems:
        print(f"gerrit: {problem}", file=sys.stderr)
    at_risk = [name for name, ci in status.cis.items() if ci.overall.at_risk(status.now)]
    if args.fail_at_risk and at_risk:
        print(f"at risk: {', '.join(sorted(at_risk))}", file=sys.stderr)
        return 1
    return 0
