"""Is our own CI alive? Checks a CI maintainer (or a monitoring system) runs.

Each check returns a ``Check`` with a state in ``STATES``:

- ``zuul``: zuul-web answers and ``/api/components`` lists a running
  scheduler (and an executor); a stopped scheduler unregisters itself.
- ``queue``: items waiting in the tenant's pipelines and event queues
  (``/api/tenant/<t>/status``), a warning past a limit.
- ``stream``: an established TCP connection from this host to Gerrit's SSH
  port, which is what Zuul's ``gerrit stream-events`` holds (Zuul does not
  log a successful connect; it logs a failed one, reported as the last
  stream error when the scheduler log is given).
- ``last-event``: the last event Zuul received, from the scheduler's debug log.
- ``last-comment`` / ``silence``: our CI account's last comment on Gerrit,
  and whether a patchset uploaded after it has waited more than N hours:
  the CI went silent while upstream had work for it.
- ``node:<host>`` / ``array``: the test nodes answer SSH, the array's API answers HTTP.

The exit code follows monitoring plugins: 0 ok, 1 warning, 2 critical.
"""

import dataclasses
import datetime
import ipaddress
import json
import os
import re
import shlex
import socket
import subprocess

import requests

from ci_tools.people.source import gerrit_date

STATES = ("ok", "warning", "critical", "unknown", "skipped")
EXIT = {"ok": 0, "skipped": 0, "warning": 1, "unknown": 1, "critical": 2}
LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)[,.]\d+ ")
EVENT_LINE = "Received data from Gerrit event stream"
STREAM_ERROR_LINE = "Exception on ssh event stream"
LOG_TAIL_BYTES = 8 * 1024 * 1024


@dataclasses.dataclass
class Check:
    name: str
    state: str
    detail: str
    data: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        return {"name": self.name, "state": self.state, "detail": self.detail, **self.data}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _age(now, then):
    seconds = int((now - then).total_seconds())
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds / 3600:.1f}h ago"


# -- Zuul ---------------------------------------------------------------------


def check_zuul(web_url, tenant, timeout=10.0, max_queue=50):
    """``zuul`` and ``queue`` checks from zuul-web's REST API."""
    base = web_url.rstrip("/")
    try:
        resp = requests.get(f"{base}/api/components", timeout=timeout)
        resp.raise_for_status()
        components = resp.json()
    except (requests.RequestException, ValueError) as exc:
        reason = exc.__class__.__name__
        return [
            Check("zuul", "critical", f"zuul-web at {base} does not answer ({reason})"),
            Check("queue", "unknown", "zuul-web does not answer"),
        ]
    running = {
        kind: [c for c in members if c.get("state") == "running"]
        for kind, members in components.items()
        if isinstance(members, list)
    }
    problems = []
    if not running.get("scheduler"):
        problems.append("no running scheduler (stopped or crashed)")
    if not running.get("executor"):
        problems.append("no running executor")
    counts = ", ".join(f"{k} {len(v)}" for k, v in sorted(running.items()) if v)
    zuul = Check(
        "zuul",
        "critical" if problems else "ok",
        "; ".join(problems) if problems else f"running: {counts}",
        {"components": {k: len(v) for k, v in running.items()}},
    )
    return [
        zuul,
        _check_queue(base, tenant, timeout, max_queue),
        check_periodic(base, tenant, timeout),
    ]


def periodic_failures(buildsets):
    """The newest finished periodic buildset per (project, branch) that did not
    succeed: a nightly canary that failed. ``buildsets`` newest first, as
    zuul-web lists them."""
    newest = {}
    for bs in buildsets:
        refs = bs.get("refs") or [bs]
        ref = refs[0] if refs else {}
        key = (ref.get("project"), ref.get("branch"))
        if bs.get("result") and key not in newest:
            newest[key] = bs
    return [bs for bs in newest.values() if bs["result"] != "SUCCESS"]


