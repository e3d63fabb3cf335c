"""What the stateless Gerrit watchers (vote-guard, reconcile) share: the
arguments naming what to watch, and the loop of passes."""

import sys
import time

from ci_tools.errors import CIToolsError

DEFAULT_GERRIT = "https://review.opendev.org"
DEFAULT_PROJECTS = ("openstack/cinder", "openstack/os-brick")


def add_watch_args(parser):
    parser.add_argument("--gerrit", default=DEFAULT_GERRIT, help="Gerrit URL (%(default)s)")
    parser.add_argument(
        "--project", action="append", dest="projects",
        help="projects to watch (default: openstack/cinder and openstack/os-brick)",
    )  # fmt: skip
    parser.add_argument(
        "--interval", type=float, default=0, help="seconds between passes (0: one pass and exit)"
    )


def run_passes(name, one_pass, interval):
    """``one_pass()`` once, or every ``interval`` seconds; a failed pass is
    reported and retried when running as a service, raised otherwise."""
    while True:
        try:
            one_pass()
        except CIToolsError as exc:
            if not interval:
                raise
            print(f"{name}: pass failed, retrying in {interval:g}s: {exc}", file=sys.stderr)
        if not interval:
            return 0
        time.sleep(interval)
