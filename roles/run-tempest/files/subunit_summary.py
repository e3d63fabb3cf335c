"""Summarise a subunit v2 stream as JSON: counts, skips with reasons, failing ids.

Usage: subunit_summary.py STREAM [OUTPUT.json]. Runs with python-subunit and
testtools (both come with Tempest). Class-level setUpClass errors count as
failures; an empty stream is an error, never a pass.
"""

import json
import sys

import subunit
import testtools


def summarise(stream):
    tests = {}

    def on_test(test):
        tests[test["id"]] = test

    result = testtools.StreamToDict(on_test)
    case = subunit.ByteStreamToStreamResult(stream, non_subunit_name="stdout")
    result.startTestRun()
    try:
        case.run(result)
    finally:
        result.stopTestRun()
    summary = {"passed": 0, "failed": 0, "skipped": 0, "skips": [], "failures": []}
    for test_id, test in sorted(tests.items()):
        status = test["status"]
        if status in ("success", "xfail"):
            summary["passed"] += 1
        elif status == "skip":
            summary["skipped"] += 1
            reason = test["details"].get("reason")
            summary["skips"].append(
                {"id": test_id, "reason": reason.as_text() if reason else ""}
            )
        elif status in ("fail", "uxsuccess"):
            summary["failed"] += 1
            summary["failures"].append(test_id)
        # 'exists'/'inprogress' are bookkeeping events of the stream
    summary["total"] = summary["passed"] + summary["failed"] + summary["skipped"]
    return summary


def main(argv):
    with open(argv[1], "rb") as stream:
        summary = summarise(stream)
    text = json.dumps(summary, indent=2, sort_keys=True)
    if len(argv) > 2:
        with open(argv[2], "w") as out:
            out.write(text + "\n")
    print(
        f"{summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['skipped']} skipped"
    )
    return 1 if summary["total"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