def check_periodic(base, tenant, timeout=10.0):
    """``periodic``: critical when the newest nightly canary of a project and
    branch failed, so the alert hooks reach the CI's contact."""
    try:
        resp = requests.get(
            f"{base}/api/tenant/{tenant}/buildsets?pipeline=periodic&complete=true&limit=50",
            timeout=timeout,
        )
        resp.raise_for_status()
        buildsets = resp.json()
    except (requests.RequestException, ValueError) as exc:
        return Check("periodic", "unknown", f"periodic buildsets: {exc}")
    if not buildsets:
        return Check("periodic", "skipped", "no periodic canary has run yet")
    failed = periodic_failures(buildsets)
    if not failed:
        return Check("periodic", "ok", "the newest canary of each branch passed")
    lines = []
    for bs in failed:
        ref = (bs.get("refs") or [bs])[0]
        url = f"{base}/t/{tenant}/buildset/{bs.get('uuid')}"
        when = bs.get("event_timestamp") or "?"
        lines.append(f"{ref.get('project')} {ref.get('branch')} {bs['result']} ({when}, {url})")
    return Check(
        "periodic",
        "critical",
        "periodic canary failed: " + "; ".join(lines),
        {"failed": [bs.get("uuid") for bs in failed]},
    )


def _count_items(status):
    items = 0
    for pipeline in status.get("pipelines", []):
        for queue in pipeline.get("change_queues", []):
            for head in queue.get("heads", []):
                items += len(head)
    return items


def _check_queue(base, tenant, timeout, max_queue):
    try:
        resp = requests.get(f"{base}/api/tenant/{tenant}/status", timeout=timeout)
        resp.raise_for_status()
        status = resp.json()
    except (requests.RequestException, ValueError) as exc:
        return Check("queue", "unknown", f"tenant {tenant} status: {exc.__class__.__name__}")
    items = _count_items(status)
    events = sum(
        (status.get(key) or {}).get("length", 0)
        for key in ("trigger_event_queue", "management_event_queue", "result_event_queue")
    )
    state = "warning" if items + events > max_queue else "ok"
    return Check(
        "queue",
        state,
        f"{items} items in pipelines, {events} events waiting",
        {"items": items, "events": events},
    )


# -- event stream ---------------------------------------------------------------


def _proc_addr(text):
    """An address:port from /proc/net/tcp{,6} (hex, 32-bit words in host order)."""
    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    # Each 32-bit word is stored little-endian on the hosts this runs on.
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(raw)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip, int(port, 16)


def established_to(host, port, proc_root="/proc"):
    """Established TCP connections from this host to ``host:port``."""
    targets = {
        ipaddress.ip_address(info[4][0].split("%")[0])
        for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    }
    found = []
    for table in ("net/tcp", "net/tcp6"):
        try:
            with open(os.path.join(proc_root, table)) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] != "01":  # TCP_ESTABLISHED
                        continue
                    remote = _proc_addr(fields[2])
                    if remote[1] == port and remote[0] in targets:
                        found.append((_proc_addr(fields[1]), remote))
        except OSError:
            continue
    return found


def _log_lines(path):
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - LOG_TAIL_BYTES))
        data = f.read()
    return data.decode("utf8", "replace").splitlines()


def _log_time(line):
    match = LOG_TIME.match(line)
    if not match:
        return None
    local = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S")
    return local.astimezone().astimezone(datetime.UTC)  # Zuul logs local time


def scan_scheduler_log(path):
    """(last event received, last stream error) times from Zuul's scheduler log."""
    last_event = last_error = None
    for line in _log_lines(path):
        if EVENT_LINE in line:
            last_event = _log_time(line) or last_event
        elif STREAM_ERROR_LINE in line:
            last_error = _log_time(line) or last_error
    return last_event, last_error


def check_stream(host, port, now, scheduler_log=None):
    connections = established_to(host, port)
    data = {"connections": len(connections)}
    last_error = None
    if scheduler_log and os.path.exists(scheduler_log):
        _, last_error = scan_scheduler_log(scheduler_log)
        data["last_error"] = _iso(last_error)
    if not connections:
        detail = f"no connection to Gerrit's event stream at {host}:{port}"
        if last_error:
            detail += f"; last stream error {_age(now, last_error)}"
        return Check("stream", "critical", detail, data)
    detail = f"connected to {host}:{port}"
    if last_error:
        detail += f" (last stream error {_age(now, last_error)})"
    return Check("stream", "ok", detail, data)


def check_last_event(scheduler_log, now, max_age_hours=None):
    if not os.path.exists(scheduler_log):
        return Check("last-event", "unknown", f"{scheduler_log}: no such file")
    last_event, _ = scan_scheduler_log(scheduler_log)
    if last_event is None:
        return Check(
            "last-event",
            "unknown",
            "no event in the scheduler log (Zuul logs them at debug level)",
        )
    age_hours = (now - last_event).total_seconds() / 3600
    state = "warning" if max_age_hours is not None and age_hours > max_age_hours else "ok"
    return Check(
        "last-event", state, f"last event {_age(now, last_event)}", {"at": _iso(last_event)}
    )


