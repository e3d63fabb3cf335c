"""Per-CI figures from third-party CI comments: what a release manager asks.

For each CI (and the driver it tests) and each branch: the last report and
its result, the last success, the pass rate over the last 7 and 30 days,
the days the CI has been silent, and whether it is *at risk*: upstream marks
a driver unsupported when its CI has not reported success for about two
weeks, so more than ``AT_RISK_DAYS`` days without a success (or none at all
in the window read) flags it. Comments that parse as neither a result nor a
known non-result are counted per CI as ``unparsed``.
"""

import dataclasses
import datetime

from ci_tools.people.parse import SUCCESS, parse_comment

AT_RISK_DAYS = 14
WINDOWS = (7, 30)
DAY = datetime.timedelta(days=1)
ALL_BRANCHES = "*"


@dataclasses.dataclass(frozen=True)
class CIComment:
    """One comment by a CI account on a change, as read from Gerrit."""

    ci: str
    project: str
    branch: str
    change: int
    date: datetime.datetime  # aware, UTC
    message: str
    patchset: int | None = None


@dataclasses.dataclass
class BranchStatus:
    branch: str
    reports: int = 0
    successes: int = 0
    last_report: datetime.datetime | None = None
    last_result: str | None = None
    last_report_url: str | None = None
    last_success: datetime.datetime | None = None
    window: dict = dataclasses.field(default_factory=dict)  # days -> [successes, total]

    def pass_rate(self, days):
        ok, total = self.window.get(days, (0, 0))
        return ok / total if total else None

    def silent_days(self, now):
        return None if self.last_report is None else (now - self.last_report) // DAY

    def days_without_success(self, now):
        return None if self.last_success is None else (now - self.last_success) // DAY

    def at_risk(self, now):
        return self.last_success is None or now - self.last_success > AT_RISK_DAYS * DAY

    def to_dict(self, now):
        return {
            "branch": self.branch,
            "reports": self.reports,
            "successes": self.successes,
            "last_report": _iso(self.last_report),
            "last_result": self.last_result,
            "last_success": _iso(self.last_success),
            "pass_rate": {
                f"{days}d": {
                    "successes": self.window.get(days, (0, 0))[0],
                    "reports": self.window.get(days, (0, 0))[1],
                    "rate": _round(self.pass_rate(days)),
                }
                for days in WINDOWS
            },
            "silent_days": self.silent_days(now),
            "days_without_success": self.days_without_success(now),
            "at_risk": self.at_risk(now),
        }


@dataclasses.dataclass
class CIStatus:
    ci: str
    driver: str | None = None
    comments: int = 0
    unparsed: int = 0
    info: int = 0
    formats: dict = dataclasses.field(default_factory=dict)
    branches: dict = dataclasses.field(default_factory=dict)  # branch -> BranchStatus
    daily: dict = dataclasses.field(default_factory=dict)  # date -> [successes, failures]

    @property
    def overall(self):
        return self.branches.get(ALL_BRANCHES) or BranchStatus(ALL_BRANCHES)

    def to_dict(self, now, days):
        first = (now - (days - 1) * DAY).date()
        return {
            "ci": self.ci,
            "driver": self.driver,
            "comments": self.comments,
            "unparsed": self.unparsed,
            "info": self.info,
            "formats": dict(sorted(self.formats.items())),
            "at_risk": self.overall.at_risk(now),
            "overall": self.overall.to_dict(now),
            "branches": {
                name: status.to_dict(now)
                for name, status in sorted(self.branches.items())
                if name != ALL_BRANCHES
            },
            "daily": [
                {
                    "date": (first + i * DAY).isoformat(),
                    "successes": self.daily.get(first + i * DAY, (0, 0))[0],
                    "failures": self.daily.get(first + i * DAY, (0, 0))[1],
                }
                for i in range(days)
            ],
        }


@dataclasses.dataclass
class Status:
    now: datetime.datetime
    days: int
    cis: dict  # name -> CIStatus
    expected: list = dataclasses.field(default_factory=list)  # CIs named but never seen

    def to_dict(self):
        return {
            "generated": _iso(self.now),
            "days": self.days,
            "at_risk_days": AT_RISK_DAYS,
            "cis": [self.cis[name].to_dict(self.now, self.days) for name in sorted(self.cis)],
        }


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def _round(value):
    return None if value is None else round(value, 4)


def _record(status, comment, report, now):
    for key in (comment.branch, ALL_BRANCHES):
        branch = status.branches.setdefault(key, BranchStatus(key))
        branch.reports += 1
        if branch.last_report is None or comment.date >= branch.last_report:
            branch.last_report = comment.date
            branch.last_result = report.result
            urls = [job.url for job in report.jobs if job.url]
            branch.last_report_url = urls[0] if urls else None
        if report.result == SUCCESS:
            branch.successes += 1
            if branch.last_success is None or comment.date > branch.last_success:
                branch.last_success = comment.date
        for days in WINDOWS:
            if now - comment.date < days * DAY:
                ok, total = branch.window.get(days, (0, 0))
                branch.window[days] = (ok + (report.result == SUCCESS), total + 1)


def aggregate(comments, now, drivers=None, days=30, expected=()):
    """Fold ``CIComment`` objects into a ``Status``.

    ``drivers`` maps a CI account name to the driver it tests; ``expected``
    names CIs that must appear even with no comment in the window (a CI that
    went fully silent is exactly what this report is for).
    """
    drivers = drivers or {}
    cis = {}
    for name in expected:
        cis[name] = CIStatus(name, drivers.get(name))
    for comment in comments:
        if comment.date > now:
            continue  # clock skew between Gerrit and us: never count the future
        status = cis.setdefault(comment.ci, CIStatus(comment.ci, drivers.get(comment.ci)))
        status.comments += 1
        report = parse_comment(comment.message)
        if report.kind == "unparsed":
            status.unparsed += 1
            continue
        if report.kind == "info":
            status.info += 1
            continue
        status.formats[report.fmt] = status.formats.get(report.fmt, 0) + 1
        _record(status, comment, report, now)
        day = comment.date.astimezone(datetime.UTC).date()
        ok, bad = status.daily.get(day, (0, 0))
        status.daily[day] = (ok + report.ok, bad + (not report.ok))
    return Status(now=now, days=days, cis=cis, expected=list(expected))
