"""A realistic month of third-party CI history on Cinder and os-brick, generated.

Deterministic (seeded) so figures can be checked by hand. Every CI comment
the generator writes is also recorded as a plain ``Event`` (CI, branch,
time, intended result), and ``expected_figures`` computes the status figures
from those events alone: the test compares them with what ``ci-tools
status`` derives by parsing comment text read over REST, so the two paths
share no code.

The cast (one per behaviour a release manager must see):

- Reference Flash RefFlash CI: ours, Zuul's format, reports on every
  patchset, fails now and then;
- Acme Storage CI: older Zuul "Build succeeded./Build failed." lists, flapping;
- Widget CI: "* job url : RESULT" lines, silent for the last 10 days;
- Gizmo Storage CI: plain "Gizmo Storage CI: FAILURE", failing for 20 days (at risk);
- Nimble CI (username nimble-ci): vote only, silent for 18 days (at risk);
- Oddball CI: half its comments in a format nobody knows (unparsed);
- Zuul (upstream) and humans also comment: they are not third-party CIs.
"""

import dataclasses
import datetime
import random

from tests import people_samples as samples

NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.UTC)
DAYS = 30
BRANCHES = {
    "openstack/cinder": ["master", "master", "master", "stable/2025.2", "stable/2025.1"],
    "openstack/os-brick": ["master", "master", "stable/2025.2"],
}


@dataclasses.dataclass(frozen=True)
class Event:
    ci: str
    branch: str
    date: datetime.datetime
    result: str  # SUCCESS, FAILURE, or "unparsed"


@dataclasses.dataclass
class Account:
    id: int
    name: str
    username: str
    driver: str | None = None


ACCOUNTS = {
    "ours": Account(9001, "Reference Flash RefFlash CI", "refflash-ci", "refflash"),
    "acme": Account(9002, "Acme Storage CI", "acme-ci", "acme"),
    "widget": Account(9003, "Widget CI", "widget-ci", "widget"),
    "gizmo": Account(9004, "Gizmo Storage CI", "gizmo-storage-ci", "gizmo"),
    "nimble": Account(9005, "Nimble CI", "nimble-ci", "nimble"),
    "odd": Account(9006, "Oddball CI", "oddball-ci", "oddball"),
    "zuul": Account(22348, "Zuul", "zuul"),
    "human": Account(1001, "Jane Developer", "jane"),
    "core": Account(1002, "Carl Core", "ccore"),
}
CI_KEYS = ("ours", "acme", "widget", "gizmo", "nimble", "odd")


def gerrit_time(when):
    return when.strftime("%Y-%m-%d %H:%M:%S.000000000")


def account_info(acc):
    return {
        "_account_id": acc.id,
        "name": acc.name,
        "username": acc.username,
        "email": f"{acc.username}@example.org",
    }


def _log(ci, number, ps, job):
    return f"https://logs.{ci}.example.org/{number % 100:02d}/{number}/{ps}/check/{job}/{number:x}"


def _comment(key, result, number, ps, rng):
    """The comment text CI ``key`` posts for ``result``."""
    ok = result == "SUCCESS"
    if key == "ours":
        jobs = [
            ("refflash-ci-tempest-iscsi", _log("refflash", number, ps, "iscsi"), result,
             rng.randint(2400, 5400)),
            ("refflash-ci-tempest-fc", _log("refflash", number, ps, "fc"), "SUCCESS",
             rng.randint(2400, 5400), False),
        ]  # fmt: skip
        return samples.our_comment(jobs, patchset=ps)
    if key == "acme":
        vote = "Verified+1" if ok else "Verified-1"
        lines = [
            samples.zuul_job_line(
                "acme-dsvm-tempest-full", _log("acme", number, ps, "full"), result, 4300
            ),
            samples.zuul_job_line(
                "acme-dsvm-multipath", _log("acme", number, ps, "mp"), "SUCCESS", 3100
            ),
        ]
        head = "Build succeeded." if ok else "Build failed."
        return f"Patch Set {ps}: {vote}\n\n{head}\n\n" + "".join(lines)
    if key == "widget":
        return (
            f"Patch Set {ps}:\n\n"
            f"* widget-iscsi-tempest {_log('widget', number, ps, 'iscsi')} : {result} in 1h 2m\n"
            f"* widget-fc-tempest {_log('widget', number, ps, 'fc')} : SUCCESS in 58m\n"
        )
    if key == "gizmo":
        return (
            f"Patch Set {ps}:\n\nGizmo Storage CI: {result}\nLogs: {_log('gizmo', number, ps, 'x')}"
        )
    if key == "nimble":
        return f"Patch Set {ps}: Verified{'+1' if ok else '-1'}"
    if key == "odd":
        if result == "unparsed":
            return (
                f"Patch Set {ps}:\n\nOur lab looked at patch {ps}; see the dashboard for details."
            )
        return f"Patch Set {ps}:\n\nBuild {'succeeded' if ok else 'failed'}.\n"
    raise KeyError(key)


