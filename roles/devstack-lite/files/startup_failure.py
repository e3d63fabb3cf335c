#!/usr/bin/env python3
"""Did the change under test keep Cinder from starting, or did the node fail?

Reads the services' logs after a failed start and prints one JSON object:
``{"change": true, "service": "c-api", "error": "ImportError: ...",
"file": "cinder/volume/api.py"}`` when a service's last traceback is a code
defect (SyntaxError, ImportError, NameError, AttributeError, TypeError, ...)
raised through the source tree Zuul prepared for the change, or any
exception raised by that tree's own code (its innermost frame is in the
tree: a ``raise RuntimeError("INFRASTRUCTURE FAILURE ...")`` in the change
is the change's, whatever it says); otherwise ``{"change": false, ...}``
with the newest traceback found. Connection refused, a full disk or a
database that does not answer, raised by a library below Cinder, are the
node's trouble and stay infrastructure failures.

"change": true is only a suspect: playbooks/tempest/pre.yaml then starts
Cinder from the target branch without the change on the same node, and
blames the change only if that start succeeds (a broken library release
fails both, and is infrastructure).

A warm node keeps its logs between runs, so ``--mark`` records each log's
size before the services start (``LOG_DIR/.run-start.json``) and only what
was written after it is read.

Usage: startup_failure.py LOG_DIR SRC_DIR [SRC_DIR ...]
       startup_failure.py --mark LOG_DIR
"""

import json
import os
import re
import sys

SERVICES = ("cinder-manage", "c-api", "c-sch", "c-vol", "c-bak")
CODE_DEFECTS = (
    "SyntaxError",
    "IndentationError",
    "TabError",
    "ImportError",
    "ModuleNotFoundError",
    "NameError",
    "AttributeError",
    "TypeError",
    "UnboundLocalError",
)
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+')
_ERROR = re.compile(r"^(?:[\w.]+\.)?(?P<type>[A-Z]\w*(?:Error|Exception|Exit))(?::|$)")
# oslo.log's "2026-11-23 12:00:00.123 4242 ERROR cinder.service [req-...] " before each line
_OSLO_PREFIX = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \d+ [A-Z]+ \S+ (?:\[[^\]]*\] )?"
)


def tracebacks(text):
    """[(frames, error line), ...] of every traceback in ``text``, oldest first."""
    lines = [_OSLO_PREFIX.sub("", line) for line in text.splitlines()]
    starts = [i for i, line in enumerate(lines)
              if line.strip() == "Traceback (most recent call last):"]  # fmt: skip
    found = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        frames = []
        source_next = False
        for line in lines[start + 1 : end]:
            match = _FRAME.match(line)
            if match:
                frames.append(match["path"])
                source_next = True  # the frame's source line follows: never the error
                continue
            if source_next or not line.strip() or set(line.strip()) <= set("^~"):
                source_next = False
                continue
            error = _ERROR.match(line.strip())
            if error and frames:
                found.append((frames, line.strip()))
                break
    return found


def last_traceback(text):
    """(frames, error line) of the newest traceback in ``text``, or None."""
    found = tracebacks(text)
    return found[-1] if found else None


MARK_FILE = ".run-start.json"


def mark(log_dir):
    sizes = {}
    for service in SERVICES:
        try:
            sizes[service] = os.path.getsize(os.path.join(log_dir, f"{service}.log"))
        except OSError:
            sizes[service] = 0
    with open(os.path.join(log_dir, MARK_FILE), "w") as f:
        json.dump(sizes, f)


def _this_run(log_dir, service):
    """The log's text written since ``mark`` (all of it without a mark)."""
    try:
        with open(os.path.join(log_dir, MARK_FILE)) as f:
            start = int(json.load(f).get(service, 0))
    except (OSError, ValueError, AttributeError):
        start = 0
    path = os.path.join(log_dir, f"{service}.log")
    with open(path, "rb") as f:
        if os.path.getsize(path) < start:
            start = 0  # rotated or truncated since the mark
        f.seek(max(start, os.path.getsize(path) - 2_000_000))
        return f.read().decode(errors="replace")


def classify(log_dir, src_dirs):
    """A code defect through the change's tree in any service wins: on a warm
    node a service left running by the last run may log newer, unrelated
    errors (its database dropped under it) after c-api died of the change.
    Without one, the newest traceback is reported as the node's trouble."""
    src_dirs = [os.path.realpath(s).rstrip("/") + "/" for s in src_dirs if s]
    seen = []
    for service in SERVICES:
        path = os.path.join(log_dir, f"{service}.log")
        try:
            text = _this_run(log_dir, service)
            mtime = os.path.getmtime(path)
        except OSError:
            continue
        # Every traceback of this run counts, not only the newest: gunicorn's
        # arbiter may log its own HaltServer ("Worker failed to boot") after
        # the worker's ImportError, depending on which process dies first.
        for order, (frames, error) in enumerate(tracebacks(text)):
            kind = _ERROR.match(error)["type"]
            ours = [f for f in frames if any(os.path.realpath(f).startswith(s) for s in src_dirs)]
            raised_by_tree = bool(ours) and ours[-1] == frames[-1]
            found = {
                "change": bool(ours) and (kind in CODE_DEFECTS or raised_by_tree),
                "service": service,
                # oslo's "Class X cannot be found ([traceback lines])": the first part says it
                "error": error.split(" (['Traceback", 1)[0][:300],
                "file": _relative(ours[-1], src_dirs) if ours else "",
            }
            seen.append((found["change"], mtime, order, found))
    if not seen:
        return {"change": False}
    return max(seen, key=lambda item: item[:3])[3]


def _relative(path, src_dirs):
    real = os.path.realpath(path)
    for src in src_dirs:
        if real.startswith(src):
            return real[len(src) :]
    return path


def main(argv):
    if len(argv) == 3 and argv[1] == "--mark":
        os.makedirs(argv[2], exist_ok=True)
        mark(argv[2])
        return 0
    if len(argv) < 3:
        print("\n".join(__doc__.strip().splitlines()[-2:]), file=sys.stderr)
        return 2
    print(json.dumps(classify(argv[1], argv[2:])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
