"""Find and stop every process a sandbox started, even when its supervisor is gone.

``sandbox up`` is the supervisor: it stops its parts in order on Ctrl-C. If it
was killed (SIGKILL, a lost terminal, an OOM), its parts keep running. Each
part (Gerrit emulator, array with its tgtd, ZooKeeper, PostgreSQL, the Zuul
daemons with their ansible and bubblewrap children, the node's sshd) leads a
session of its own whose leader names the sandbox's work dir on its command
line; the node's DevStack-lite runs under a supervisord named by its dest.
So the process table alone says what belongs to a sandbox, with no state file
needed: that is what ``sandbox down`` and a new ``sandbox up`` rely on.
"""

import os
import re
import signal
import subprocess
import time

from ci_tools.harness.procfs import proc_stats
from ci_tools.harness.zuul_daemons import short_job_dir


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def processes_with(text):
    """Pids whose command line mentions ``text``."""
    needle = text.encode()
    return [pid for pid, _ in proc_stats() if needle in _cmdline(pid)]


def sessions_of(work_dir):
    """Session ids led by a process whose command line names ``work_dir`` (or
    the Zuul executor's job dir of its stack, where ansible runs).

    Only leaders count: the user's shell session, which ran ``sandbox up``
    with ``--work-dir`` on its command line, is never one of them."""
    dirs = {os.path.abspath(work_dir), short_job_dir(os.path.join(work_dir, "stack"))}
    # A path, ended by /, an argument boundary or the end: not a longer sibling name.
    alternatives = b"|".join(re.escape(d.encode()) for d in dirs)
    pattern = re.compile(b"(?:" + alternatives + rb")(?:/|\0|$)")
    me = os.getsid(0)
    sessions = set()
    for pid, fields in proc_stats():
        sid = int(fields[3])
        if pid == sid and sid != me and pattern.search(_cmdline(pid)):
            sessions.add(sid)
    return sessions


def members(sessions):
    """Live (non-zombie) pids in any of ``sessions``."""
    return [pid for pid, f in proc_stats() if f[0] != "Z" and int(f[3]) in sessions]


def _signal(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop_sessions(sessions, grace=10.0):
    """SIGTERM every process of ``sessions``, SIGKILL what is left after ``grace``.
    Returns the pids still alive afterwards (none, unless the kernel refused)."""
    _signal(members(sessions), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while members(sessions) and time.monotonic() < deadline:
        time.sleep(0.2)
    _signal(members(sessions), signal.SIGKILL)
    deadline = time.monotonic() + 5
    while members(sessions) and time.monotonic() < deadline:
        time.sleep(0.1)
    return members(sessions)


def stop_devstack(dest, timeout=60):
    """Take down DevStack-lite under ``dest`` (a job leaves it running on the
    sandbox's node: a lab node is thrown away, this one is the machine itself)."""
    conf = os.path.join(dest, "supervisord.conf")
    if not os.path.exists(conf):
        return []
    ctl = os.path.join(dest, "venv", "bin", "supervisorctl")
    if processes_with(conf) and os.path.exists(ctl):
        subprocess.run([ctl, "-c", conf, "shutdown"], capture_output=True, timeout=120)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and processes_with(conf):
        time.sleep(1)
    for pid in processes_with(conf):
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.5)
    return processes_with(conf)


def reap(work_dir, node_dest=None, supervisor=None, grace=10.0, netns=None):
    """Stop everything of the sandbox in ``work_dir`` (and delete its data-plane
    network namespace ``netns``); return what is still alive as
    ``["<pid> <command>", ...]`` (empty when all is stopped)."""
    if supervisor:
        _signal([supervisor], signal.SIGKILL)
    left = stop_sessions(sessions_of(work_dir), grace)
    if netns and os.path.exists(f"/run/netns/{netns}"):
        subprocess.run(["ip", "netns", "delete", netns], capture_output=True)
    if node_dest:
        left += stop_devstack(node_dest)
    return [f"{pid} {_describe(pid)}" for pid in left]


def _describe(pid):
    return _cmdline(pid).replace(b"\0", b" ").decode(errors="replace")[:120]
