#!/usr/bin/env python3
"""Wait until an API answers, or stop as soon as its service has died.

Polling the URL alone waits the whole timeout for a service that exited in
its first second (a change that keeps cinder-api from starting); this also
asks supervisord and gives up when the program is no longer RUNNING.

Usage: wait_for_api.py URL TIMEOUT SUPERVISORCTL_CONF PROGRAM
Exit 0 when the URL answers 200 or 300; 1 with the reason otherwise.
"""

import subprocess
import sys
import time
import urllib.error
import urllib.request


def answers(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status in (200, 300)
    except urllib.error.HTTPError as exc:
        return exc.code in (200, 300)
    except (urllib.error.URLError, OSError):
        return False


def program_state(ctl, conf, program):
    proc = subprocess.run([ctl, "-c", conf, "status", program], capture_output=True, text=True)
    fields = proc.stdout.split()
    return fields[1] if len(fields) > 1 else "UNKNOWN"


def main(argv):
    url, timeout, ctl, conf, program = argv[1], float(argv[2]), argv[3], argv[4], argv[5]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(url):
            print(f"{url} answers")
            return 0
        state = program_state(ctl, conf, program)
        if state not in ("RUNNING", "STARTING"):
            print(f"{program} is {state}, not starting: see its log", file=sys.stderr)
            return 1
        time.sleep(1)
    print(f"{url} did not answer within {timeout:g}s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
