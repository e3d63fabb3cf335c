"""What a test run says, for a patch author: failed tests and the first error line of each.

Reads a subunit v2 stream (a file, gzipped or not, or the stream found in a
job's log directory) with python-subunit, and produces:

- a short summary fit for a Gerrit comment (counts, then each failed test
  with the line that names its error);
- ``testr_results.html`` through os-testr's ``subunit2html``, the page
  OpenStack jobs publish, so the page looks like the one upstream's
  reviewers know;
- a comparison of two runs: new failures, failures also seen in the base
  run, known flaky tests (regexes from a file), and tests fixed since.
"""

import contextlib
import dataclasses
import gzip
import io
import os
import re

from ci_tools.errors import UsageError

FAILED = ("fail", "uxsuccess")
# Names Zuul jobs and stestr give the stream, most specific first.
STREAM_NAMES = ("testrepository.subunit", "tempest.subunit", "stestr.subunit")
_ERROR_LINE = re.compile(
    r"^(?:[\w.]+\.)?(?:\w*(?:Error|Exception|Failure|Timeout|Fault|Exit)\w*|MismatchError)"
    r"(?::.*|$)"
)


@dataclasses.dataclass
class TestOutcome:
    id: str
    status: str
    duration: float | None = None
    traceback: str = ""

    @property
    def failed(self):
        return self.status in FAILED

    @property
    def error_line(self):
        return first_error_line(self.traceback)


@dataclasses.dataclass
class Run:
    source: str
    tests: dict  # id -> TestOutcome

    def with_status(self, *statuses):
        return [t for t in self.tests.values() if t.status in statuses]

    @property
    def failed(self):
        return sorted((t for t in self.tests.values() if t.failed), key=lambda t: t.id)

    def counts(self):
        return {
            "passed": len(self.with_status("success")),
            "failed": len(self.failed),
            "skipped": len(self.with_status("skip")),
            "expected failures": len(self.with_status("xfail")),
        }


def first_error_line(text):
    """The line of a traceback that names the error, e.g. ``TimeoutException: ...``.

    In a Python traceback that is the first unindented line after
    ``Traceback (most recent call last):``; chained tracebacks name the root
    cause first, which is the one a patch author wants. Without a
    traceback, a line that looks like an exception, else the last line.
    """
    lines = (text or "").splitlines()
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line.strip() and not line[0].isspace():
            return line.strip()
    lines = [line.strip() for line in lines if line.strip()]
    for line in lines:
        if _ERROR_LINE.match(line):
            return line
    return lines[-1] if lines else ""


def _require(module, package):
    try:
        return __import__(module, fromlist=["_"])
    except ImportError as exc:
        raise UsageError(f"this needs the Python package {package}: pip install {package}") from exc