# -- Gerrit: our comments and upstream's patchsets --------------------------------


def _is_account(author, account):
    return account in (author.get("name"), author.get("username"), author.get("email"))


def check_comments(client, account, projects, now, silent_hours, lookback_days=7):
    """``last-comment`` and ``silence``: did we go quiet while patchsets waited?"""
    last_comment = None
    patchsets = []
    for project in projects:
        query = f"project:{project} -age:{int(lookback_days)}d"
        options = ("MESSAGES", "ALL_REVISIONS", "DETAILED_ACCOUNTS")
        for change in client.query_changes(query, options):
            for message in change.get("messages") or ():
                if _is_account(message.get("author") or {}, account):
                    when = gerrit_date(message["date"])
                    if when <= now and (last_comment is None or when > last_comment):
                        last_comment = when
            for revision in (change.get("revisions") or {}).values():
                if revision.get("created"):
                    patchsets.append((gerrit_date(revision["created"]), change.get("_number")))
    if last_comment:
        comment = Check(
            "last-comment",
            "ok",
            f"{account} last commented {_age(now, last_comment)}",
            {"at": _iso(last_comment)},
        )
    else:
        comment = Check(
            "last-comment", "warning", f"{account} has not commented in {lookback_days} days"
        )
    deadline = now - datetime.timedelta(hours=silent_hours)
    overdue = sorted(
        (when, number)
        for when, number in patchsets
        if (last_comment is None or when > last_comment) and when <= deadline
    )
    data = {"overdue_patchsets": len(overdue), "silent_hours": silent_hours}
    if overdue:
        oldest = overdue[0]
        silence = Check(
            "silence",
            "critical",
            f"silent: {len(overdue)} patchsets uploaded since our last comment have waited "
            f"over {silent_hours:g}h (oldest: change {oldest[1]}, {_age(now, oldest[0])})",
            data,
        )
    else:
        silence = Check("silence", "ok", "no patchset has waited past the limit", data)
    return [comment, silence]


# -- nodes and array ------------------------------------------------------------------


def check_node(host, port=22, timeout=5.0):
    """A node answers when its sshd sends its banner."""
    name = f"node:{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            banner = sock.recv(64).decode("ascii", "replace").strip()
    except OSError as exc:
        return Check(name, "critical", f"unreachable ({exc.strerror or exc.__class__.__name__})")
    if not banner.startswith("SSH-"):
        return Check(name, "critical", f"answers, but not as sshd: {banner[:30]!r}")
    return Check(name, "ok", banner)


def check_array(url, timeout=5.0, verify=True):
    try:
        resp = requests.get(url, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return Check("array", "critical", f"{url} unreachable ({exc.__class__.__name__})")
    state = "critical" if resp.status_code >= 500 else "ok"
    return Check("array", state, f"{url} answered HTTP {resp.status_code}")


# -- verdict and alerts ------------------------------------------------------------------


def exit_code(checks):
    return max((EXIT[c.state] for c in checks), default=0)


def report(checks, now):
    worst = exit_code(checks)
    state = {0: "ok", 1: "warning", 2: "critical"}[worst]
    return {
        "state": state,
        "checked": _iso(now),
        "checks": [c.to_dict() for c in checks],
        "summary": "; ".join(f"{c.name}: {c.detail}" for c in checks if EXIT[c.state]),
    }


def format_text(checks):
    width = max((len(c.name) for c in checks), default=0)
    return "".join(f"{c.state.upper():<8}  {c.name:<{width}}  {c.detail}\n" for c in checks)


def alert(data, command=None, webhook=None, timeout=10.0):
    """Run the alert command (report as JSON on stdin, HEALTH_* in its environment)
    and/or POST the report to a webhook. Returns a list of problems."""
    problems = []
    body = json.dumps(data)
    if command:
        env = dict(os.environ, HEALTH_STATE=data["state"], HEALTH_SUMMARY=data["summary"])
        try:
            proc = subprocess.run(
                shlex.split(command),
                input=body,
                text=True,
                env=env,
                capture_output=True,
                timeout=timeout,
            )
            if proc.returncode:
                problems.append(f"alert command exited {proc.returncode}: {proc.stderr.strip()}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"alert command failed: {exc}")
    if webhook:
        try:
            resp = requests.post(
                webhook,
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=timeout,
            )
            if resp.status_code >= 300:
                problems.append(f"alert webhook answered HTTP {resp.status_code}")
        except requests.RequestException as exc:
            problems.append(f"alert webhook failed ({exc.__class__.__name__})")
    return problems
