"""Parse the result lines third-party CIs post as Gerrit comments.

A CI comment arrives as Gerrit stores it: ``Patch Set 3: Verified+1`` (the
vote, if any), a blank line, then the CI's text. The forms seen in the wild,
all handled here:

- Zuul's default (ours): ``Build succeeded (check pipeline).`` then one
  line per job, ``- <job> <log-url> : SUCCESS in 1h 02m 03s (non-voting)``;
- older Zuul/Jenkins CIs: ``Build succeeded.`` / ``Build failed.`` with
  ``- `` or ``* `` job lines, durations like ``in 1h 2m``;
- a single line ``<CI name> CI: SUCCESS`` (or ``FAILURE``...), optionally with a URL;
- only a vote (``Patch Set 3: Verified-1`` and nothing we know after it).

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
    r".*\bcould not merge this change|.*\bis running tests\b|Recheck (?:requested|received)|"
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
    return tuple(jobs)


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
    header = _HEADER_RE.search(body)
    if header:
        outcome = header.group("outcome").lower()
        result = SUCCESS if outcome.startswith("succe") else FAILURE
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
    if _INFO_RE.search(body):
        return Report("info", patchset=patchset)
    vote = _VOTE_RE.search(votes)
    if vote:
        result = SUCCESS if int(vote.group("value")) > 0 else FAILURE
        return Report("result", result, "vote", jobs, patchset)
    return Report("unparsed", patchset=patchset)
