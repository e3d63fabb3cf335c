"""The ``ci-tools`` entry point: ``main(argv) -> int`` so tests call it directly."""

import argparse
import logging
import sys

from ci_tools.commands import command_modules
from ci_tools.errors import CIToolsError


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ci-tools",
        description="Tools for a Cinder third-party CI: config checks, Gerrit emulator, "
        "reference array, status and recheck.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug output")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        module.add_subparser(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args) or 0
    except CIToolsError as exc:
        print(f"ci-tools: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
