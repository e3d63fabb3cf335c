"""``ci-tools results``: failed tests and their first error lines, from subunit or a log dir."""

import json
import os
import sys


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "results",
        help="summarise a test run (subunit v2) for a comment; testr_results.html; compare runs",
        description="Reads a subunit v2 stream (SUBUNIT, gzipped or not) or finds one in a "
        "job's log directory (LOGDIR) and prints the counts and each failed test with the "
        "first line naming its error.",
    )
    parser.add_argument("source", metavar="SUBUNIT|LOGDIR")
    parser.add_argument("--html", metavar="FILE", help="write testr_results.html here")
    parser.add_argument(
        "--compare", metavar="BASE", help="a base run (SUBUNIT|LOGDIR): show new failures"
    )
    parser.add_argument("--flaky", metavar="FILE", help="regexes of known flaky tests, one a line")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--max-failures", type=int, default=20, help="listed in the summary")
    parser.add_argument("--title", default="Test results", help="first word(s) of the summary")
    parser.add_argument(
        "--fail-on-new",
        action="store_true",
        help="exit 1 when --compare finds new failures (or, without it, any failure)",
    )
    parser.set_defaults(func=cmd_results)


def _test_dict(test):
    return {
        "id": test.id,
        "status": test.status,
        "duration": test.duration,
        "error": test.error_line,
    }


def cmd_results(args):
    from ci_tools.people import subunit_results as sr

    run = sr.read_run(args.source)
    flaky = sr.load_flaky(args.flaky) if args.flaky else []
    comparison = sr.compare(sr.read_run(args.compare), run, flaky) if args.compare else None
    if args.html:
        sr.write_html(run.source, args.html)
    if args.format == "json":
        data = {
            "source": run.source,
            "counts": run.counts(),
            "failed": [_test_dict(t) for t in run.failed],
        }
        if comparison:
            data["comparison"] = {k: [t.id for t in v] for k, v in comparison.items()}
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(sr.summary(run, args.max_failures, args.title))
        if comparison:
            sys.stdout.write("\n" + sr.format_comparison(comparison))
    if args.html:
        print(f"wrote {os.path.abspath(args.html)}", file=sys.stderr)
    if args.fail_on_new:
        if comparison is not None:
            return 1 if comparison["new"] else 0
        return 1 if run.failed else 0
    return 0