def _behaviour(key, day_ago, rng):
    """Result CI ``key`` reports on a patchset ``day_ago`` days old; None = no report."""
    if key == "ours":
        return "FAILURE" if rng.random() < 0.1 else "SUCCESS"
    if key == "acme":
        return "SUCCESS" if rng.random() < 0.5 else "FAILURE"
    if key == "widget":
        if day_ago < 10:
            return None
        return "FAILURE" if rng.random() < 0.2 else "SUCCESS"
    if key == "gizmo":
        if day_ago < 20:
            return "FAILURE"
        return "SUCCESS" if rng.random() < 0.7 else "FAILURE"
    if key == "nimble":
        if day_ago < 18:
            return None
        return "SUCCESS" if rng.random() < 0.8 else "FAILURE"
    if key == "odd":
        if rng.random() < 0.5:
            return "unparsed"
        return "SUCCESS" if rng.random() < 0.6 else "FAILURE"
    raise KeyError(key)


def generate(seed=8, changes_per_day=4, now=NOW):
    """Return (changes in Gerrit's REST shape with MESSAGES, events), as of ``now``.

    Only the dates depend on ``now``: the same seed gives the same story.
    """
    rng = random.Random(seed)
    changes = []
    events = []
    number = 950000
    # Changes created up to 33 days ago: the oldest ones carry messages older
    # than the window, which must not count.
    for day_ago in range(DAYS + 3, -1, -1):
        for _ in range(changes_per_day):
            number += 1
            project = rng.choice(sorted(BRANCHES))
            branch = rng.choice(BRANCHES[project])
            created = now - datetime.timedelta(days=day_ago, hours=rng.randint(1, 11))
            messages = []
            patchsets = rng.choice((1, 1, 2, 3))
            for ps in range(1, patchsets + 1):
                uploaded = created + datetime.timedelta(hours=3 * (ps - 1))
                if uploaded >= now:
                    break
                messages.append(("human", uploaded, f"Uploaded patch set {ps}.", ps))
                for key in CI_KEYS + ("zuul",):
                    when = uploaded + datetime.timedelta(minutes=rng.randint(30, 170))
                    if when >= now:
                        continue
                    if key == "zuul":
                        messages.append(("zuul", when, f"Patch Set {ps}: Verified+1\n\n"
                                         "Build succeeded (check pipeline).\n", ps))  # fmt: skip
                        continue
                    age = (now - when) / datetime.timedelta(days=1)
                    result = _behaviour(key, age, rng)
                    if result is None:
                        continue
                    messages.append((key, when, _comment(key, result, number, ps, rng), ps))
                    events.append(Event(ACCOUNTS[key].name, branch, when, result))
                if rng.random() < 0.3:
                    when = uploaded + datetime.timedelta(hours=2, minutes=55)
                    if when < now:
                        messages.append(
                            ("core", when, f"Patch Set {ps}: Code-Review+1\n\nlgtm", ps)
                        )
            if not messages:
                continue  # uploaded "now": nothing happened on it yet
            messages.sort(key=lambda m: m[1])
            changes.append(
                {
                    "id": "~".join(
                        (project.replace("/", "%2F"), branch.replace("/", "%2F"), f"I{number:040x}")
                    ),
                    "project": project,
                    "branch": branch,
                    "_number": number,
                    "subject": f"Change {number}",
                    "status": "NEW",
                    "created": gerrit_time(created),
                    "updated": gerrit_time(messages[-1][1]),
                    "messages": [
                        {
                            "id": f"m{number}-{i}",
                            "author": account_info(ACCOUNTS[key]),
                            "real_author": account_info(ACCOUNTS[key]),
                            "date": gerrit_time(when),
                            "message": text,
                            "_revision_number": ps,
                        }
                        for i, (key, when, text, ps) in enumerate(messages)
                    ],
                }
            )
    return changes, events


def expected_figures(events, now=NOW, days=DAYS):
    """Per CI and branch ('*' = all): the figures, from the events alone."""
    window_start = now - datetime.timedelta(days=days)
    figures = {}
    for event in events:
        if not (window_start <= event.date <= now):
            continue
        for branch in (event.branch, "*"):
            fig = figures.setdefault(event.ci, {}).setdefault(
                branch,
                {"last_report": None, "last_success": None, "7d": [0, 0], "30d": [0, 0]},
            )
            fig.setdefault("unparsed", 0)
            if event.result == "unparsed":
                fig["unparsed"] += 1
                continue
            if fig["last_report"] is None or event.date > fig["last_report"]:
                fig["last_report"] = event.date
            ok = event.result == "SUCCESS"
            if ok and (fig["last_success"] is None or event.date > fig["last_success"]):
                fig["last_success"] = event.date
            for key, span in (("7d", 7), ("30d", 30)):
                if now - event.date < datetime.timedelta(days=span):
                    fig[key][0] += ok
                    fig[key][1] += 1
    return figures
