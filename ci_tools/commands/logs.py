"""``ci-tools logs``: look after the published build logs."""

import os
import sys

from ci_tools.errors import UsageError


def add_subparser(subparsers):
    parser = subparsers.add_parser("logs", help="look after the published build logs")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prune = sub.add_parser(
        "prune",
        help="remove build logs older than N days (default 30)",
        description="Removes <log_root>/<xx>/<build-uuid>/ directories published more than "
        "--days ago; nothing else under the log root is touched and links are never "
        "followed. Run it daily from a systemd timer or cron (doc/logs.rst).",
    )
    prune.add_argument("--repo", default=".", help="this CI's config repo (site.yaml's log_root)")
    prune.add_argument("--root", help="the log root (default: site.yaml's log_root)")
    prune.add_argument("--days", type=float, default=30, help="keep this many days (%(default)s)")
    prune.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    prune.set_defaults(func=cmd_prune)


def cmd_prune(args):
    from ci_tools.logs.prune import prune

    if args.days < 0:
        raise UsageError(f"--days must be 0 or more, not {args.days:g}")
    root = args.root
    if not root:
        from ci_tools.zuulconf.site import load_site

        root = load_site(os.path.abspath(args.repo))["log_root"]
    if not os.path.isdir(root):
        raise UsageError(f"log root {root} is not a directory")
    result = prune(root, days=args.days, dry_run=args.dry_run)
    for path, why in result.skipped:
        print(f"skipped {path}: {why}", file=sys.stderr)
    verb = "would remove" if args.dry_run else "removed"
    for path in result.removed:
        print(f"{verb} {path}")
    print(f"{verb} {len(result.removed)} build log dirs older than {args.days:g} days "
          f"({result.freed / 1e6:.1f} MB), kept {result.kept}")  # fmt: skip
    return 0
