"""Read the process table from /proc: what runs, in which session, how big.

Tests check that a stack left nothing behind (by session id: each service
leads its own session) and benchmarks sum resident memory; both walk the
same /proc/<pid>/stat fields.
"""

import os

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def proc_stats():
    """Yield (pid, fields) for every process; ``fields`` are /proc/<pid>/stat's
    after the command name: [0] state, [1] ppid, [3] session id, [21] rss pages."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        yield int(name), fields
