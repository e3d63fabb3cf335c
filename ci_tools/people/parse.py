"""Parse the result lines third-party CIs post as Gerrit comments.

A CI comment arrives as Gerrit stores it: ``Patch Set 3: Verified+1`` (the
vote, if any), a blank line, then the CI's text. The forms seen in the wild,
all handled here:

- Zuul's default (ours): ``Build succeeded (check pipeline).`` then one
  line per job, ``- <job> <log-url> : SUCCESS in 1h 02m 03s (non-voting)``;
- older Zuul/Jenkins CIs: ``Build succeeded.`` / ``Build failed.`` with
  ``- `` or ``* `` job lines, durations like ``in 1h 2m``;
- a single line ``<CI name> CI: SUCCESS`` (or ``FAILURE``...), optionally with a URL;
- Gerrit-Trigger (Jenkins) lines ``<build url> : FAILURE`` without ``- job``;
- free-form sentences with an upper-case ``PASSED`` / ``FAILED``;
- only a vote (``Patch Set 3: Verified-1`` and nothing we know after it).

``Build succeeded.`` above a failed voting job line is a failure: the job
lines are what the CI ran. Merge failures ("unable to be automatically
merged") and vote-only resets (``Patch Set 3: -Verified``) are ``info``.

Comments that are clearly not results (build started, merge failed) are
``info``; anything else from a CI account is ``unparsed``: counted, never an
exception, so one odd CI cannot break a status report.
"""

import dataclasses
import re

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"

# Job results Zuul (and Jenkins-era CIs) print; any other upper-case word is
# kept as-is and counts as a failure, because a CI that did not say SUCCESS
# did not prove the patch.
PASSING_RESULTS = {"SUCCESS"}
NEUTRAL_RESULTS = {"SKIPPED", "CANCELED", "ABORTED"}

