"""Remove published build logs older than N days.

Upstream's third-party CI rules ask for logs to stay reachable for about a
month. publish-logs writes each build under ``<log_root>/<uuid[:2]>/<uuid>/``
(Zuul's 32-hex build UUID); only directories of exactly that shape are
candidates, so nothing else that lives under the log root (an index page, a
vendor's own files) is ever touched. Links are never followed: a link where
a build directory should be is left alone and reported. A build's age is the
modification time of its directory, set when its logs were published.
"""

import dataclasses
import os
import re
import shutil
import stat
import time

_PREFIX_RE = re.compile(r"^[0-9a-f]{2}$")
_BUILD_RE = re.compile(r"^[0-9a-f]{32}$")
DAY = 86400


@dataclasses.dataclass
class PruneResult:
    removed: list = dataclasses.field(default_factory=list)  # build dirs removed
    kept: int = 0
    freed: int = 0  # bytes
    skipped: list = dataclasses.field(default_factory=list)  # (path, why)


def _size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _real_dir(path):
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def prune(root, days=30, now=None, dry_run=False):
    """Remove build log dirs under ``root`` older than ``days``; return a PruneResult."""
    now = time.time() if now is None else now
    cutoff = now - days * DAY
    result = PruneResult()
    for prefix in sorted(os.listdir(root)):
        prefix_path = os.path.join(root, prefix)
        if not _PREFIX_RE.match(prefix) or not _real_dir(prefix_path):
            continue
        for build in sorted(os.listdir(prefix_path)):
            path = os.path.join(prefix_path, build)
            if not _BUILD_RE.match(build) or not build.startswith(prefix):
                continue
            if not _real_dir(path):
                result.skipped.append((path, "not a directory (a link is never followed)"))
                continue
            if os.lstat(path).st_mtime >= cutoff:
                result.kept += 1
                continue
            size = _size(path)
            if not dry_run:
                shutil.rmtree(path)
            result.removed.append(path)
            result.freed += size
        if not dry_run and not os.listdir(prefix_path):
            os.rmdir(prefix_path)
    return result
