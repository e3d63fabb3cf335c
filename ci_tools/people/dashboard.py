"""A static HTML dashboard of third-party CI status, with inline SVG charts.

One self-contained file (no JavaScript, no external CSS or fonts) that a
release manager can open from disk or publish next to the logs:

- a summary line and the status table (at-risk rows marked);
- per CI, a small chart of daily successes and failures over the window
  with its rolling 7-day pass rate drawn on top;
- one chart of silence: days since each CI's last report and last success
  against the 14-day line upstream acts on.
"""

import html

from ci_tools.people.aggregate import AT_RISK_DAYS, DAY
from ci_tools.people.table import HEADER, rows

GREEN = "#2e7d32"
RED = "#c62828"
GREY = "#9e9e9e"
BLUE = "#1565c0"

CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
.summary { font-size: 1.1em; margin-bottom: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
th { background: #f0f0f0; }
tr.ci td { border-top: 2px solid #999; font-weight: bold; }
td.risk { color: #fff; background: #c62828; font-weight: bold; }
td.ok { color: #2e7d32; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { border: 1px solid #ddd; padding: 0.5em; }
.chart h3 { font-size: 1em; margin: 0 0 0.3em 0; }
.legend span { margin-right: 1em; }
.swatch { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.3em; }
"""


def esc(value):
    return html.escape(str(value), quote=True)


def _table(status):
    out = ["<table id='status'>", "<tr>" + "".join(f"<th>{esc(h)}</th>" for h in HEADER) + "</tr>"]
    for row in rows(status):
        cls = " class='ci'" if row[0] else ""
        cells = []
        for i, cell in enumerate(row):
            attr = ""
            if HEADER[i] == "status":
                attr = " class='risk'" if cell == "AT RISK" else " class='ok'"
            cells.append(f"<td{attr}>{esc(cell)}</td>")
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _rolling_rate(daily, index, span=7):
    ok = sum(d["successes"] for d in daily[max(0, index - span + 1) : index + 1])
    bad = sum(d["failures"] for d in daily[max(0, index - span + 1) : index + 1])
    return ok / (ok + bad) if ok + bad else None


def pass_rate_chart(ci, width=360, height=140):
    """Stacked daily bars (green successes under red failures) and the 7-day pass rate."""
    daily = ci["daily"]
    left, top, bottom = 28, 8, 22
    plot_w, plot_h = width - left - 8, height - top - bottom
    peak = max([d["successes"] + d["failures"] for d in daily] + [1])
    bar_w = plot_w / max(len(daily), 1)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"role='img' aria-label='{esc(ci['ci'])}: daily results and 7-day pass rate'>",
        f"<title>{esc(ci['ci'])}: daily results and 7-day pass rate</title>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{width - 8}' y2='{top + plot_h}' "
        f"stroke='{GREY}'/>",
        f"<text x='2' y='{top + 8}' font-size='9'>{peak}</text>",
        f"<text x='2' y='{top + plot_h}' font-size='9'>0</text>",
    ]
    points = []
    for i, day in enumerate(daily):
        x = left + i * bar_w
        ok_h = plot_h * day["successes"] / peak
        bad_h = plot_h * day["failures"] / peak
        if ok_h:
            parts.append(
                f"<rect x='{x:.1f}' y='{top + plot_h - ok_h:.1f}' width='{bar_w * 0.8:.1f}' "
                f"height='{ok_h:.1f}' fill='{GREEN}'/>"
            )
        if bad_h:
            parts.append(
                f"<rect x='{x:.1f}' y='{top + plot_h - ok_h - bad_h:.1f}' "
                f"width='{bar_w * 0.8:.1f}' height='{bad_h:.1f}' fill='{RED}'/>"
            )
        rate = _rolling_rate(daily, i)
        if rate is not None and day["successes"] + day["failures"]:  # no line through silence
            points.append(f"{x + bar_w * 0.4:.1f},{top + plot_h * (1 - rate):.1f}")
    if len(points) > 1:
        parts.append(
            f"<polyline points='{' '.join(points)}' fill='none' stroke='{BLUE}' stroke-width='2'/>"
        )
    if daily:
        parts.append(
            f"<text x='{left}' y='{height - 6}' font-size='9'>{esc(daily[0]['date'])}</text>"
        )
        parts.append(
            f"<text x='{width - 8}' y='{height - 6}' font-size='9' text-anchor='end'>"
            f"{esc(daily[-1]['date'])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def silence_chart(cis, days, width=720, row_h=22):
    """Days since last report (grey) and last success (red when past the line) per CI."""
    left = 220
    plot_w = width - left - 40
    height = row_h * len(cis) + 40
    scale = plot_w / max(days, AT_RISK_DAYS + 1)
    parts = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        "role='img' aria-label='Days of silence per CI'>",
        "<title>Days since last report and last success per CI</title>",
    ]
    for i, ci in enumerate(cis):
        y = 10 + i * row_h
        overall = ci["overall"]
        silent = overall["silent_days"]
        dry = overall["days_without_success"]
        silent = days if silent is None else silent
        dry = days if dry is None else dry
        colour = RED if ci["at_risk"] else GREEN
        parts.append(
            f"<text x='{left - 6}' y='{y + 12}' font-size='11' text-anchor='end'>"
            f"{esc(ci['ci'])}</text>"
        )
        parts.append(
            f"<rect x='{left}' y='{y + 1}' width='{max(dry * scale, 1):.1f}' height='{row_h - 6}' "
            f"fill='{colour}' opacity='0.35'/>"
        )
        parts.append(
            f"<rect x='{left}' y='{y + 5}' width='{max(silent * scale, 1):.1f}' "
            f"height='{row_h - 14}' fill='{GREY}'/>"
        )
        parts.append(
            f"<text x='{left + max(dry, silent) * scale + 4:.1f}' y='{y + 12}' font-size='10'>"
            f"{silent}d silent, {dry}d without success</text>"
        )
    line_x = left + AT_RISK_DAYS * scale
    parts.append(
        f"<line x1='{line_x:.1f}' y1='4' x2='{line_x:.1f}' y2='{height - 24}' stroke='{RED}' "
        "stroke-dasharray='4 3'/>"
    )
    parts.append(
        f"<text x='{line_x:.1f}' y='{height - 10}' font-size='10' text-anchor='middle' "
        f"fill='{RED}'>{AT_RISK_DAYS} days: at risk</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def render_html(status, title="Third-party CI status"):
    data = status.to_dict()
    cis = data["cis"]
    at_risk = [ci["ci"] for ci in cis if ci["at_risk"]]
    stamp = status.now.strftime("%Y-%m-%d %H:%M UTC")
    since = (status.now - (status.days - 1) * DAY).date()
    unparsed = sum(ci["unparsed"] for ci in cis)
    summary = f"{len(cis)} CIs, {len(at_risk)} at risk"
    if at_risk:
        summary += ": " + ", ".join(at_risk)
    charts = "\n".join(
        f"<div class='chart'><h3>{esc(ci['ci'])}"
        f"{' (' + esc(ci['driver']) + ')' if ci['driver'] else ''}</h3>"
        f"{pass_rate_chart(ci)}</div>"
        for ci in cis
    )
    legend = (
        f"<p class='legend'><span><i class='swatch' style='background:{GREEN}'></i>successes"
        f"</span><span><i class='swatch' style='background:{RED}'></i>failures</span>"
        f"<span><i class='swatch' style='background:{BLUE}'></i>7-day pass rate (top = 100%)"
        "</span></p>"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{esc(title)} – {esc(stamp)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p>As of {esc(stamp)}, comments from {since.isoformat()} on. A CI is <b>at risk</b> after
{AT_RISK_DAYS} days without a successful report: upstream then marks its driver unsupported.</p>
<p class="summary" id="summary">{esc(summary)}</p>
{_table(status)}
<p>{unparsed} comments in unknown formats were counted as unparsed.</p>
<h2>Pass rate over time</h2>
{legend}
<div class="charts">
{charts}
</div>
<h2>Silence</h2>
{silence_chart(cis, status.days)}
<p><small>Generated by ci-tools status.</small></p>
</body>
</html>
"""
