"""Plain-text table of a ``Status``: one row per CI and branch."""

from ci_tools.people.aggregate import ALL_BRANCHES, WINDOWS


def _day(value):
    return value.strftime("%Y-%m-%d") if value else "never"


def _rate(branch, days):
    ok, total = branch.window.get(days, (0, 0))
    return f"{ok}/{total}" if total else "-"


def rows(status):
    now = status.now
    for name in sorted(status.cis):
        ci = status.cis[name]
        branches = [ci.overall] + [ci.branches[b] for b in sorted(ci.branches) if b != ALL_BRANCHES]
        for branch in branches:
            silent = branch.silent_days(now)
            yield [
                name if branch.branch == ALL_BRANCHES else "",
                (ci.driver or "-") if branch.branch == ALL_BRANCHES else "",
                "all" if branch.branch == ALL_BRANCHES else branch.branch,
                _day(branch.last_report),
                branch.last_result or "-",
                _day(branch.last_success),
                *(_rate(branch, days) for days in WINDOWS),
                "-" if silent is None else str(silent),
                "AT RISK" if branch.at_risk(now) else "ok",
                str(ci.unparsed) if branch.branch == ALL_BRANCHES else "",
            ]


HEADER = (
    ["CI", "driver", "branch", "last report", "result", "last success"]
    + [f"pass {d}d" for d in WINDOWS]
    + ["silent days", "status", "unparsed"]
)


def format_table(status):
    table = [HEADER] + list(rows(status))
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"