def _open_stream(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rb")
    return open(path, "rb")


def find_stream(path):
    """The subunit file itself, or the one in a log directory (recursively)."""
    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise UsageError(f"{path}: no such file or directory")
    found = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            base = name[:-3] if name.endswith(".gz") else name
            if base.endswith(".subunit"):
                rank = STREAM_NAMES.index(base) if base in STREAM_NAMES else len(STREAM_NAMES)
                found.append((rank, root.count(os.sep), os.path.join(root, name)))
    if not found:
        raise UsageError(f"{path}: no *.subunit or *.subunit.gz file in this directory")
    return min(found)[2]


def _details_text(details):
    parts = []
    for name in ("traceback", "reason"):
        content = (details or {}).get(name)
        if content is not None:
            parts.append(b"".join(bytes(c) for c in content.iter_bytes()).decode("utf8", "replace"))
    return "\n".join(parts)


def read_run(path):
    """Parse a subunit v2 stream into a ``Run``; raises UsageError on unreadable input."""
    subunit = _require("subunit", "python-subunit")
    import testtools

    stream_path = find_stream(path)
    tests = {}

    def on_test(test):
        if test["status"] in ("exists", "inprogress", None):
            return
        start, stop = (test.get("timestamps") or [None, None])[:2]
        duration = (stop - start).total_seconds() if start and stop else None
        tests[test["id"]] = TestOutcome(
            test["id"], test["status"], duration, _details_text(test.get("details"))
        )

    try:
        with _open_stream(stream_path) as stream:
            case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
            result = testtools.StreamToDict(on_test)
            result.startTestRun()
            case.run(result)
            result.stopTestRun()
    except (OSError, EOFError, ValueError) as exc:
        raise UsageError(f"{stream_path}: not a readable subunit stream ({exc})") from exc
    if not tests:
        raise UsageError(f"{stream_path}: no test results in this subunit stream")
    return Run(stream_path, tests)


def summary(run, max_failures=20, title="Test results"):
    """Text for a Gerrit comment: counts, then failed tests with their error line."""
    counts = run.counts()
    head = ", ".join(
        f"{n} {label}" for label, n in counts.items() if n or label != "expected failures"
    )
    lines = [f"{title}: {head}"]
    failed = run.failed
    if failed:
        lines.append("")
        lines.append("Failed tests:")
        for test in failed[:max_failures]:
            lines.append(f"- {test.id}")
            if test.error_line:
                lines.append(f"    {test.error_line}")
        if len(failed) > max_failures:
            lines.append(f"... and {len(failed) - max_failures} more (see testr_results.html)")
    return "\n".join(lines) + "\n"


def write_html(path, html_file):
    """testr_results.html from the stream, by os-testr's subunit2html."""
    subunit = _require("subunit", "python-subunit")
    import testtools

    subunit2html = _require("os_testr.subunit2html", "os-testr")

    stream_path = find_stream(path)
    html_result = subunit2html.HtmlOutput(html_file)
    # subunit2html prints each failed test to stdout; that is not our output.
    with contextlib.redirect_stdout(io.StringIO()), _open_stream(stream_path) as stream:
        suite = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
        accumulator = subunit2html.FileAccumulator()
        result = testtools.StreamResultRouter(testtools.StreamToExtendedDecorator(html_result))
        result.add_rule(accumulator, "test_id", test_id=None)
        result.startTestRun()
        suite.run(result)
        for bytes_io in accumulator.route_codes.values():
            bytes_io.seek(0)
            subunit.ProtocolTestCase(bytes_io).run(html_result)
        result.stopTestRun()
    return html_file


def load_flaky(path):
    """Regexes, one a line (``#`` starts a comment), of tests known to be flaky."""
    patterns = []
    try:
        with open(path) as f:
            for number, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip()
                if not line:
                    continue
                try:
                    patterns.append(re.compile(line))
                except re.error as exc:
                    raise UsageError(f"{path}:{number}: bad regex {line!r}: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from exc
    return patterns


def compare(base, new, flaky=()):
    """Sort ``new``'s failures by what they mean for the patch under test."""
    base_failed = {t.id for t in base.failed}
    out = {"new": [], "known_flaky": [], "also_in_base": [], "fixed": []}
    for test in new.failed:
        if any(p.search(test.id) for p in flaky):
            out["known_flaky"].append(test)
        elif test.id in base_failed:
            out["also_in_base"].append(test)
        else:
            out["new"].append(test)
    for test_id in sorted(base_failed):
        outcome = new.tests.get(test_id)
        if outcome and outcome.status == "success":
            out["fixed"].append(outcome)
    return out


def format_comparison(result):
    titles = {
        "new": "New failures (not failing in the base run, not known flaky)",
        "known_flaky": "Known flaky",
        "also_in_base": "Also failing in the base run",
        "fixed": "Fixed (failed in the base run, pass now)",
    }
    lines = []
    for key, title in titles.items():
        tests = result[key]
        lines.append(f"{title}: {len(tests)}")
        for test in tests:
            lines.append(f"- {test.id}")
            if key != "fixed" and test.error_line:
                lines.append(f"    {test.error_line}")
    return "\n".join(lines) + "\n"
