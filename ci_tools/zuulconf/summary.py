"""The report format Gerrit's CI summary understands, and a check of ours.

review.opendev.org shows each CI's latest result per pipeline in the "Zuul
Summary" tab (the zuul-results-summary Gerrit plugin). It takes a message
only when the author's full name matches AUTHOR_RE, reads the outcome with
STATUS_RE (or the older FALLBACK_STATUS_RE) and one row per JOB_RE line;
anything else is silently left out, so a CI whose text drifts simply
disappears from the tab. These are the plugin's expressions in Python's
syntax; ``problems`` applies them to the rendered pipelines.
"""

import re

import yaml

AUTHOR_RE = re.compile(r"^(?P<author>.* CI|Zuul)")
STATUS_RE = re.compile(r"^Build (?P<status>\w+) \((?P<pipeline>[\w]+) pipeline\)\.", re.M)
FALLBACK_STATUS_RE = re.compile(r"^Build (?P<status>\w+)\.", re.M)
JOB_RE = re.compile(
    r"^- (?P<job>[^ ]+) (?:(?P<link>https?://[^ ]+)|(?P<implicit_link>build/[0-9a-f]+)) : "
    r"((ERROR (?P<errormsg>.*?) in (?P<errtime>.*))|(?P<result>[^ ]+)( in (?P<time>.*))?)"
)

# What each pipeline's reports must say for the tab to show them.
EXPECTED_STATUS = {
    "success-message": "succeeded",
    "failure-message": "failed",
    "no-jobs-message": "succeeded",
}
REPORTING_PIPELINES = ("check", "experimental")


def status(message):
    """(status, pipeline) as the tab reads them, or None when it skips the message."""
    found = STATUS_RE.search(message)
    if found:
        return found["status"], found["pipeline"]
    found = FALLBACK_STATUS_RE.search(message)
    return (found["status"], None) if found else None


def job_rows(message):
    """[{job, link, result, time}] for each line the tab shows as a job row."""
    rows = []
    for line in message.split("\n"):
        found = JOB_RE.match(line)
        if found:
            rows.append({k: found[k] for k in ("job", "link", "result", "time")})
    return rows


def problems(site, pipelines_text):
    """Why Gerrit's CI summary would not list this CI's reports; [] when it would."""
    found = []
    if not AUTHOR_RE.match(site["display_name"]):
        found.append(f'site.yaml: the CI account name {site["display_name"]!r} must end in " CI"')
    pipelines = {
        s["pipeline"]["name"]: s["pipeline"]
        for s in yaml.safe_load(pipelines_text) or []
        if "pipeline" in s
    }
    for name in REPORTING_PIPELINES:
        pipeline = pipelines.get(name)
        if pipeline is None:
            continue
        for key, want in EXPECTED_STATUS.items():
            if key not in pipeline and key == "no-jobs-message":
                continue
            text = pipeline.get(key, "")
            got = status(text)
            if got != (want, name):
                found.append(
                    f"zuul.d/pipelines.yaml: {name} {key} {text.splitlines()[0] if text else ''!r}"
                    f" must start 'Build {want} ({name} pipeline).'"
                )
    return found
