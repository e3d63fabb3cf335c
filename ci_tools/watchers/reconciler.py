"""The missed-event reconciler: what Zuul should have seen, it gets.

Zuul hears Gerrit only over ``stream-events``; after a drop it reconnects 5 s
later and whatever Gerrit emitted meanwhile is lost. This asks Gerrit's REST
API for the patchsets and trigger comments (recheck, run-<ci>) of the last
``window`` seconds and, for each one Zuul has no trace of, enqueues the change
through zuul-web's REST API.

"No trace" is what keeps it from doubling runs: a patchset counts as seen
when Zuul has a buildset for it or holds it in the pipeline; a trigger
comment when a buildset or queue item for its patchset started after the
comment. What it enqueued is not sent again for ``retry_after`` seconds, as
zuul-web accepts an enqueue before the scheduler shows it. Events younger
than ``grace`` seconds are left alone, so Zuul always gets the first chance.
Zuul itself refuses a change already in the pipeline.

It keeps no state on disk and is idempotent, so it can run as often as wanted (the
sandbox runs it every few seconds; production runs it from cron or a timer)
and survives its own restarts and the scheduler's.
"""

import logging
import re
import time

from ci_tools.people.gerrit_rest import parse_gerrit_time

LOG = logging.getLogger(__name__)


class Trigger:
    """One thing that should have made Zuul run: a patchset or a comment."""

    def __init__(self, project, branch, change, patchset, when, kind, text=""):
        self.project = project
        self.branch = branch
        self.change = change
        self.patchset = patchset
        self.when = when
        self.kind = kind  # "patchset-created" or "comment-added"
        self.text = text

    @property
    def ref(self):
        return f"{self.change},{self.patchset}"

    def __repr__(self):
        return f"<{self.kind} {self.project} {self.ref} at {self.when:.0f}>"


def triggers_from_changes(changes, comment_regexes, ci_accounts=()):
    """Turn Gerrit change records (with ALL_REVISIONS and MESSAGES) into
    the triggers the check pipeline would have acted on."""
    patterns = [re.compile(r) for r in comment_regexes]
    found = []
    for change in changes:
        revisions = (change.get("revisions") or {}).values()
        by_number = {r.get("_number"): r for r in revisions}
        current = (change.get("revisions") or {}).get(change.get("current_revision"), {})
        current_ps = current.get("_number")
        if current_ps is None:
            continue
        base = (change["project"], change["branch"], change["_number"])
        rev = by_number.get(current_ps, {})
        if rev.get("created"):
            found.append(Trigger(*base, current_ps, parse_gerrit_time(rev["created"]),
                                 "patchset-created"))  # fmt: skip
        for msg in change.get("messages") or []:
            author = (msg.get("author") or {}).get("username")
            if author and author in ci_accounts:
                continue
            # Zuul requires the current patchset: a recheck on an old one does nothing.
            if msg.get("_revision_number") != current_ps:
                continue
            text = msg.get("message", "")
            if any(p.search(text) for p in patterns):
                found.append(Trigger(*base, current_ps, parse_gerrit_time(msg["date"]),
                                     "comment-added", text))  # fmt: skip
    return found


class Reconciler:
    def __init__(self, gerrit, zuul, projects, comment_regexes, ci_accounts=(),
                 window=3600, grace=20, skew=2.0, retry_after=300):  # fmt: skip
        """``gerrit`` is a ci_tools.people.gerrit_rest.GerritRest (no cache);
        ``zuul`` a ci_tools.watchers.zuul_web.ZuulView."""
        self.gerrit = gerrit
        self.zuul = zuul
        self.projects = projects
        self.comment_regexes = comment_regexes
        self.ci_accounts = set(ci_accounts)
        self.window = window
        self.grace = grace
        self.skew = skew
        # zuul-web answers an enqueue at once and the scheduler acts on it
        # later; until then Zuul shows no trace of it. Remember what was sent
        # so a busy scheduler is not asked twice (it would ignore the second).
        self.retry_after = retry_after
        self._sent = {}
        self.enqueued = []

    def _changes(self, now):
        # Gerrit sorts by last update, newest first: stop paging at the window's edge.
        changes = []
        for project in self.projects:
            start = 0
            while True:
                page = self.gerrit.get(
                    "changes/",
                    [("q", f"status:open project:{project}"), ("o", "ALL_REVISIONS"),
                     ("o", "MESSAGES"), ("n", "100"), ("S", str(start))],
                )  # fmt: skip
                fresh = [c for c in page if now - parse_gerrit_time(c["updated"]) <= self.window]
                changes.extend(fresh)
                if len(fresh) < len(page) or not page or not page[-1].get("_more_changes"):
                    break
                start += len(page)
        return changes

    def missed(self, now=None):
        """The triggers Zuul has no trace of, oldest first, one per patchset."""
        now = now or time.time()
        triggers = triggers_from_changes(self._changes(now), self.comment_regexes, self.ci_accounts)
        latest = {}
        for t in sorted(triggers, key=lambda t: t.when):
            if now - t.when < self.grace or now - t.when > self.window:
                continue
            latest[(t.project, t.ref)] = t
        missed = []
        for t in latest.values():
            sent = self._sent.get((t.project, t.ref, t.when))
            if sent is not None and now - sent < self.retry_after:
                continue
            starts = self.zuul.starts(t.change, t.patchset)
            if any(s >= t.when - self.skew for s in starts):
                continue
            if t.kind == "patchset-created" and starts:
                continue
            missed.append(t)
        return sorted(missed, key=lambda t: t.when)

    def run_once(self, now=None):
        done = []
        for trigger in self.missed(now):
            LOG.info("Zuul missed %r: enqueueing", trigger)
            self.zuul.enqueue(trigger)
            self._sent[(trigger.project, trigger.ref, trigger.when)] = now or time.time()
            self.enqueued.append(trigger)
            done.append(trigger)
        return done
