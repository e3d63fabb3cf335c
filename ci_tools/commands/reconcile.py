"""``ci-tools reconcile``: enqueue what Zuul missed while its event stream was down."""

import logging
import os

from ci_tools.commands._passes import DEFAULT_PROJECTS, add_watch_args, run_passes
from ci_tools.errors import UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "reconcile",
        help="enqueue patchsets and recheck comments Zuul missed (stream drops)",
        description="Reads recent patchsets and trigger comments (recheck, run-<ci>) over "
        "Gerrit REST and, for each one Zuul has no buildset or queue item for, enqueues the "
        "change through zuul-web. Stateless and idempotent: run it from a timer or with "
        "--interval. See ci_tools/watchers/reconciler.py.",
    )
    parser.add_argument("--repo", default=".", help="this CI's config repo (site.yaml, zuul.d)")
    parser.add_argument("--zuul-web", required=True, metavar="URL", help="zuul-web base URL")
    parser.add_argument("--tenant", help="Zuul tenant (default: site.yaml's tenant)")
    parser.add_argument(
        "--token-env", default="ZUUL_ADMIN_TOKEN",
        help="environment variable holding a zuul-web admin token (%(default)s)",
    )  # fmt: skip
    add_watch_args(parser)
    parser.add_argument("--window", type=float, default=1.0, metavar="HOURS",
                        help="look this far back (default: %(default)s)")  # fmt: skip
    parser.add_argument("--grace", type=float, default=60, metavar="SECONDS",
                        help="leave younger events to Zuul (default: %(default)s)")  # fmt: skip
    parser.add_argument("--dry-run", action="store_true", help="print what would be enqueued")
    parser.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args):
    from ci_tools.people.gerrit_rest import GerritRest
    from ci_tools.watchers import reconciler, zuul_web
    from ci_tools.zuulconf import recheck
    from ci_tools.zuulconf.site import load_site

    logging.basicConfig(level=logging.INFO, format="%(asctime)s reconcile: %(message)s")
    repo = os.path.abspath(args.repo)
    site = load_site(repo)
    token = os.environ.get(args.token_env)
    if not token and not args.dry_run:
        raise UsageError(f"enqueueing needs a zuul-web admin token in ${args.token_env}")
    zuul = zuul_web.ZuulView(args.zuul_web, args.tenant or site["tenant"], "check", token=token)
    rec = reconciler.Reconciler(
        GerritRest(args.gerrit, rate=5, retries=3),
        zuul,
        args.projects or DEFAULT_PROJECTS,
        recheck.comment_regexes(repo),
        ci_accounts={site["ci_name"]},
        window=args.window * 3600,
        grace=args.grace,
    )

    def one_pass():
        if args.dry_run:
            for trigger in rec.missed():
                print(f"would enqueue {trigger.project} {trigger.ref} ({trigger.kind})")
        else:
            for trigger in rec.run_once():
                print(f"enqueued {trigger.project} {trigger.ref} ({trigger.kind})")

    return run_passes("reconcile", one_pass, args.interval)
