"""Turn data_path_tests.py's JSON results into a subunit v2 stream.

Usage: results_to_subunit.py RESULTS.json OUTPUT.subunit. Runs with the Tempest
venv's python (python-subunit comes with Tempest); run-tempest appends the
stream to Tempest's, so the HTML report, the summary and the comment's failing
test names carry the data-path tests.
"""

import datetime
import json
import sys

import subunit


def main(argv):
    with open(argv[1]) as f:
        results = json.load(f)
    if isinstance(results, dict):  # {"node": ..., "results": [...]}
        results = results["results"]
    with open(argv[2], "wb") as out:
        stream = subunit.StreamResultToBytes(out)
        now = datetime.datetime.now(datetime.timezone.utc)
        for result in results:
            test_id = result["id"]
            start = now
            end = start + datetime.timedelta(seconds=result.get("seconds", 0))
            stream.status(test_id=test_id, test_status="inprogress", timestamp=start)
            details = json.dumps(result.get("details", {}), indent=2).encode()
            stream.status(test_id=test_id, file_name="details", file_bytes=details,
                          mime_type="application/json", eof=True)  # fmt: skip
            if result["status"] == "skip":
                reason = result.get("details", {}).get("reason", "").encode()
                stream.status(test_id=test_id, file_name="reason", file_bytes=reason,
                              mime_type="text/plain; charset=utf8", eof=True)  # fmt: skip
            stream.status(test_id=test_id, test_status=result["status"], timestamp=end)
            now = end
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
