"""``ci-tools vote-guard``: add the CI's -1 when the build records prove the change failed."""

import logging
import os

from ci_tools.commands._passes import DEFAULT_PROJECTS, add_watch_args, run_passes
from ci_tools.errors import UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "vote-guard",
        help="vote -1 on failed builds that prove the change at fault, never for infrastructure",
        description="Zuul votes +1 in its own success report. For each failed check report "
        "on an open change this reads the buildset's records from zuul-web and votes -1 only "
        "when every failed voting build is a FAILURE carrying the trusted playbooks' "
        "tempest-verdict (tests failed, or Cinder does not start with the change); nothing "
        "for RETRY_LIMIT, NODE_FAILURE, POST_FAILURE, TIMED_OUT or an unexplained FAILURE. "
        "It never reads the report's text. Stateless: run it as a service (--interval) or "
        "from a timer.",
    )
    parser.add_argument("--repo", default=".", help="this CI's config repo (site.yaml)")
    parser.add_argument("--zuul-web", required=True, metavar="URL", help="zuul-web base URL")
    parser.add_argument("--tenant", help="Zuul tenant (default: site.yaml's tenant)")
    add_watch_args(parser)
    parser.add_argument("--user", help="the CI's Gerrit account (default: site.yaml's ci_name)")
    parser.add_argument(
        "--password-env",
        default="GERRIT_HTTP_PASSWORD",
        help="environment variable holding the CI account's HTTP password (%(default)s)",
    )
    parser.add_argument("--auth", choices=("basic", "digest"), default="basic")
    parser.add_argument(
        "--window", type=float, default=6.0, metavar="HOURS",
        help="reports older than this are left alone (default: %(default)s)",
    )  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print the votes, cast none")
    parser.set_defaults(func=cmd_vote_guard)


def cmd_vote_guard(args):
    from ci_tools.people.gerrit_rest import GerritRest
    from ci_tools.watchers.vote_guard import VoteGuard
    from ci_tools.watchers.zuul_web import ZuulView
    from ci_tools.zuulconf.site import load_site

    logging.basicConfig(level=logging.INFO, format="%(asctime)s vote-guard: %(message)s")
    site = load_site(os.path.abspath(args.repo))
    if not site["voting"] and not args.dry_run:
        raise UsageError(
            "site.yaml says voting: false, so the CI only comments; set voting: true "
            "(or use --dry-run to see what the guard would vote)"
        )
    user = args.user or site["ci_name"]
    password = os.environ.get(args.password_env)
    if not password and not args.dry_run:
        raise UsageError(f"voting needs the CI account's HTTP password in ${args.password_env}")
    gerrit = GerritRest(
        args.gerrit, user=user if password else None, password=password, auth=args.auth,
        rate=5, retries=3,
    )  # fmt: skip
    guard = VoteGuard(
        gerrit,
        ZuulView(args.zuul_web, args.tenant or site["tenant"], "check"),
        site["ci_name"],
        args.projects or DEFAULT_PROJECTS,
        label=site["vote_label"],
        max_failures=site["disable_voting_after_failures"],
        window=args.window * 3600,
        dry_run=args.dry_run,
    )

    def one_pass():
        for report, value in guard.run_once():
            verb = "would vote" if args.dry_run else "voted"
            print(f"{verb} {site['vote_label']}{value:+d} on {report.project} {report.ref}")

    return run_passes("vote-guard", one_pass, args.interval)