_PATCHSET_RE = re.compile(r"^Patch Set (?P<ps>\d+):(?P<votes>[^\n]*)\n?\n?", re.IGNORECASE)
_VOTE_RE = re.compile(r"\b(?:Verified)(?P<value>[+-]\d)\b")
# "Patch Set 3: -Verified": a vote removed, no result.
_VOTE_RESET_RE = re.compile(r"(?:^|\s)-Verified\b")
# Gerrit-Trigger: "http://jenkins/job/cinder-acme-dsvm/123/ : SUCCESS", no "- job".
_TRIGGER_LINE_RE = re.compile(
    r"^\s*(?P<url>https?://\S+)\s+:\s+(?P<result>[A-Z][A-Z_]+)(?P<rest>[^\n]*)$", re.MULTILINE
)
# Free text: "Acme CI tempest run PASSED", "Build FAILED. See logs" (upper case only).
_FREE_RE = re.compile(r"\b(?P<word>PASSED|FAILED|SUCCESSFUL)\b")
_HEADER_RE = re.compile(
    r"^\s*(?:Experimental )?Build (?P<outcome>succeeded|failed|failure|successful)\b",
    re.IGNORECASE | re.MULTILINE,
)
# "- job url : RESULT[ error][ in 1h 02m 03s][ (non-voting)]" and the "* " variant.
# The URL is optional (Zuul prints the job name again when a build has none).
_JOB_RE = re.compile(
    r"^\s*[-*]\s+(?P<job>\S+)(?:\s+(?P<url>\S+))?\s+:\s+(?P<result>[A-Z][A-Z_]+)"
    r"(?P<rest>[^\n]*)$",
    re.MULTILINE,
)
_DURATION_RE = re.compile(
    r"\bin\s+(?:(?P<h>\d+)h)?\s*(?:(?P<m>\d+)m)?\s*(?:(?P<s>\d+)s)?(?=\s|$|\()"
)
# "<Name> CI: SUCCESS" or "<Name> CI : FAILURE" on a line of its own, maybe with a URL after.
_PLAIN_RE = re.compile(
    r"^\s*(?P<ci>[^\n:]*\bCI)\s*:\s*(?P<result>SUCCESS|FAILURE|FAILED|PASSED|ERROR|UNSTABLE|ABORTED)\b"
    r"(?P<rest>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_INFO_RE = re.compile(
    r"^\s*(?:Build started|Starting (?:check|gate|experimental|\w+) jobs|"
    r"Merge Failed|This change depends on a change that failed to merge|"
    r".*\bcould not merge this change|.*\bunable to be automatically merged|"
    r".*\bis running tests\b|Recheck (?:requested|received)|"
    # the kit's vote guard voting on the report above it (ci_tools/watchers/vote_guard.py)
    r"vote-guard:)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclasses.dataclass(frozen=True)
class JobResult:
    name: str
    url: str | None
    result: str
    duration: int | None  # seconds
    voting: bool = True


@dataclasses.dataclass(frozen=True)
class Report:
    """What one comment says. ``kind`` is ``result``, ``info`` or ``unparsed``."""

    kind: str
    result: str | None = None  # SUCCESS or FAILURE for kind == "result"
    fmt: str | None = None  # zuul, plain, vote
    jobs: tuple = ()
    patchset: int | None = None

    @property
    def ok(self):
        return self.result == SUCCESS


def parse_duration(text):
    """Seconds in ``in 1h 02m 03s`` / ``in 5m`` / ``in 45s``; None when absent."""
    match = _DURATION_RE.search(text)
    if not match or not any(match.group(g) for g in ("h", "m", "s")):
        return None
    h, m, s = (int(match.group(g) or 0) for g in ("h", "m", "s"))
    return h * 3600 + m * 60 + s


def _split_patchset(message):
    match = _PATCHSET_RE.match(message)
    if not match:
        return None, "", message
    return int(match.group("ps")), match.group("votes"), message[match.end() :]


def parse_jobs(body):
    """The ``- job url : RESULT ...`` lines of a comment body, in order."""
    jobs = []
    for match in _JOB_RE.finditer(body):
        url = match.group("url")
        if url == match.group("job"):
            url = None  # Zuul repeats the job name when the build has no log URL
        rest = match.group("rest")
        jobs.append(
            JobResult(
                name=match.group("job"),
                url=url,
                result=match.group("result"),
                duration=parse_duration(rest),
                voting="non-voting" not in rest,
            )
        )
    if not jobs:
        for match in _TRIGGER_LINE_RE.finditer(body):
            url, rest = match.group("url"), match.group("rest")
            jobs.append(
                JobResult(
                    name=_job_from_url(url),
                    url=url,
                    result=match.group("result"),
                    duration=parse_duration(rest),
                    voting="non-voting" not in rest,
                )
            )
    return tuple(jobs)


def _job_from_url(url):
    """Jenkins' ``.../job/<name>/<number>/``, else the URL's last named segment."""
    found = re.search(r"/job/([^/]+)/", url)
    if found:
        return found.group(1)
    parts = [p for p in url.split("/")[3:] if p and not p.isdigit()]
    return parts[-1] if parts else url


def _result_from_jobs(jobs):
    voting = [j for j in jobs if j.voting and j.result not in NEUTRAL_RESULTS]
    if not voting:
        # Only non-voting jobs: the comment still says whether they passed.
        voting = [j for j in jobs if j.result not in NEUTRAL_RESULTS]
    if not voting:
        return None
    return SUCCESS if all(j.result in PASSING_RESULTS for j in voting) else FAILURE


def parse_comment(message):
    """Classify one Gerrit comment from a CI account; never raises on odd text."""
    if not isinstance(message, str):
        return Report(kind="unparsed")
    patchset, votes, body = _split_patchset(message)
    jobs = parse_jobs(body)
    if _INFO_RE.search(body) and not jobs:
        return Report("info", patchset=patchset)
    header = _HEADER_RE.search(body)
    if header:
        outcome = header.group("outcome").lower()
        result = SUCCESS if outcome.startswith("succe") else FAILURE
        if _result_from_jobs(jobs) == FAILURE:
            result = FAILURE  # "Build succeeded." above a failed voting job
        return Report("result", result, "zuul", jobs, patchset)
    if jobs:
        result = _result_from_jobs(jobs)
        if result:
            return Report("result", result, "zuul", jobs, patchset)
    plain = _PLAIN_RE.search(body)
    if plain:
        word = plain.group("result").upper()
        result = SUCCESS if word in ("SUCCESS", "PASSED") else FAILURE
        return Report("result", result, "plain", jobs, patchset)
    free = _FREE_RE.search(body)
    if free:
        result = FAILURE if free.group("word") == "FAILED" else SUCCESS
        return Report("result", result, "plain", jobs, patchset)
    vote = _VOTE_RE.search(votes)
    if vote:
        result = SUCCESS if int(vote.group("value")) > 0 else FAILURE
        return Report("result", result, "vote", jobs, patchset)
    if _VOTE_RESET_RE.search(votes):
        return Report("info", patchset=patchset)
    return Report("unparsed", patchset=patchset)
