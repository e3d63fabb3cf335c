"""``ci-tools recheck CHANGE [--ci NAME]``: post the recheck comment through Gerrit's REST API."""

import os
import sys

from ci_tools.errors import CIToolsError, UsageError

DEFAULT_GERRIT = "https://review.opendev.org"


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "recheck",
        help="post the right recheck comment on a change",
        description="Posts 'recheck' (every CI runs again) or, with --ci NAME, 'run-NAME' "
        "(that CI only) on the change's current patch set, as a review without votes.",
    )
    parser.add_argument("change", metavar="CHANGE", help="change number or project~branch~Id")
    parser.add_argument("--ci", metavar="NAME", help="re-run this CI only (comment run-NAME)")
    parser.add_argument(
        "--comment", help="post this text instead (for CIs with their own convention)"
    )
    parser.add_argument("--patchset", default="current", help="revision (default: current)")
    parser.add_argument(
        "--gerrit", default=DEFAULT_GERRIT, help="Gerrit URL (default: %(default)s)"
    )
    parser.add_argument("--user", help="Gerrit user (default: $GERRIT_USER)")
    parser.add_argument(
        "--password-env",
        default="GERRIT_HTTP_PASSWORD",
        help="environment variable holding the HTTP password (default: %(default)s)",
    )
    parser.add_argument("--auth", choices=("basic", "digest"), default="basic")
    parser.add_argument(
        "--repo",
        default=".",
        help="this CI's config repo, to check the comment against its check pipeline",
    )
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--dry-run", action="store_true", help="print the comment, post nothing")
    parser.set_defaults(func=cmd_recheck)


def _our_ci(repo):
    try:
        from ci_tools.zuulconf.site import load_site

        return load_site(repo)["ci_name"]
    except (CIToolsError, OSError):  # no site.yaml here: nothing of ours to check against
        return None


def cmd_recheck(args):
    from ci_tools.people import recheck
    from ci_tools.people.gerrit_rest import GerritRest

    comment = args.comment or recheck.recheck_comment(args.ci)
    if not comment.strip():
        raise UsageError("--comment is empty")
    repo = os.path.abspath(args.repo)
    if not args.comment and (args.ci is None or args.ci == _our_ci(repo)):
        recheck.check_triggers(comment, repo)
    path = recheck.review_path(args.change, args.patchset)
    if args.dry_run:
        print(f"would post {comment!r} to {args.gerrit.rstrip('/')}/a/{path}")
        return 0
    user = args.user or os.environ.get("GERRIT_USER")
    password = os.environ.get(args.password_env)
    if not user or not password:
        raise UsageError(
            f"posting needs --user (or $GERRIT_USER) and the HTTP password in ${args.password_env}"
        )
    client = GerritRest(
        args.gerrit,
        user=user,
        password=password,
        auth=args.auth,
        timeout=args.timeout,
        rate=0,
        retries=2,
    )
    recheck.post_recheck(client, args.change, comment, args.patchset)
    for problem in client.problems:
        print(f"gerrit: {problem}", file=sys.stderr)
    print(f"posted {comment!r} on change {args.change}")
    return 0
