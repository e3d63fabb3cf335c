"""Turn Zuul's config-errors API entries into lines a maintainer can act on."""

import re

# Zuul appends where the stanza lives: ... in "project/zuul.d/jobs.yaml@master", line 12, column 3
_MARK = re.compile(r'in "(?P<path>[^"]+?)@(?P<branch>[^"]+)", line (?P<line>\d+)')


def locate(entry):
    """(path, line) for an error entry; line is None when Zuul gives none."""
    match = _MARK.search(entry.get("error") or "")
    ctx = entry.get("source_context") or {}
    path = ctx.get("path")
    line = None
    if match:
        line = int(match.group("line"))
        # the mark's path is "<project>/<path>"; prefer the context's repo-relative path
        path = path or match.group("path")
    return path or "?", line


def format_error(entry):
    path, line = locate(entry)
    where = f"{path}:{line}" if line else path
    severity = entry.get("severity", "error")
    name = entry.get("name", "")
    short = (entry.get("short_error") or "").strip()
    detail = (entry.get("error") or "").strip()
    head = f"{where}: {severity}: {name + ': ' if name else ''}{short}"
    body = "\n".join("    " + ln for ln in detail.splitlines())
    return f"{head}\n{body}" if body else head
