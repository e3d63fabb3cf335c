"""Say in one paragraph why a sandbox run did not pass: the job, its result, and
the first task that failed with its message, read from the job's published
``job-output.txt`` (Zuul's text console log; the ``.json`` twin is still open
while the logs are published, so it is truncated).

This is what a maintainer would otherwise dig out of the log server by hand
after a bare ``RETRY_LIMIT``.
"""

import dataclasses
import json
import re

import requests

from ci_tools.people.parse import parse_jobs

_LINE = re.compile(r"^\S+ \S+ \| (?:(?P<host>[^|]+?) \| )?(?P<text>.*)$")
_PLAYBOOK = re.compile(
    r"^(?P<phase>PRE-RUN|RUN|POST-RUN) START: \[[^:]*: [^/]*/[^/]*/(?P<pb>[^@\]]+)"
)
_TASK = re.compile(r"^TASK \[(?P<name>.*)\]$")


@dataclasses.dataclass
class TaskFailure:
    phase: str
    playbook: str
    task: str
    host: str
    message: str

    def sentence(self):
        return (f'the {self.phase.lower()} playbook {self.playbook} failed in task '
                f'"{self.task}" on {self.host}: {self.message}')  # fmt: skip


def _message(block, before):
    """The useful line of a failed task: its msg, or stderr, or what it printed."""
    try:
        result = json.loads("\n".join(block))
    except ValueError:
        result = {}
    msg = result.get("msg") or ""
    stderr = (result.get("stderr") or "").strip()
    if msg in ("", "non-zero return code"):
        # A command's own words say more than Ansible's summary: its last
        # error line (pip ends with a "note:" after the ERROR that matters).
        lines = stderr.splitlines() if stderr else before
        errors = [line for line in lines if re.match(r"\s*(ERROR|Error|error|fatal)\b", line)]
        if errors or lines:
            msg = f"{(errors or lines)[-1].strip()} (rc {result.get('rc')})"
    if not isinstance(msg, str):
        msg = json.dumps(msg)
    return " ".join(msg.split())[:400] or "(no message)"


def failed_tasks(job_output):
    """Failed tasks of a ``job-output.txt``, in order; ignored errors left out."""
    failures = []
    phase = playbook = task = ""
    before = []
    block = None
    block_host = None
    pending = None
    for raw in job_output.splitlines():
        m = _LINE.match(raw)
        if not m:
            continue
        host, text = m.group("host"), m.group("text")
        if block is not None:
            if host == block_host:
                block.append(text)
                if text == "}":
                    pending = TaskFailure(phase, playbook, task, block_host,
                                          _message(block, before))  # fmt: skip
                    block = None
                continue
            pending = TaskFailure(phase, playbook, task, block_host, _message(block, before))
            block = None
        if pending is not None:
            if "...ignoring" not in text:
                failures.append(pending)
            pending = None
        if host is None:
            if pm := _PLAYBOOK.match(text):
                phase, playbook = pm.group("phase"), pm.group("pb")
            elif tm := _TASK.match(text):
                task, before = tm.group("name"), []
            continue
        if text == "ERROR" or text.startswith("ERROR:"):
            block, block_host = [], host
        elif text.startswith("fatal:") or text.strip():
            before.append(text.removeprefix("fatal:").strip())
    if block is not None:
        pending = TaskFailure(phase, playbook, task, block_host, _message(block, before))
    if pending is not None:
        failures.append(pending)
    return failures


def explain(report, builds, fetch):
    """(passed, paragraph) for a CI report.

    ``builds``: zuul-web's build records for the change (newest first, as the
    API gives them); ``fetch(url)`` returns a URL's text or None."""
    jobs = parse_jobs(report)
    if not jobs:
        return False, "the CI's comment names no job results (merge failure or config error?)"
    bad = [j for j in jobs if j.result != "SUCCESS"]
    if not bad:
        return True, f"all {len(jobs)} jobs succeeded"
    parts = []
    for job in bad:
        build = next((b for b in builds if b.get("job_name") == job.name), {})
        text = f"{job.name} ended {job.result}"
        if build.get("error_detail"):
            text += f" ({build['error_detail']})"
        log_url = build.get("log_url")
        output = fetch(log_url.rstrip("/") + "/job-output.txt") if log_url else None
        failures = failed_tasks(output or "")
        if failures:
            text += ": " + failures[0].sentence()
            last = failures[-1]
            if last.task != failures[0].task:
                text += f'; last failure: "{last.task}": {last.message}'
        elif log_url:
            text += ": no failed task in its job-output.txt"
        else:
            text += ": no logs were published"
        if log_url:
            text += f". Logs: {log_url}"
        parts.append(text + ".")
    return False, " ".join(parts)


def explain_change(report, zuul_url, tenant, change):
    """:func:`explain` with the builds and logs read over HTTP from zuul-web."""

    def fetch(url):
        try:
            resp = requests.get(url, timeout=10)
        except requests.RequestException:
            return None
        return resp.text if resp.ok else None

    try:
        resp = requests.get(f"{zuul_url}/api/tenant/{tenant}/builds",
                            params={"change": change, "limit": 50}, timeout=10)  # fmt: skip
        builds = resp.json() if resp.ok else []
    except (requests.RequestException, ValueError):
        builds = []
    return explain(report, builds, fetch)
