"""The reconciler finds exactly the triggers Zuul has no trace of."""

import os

import testtools

from ci_tools.people.gerrit_rest import parse_gerrit_time
from ci_tools.watchers import reconciler
from ci_tools.zuulconf import recheck

NOW = parse_gerrit_time("2026-11-23 12:00:00.000000000")


def stamp(seconds_ago):
    import datetime

    t = datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.000000000")


def change(number, patchsets, messages=(), updated=60):
    revisions = {
        f"sha{number}{ps}": {"_number": ps, "created": stamp(ago)} for ps, ago in patchsets
    }
    current = max(revisions, key=lambda k: revisions[k]["_number"])
    return {
        "_number": number,
        "project": "openstack/cinder",
        "branch": "master",
        "updated": stamp(updated),
        "current_revision": current,
        "revisions": revisions,
        "messages": [
            {"author": {"username": who}, "_revision_number": ps, "date": stamp(ago),
             "message": text}
            for who, ps, ago, text in messages
        ],
    }  # fmt: skip


class FakeGerrit:
    def __init__(self, changes):
        self.changes = changes

    def get(self, path, params):
        return list(self.changes)


class FakeZuul:
    """Stands in for zuul-web: {(change, patchset): [start times]}."""

    def __init__(self, starts):
        self._starts = starts
        self.enqueued = []

    def starts(self, change, patchset):
        return self._starts.get((change, patchset), [])

    def enqueue(self, trigger):
        self.enqueued.append(trigger.ref)


REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def regexes():
    return recheck.comment_regexes(REPO)


class TestTriggers(testtools.TestCase):
    def test_recheck_on_current_patchset_only(self):
        c = change(1, [(1, 500), (2, 400)], [
            ("alice", 1, 300, "Patch Set 1:\n\nrecheck"),
            ("alice", 2, 200, "Patch Set 2:\n\nrecheck"),
            ("alice", 2, 100, "Patch Set 2:\n\nlooks good"),
        ])  # fmt: skip
        found = reconciler.triggers_from_changes([c], regexes())
        self.assertEqual(
            [("patchset-created", "1,2"), ("comment-added", "1,2")],
            [(t.kind, t.ref) for t in found],
        )

    def test_ci_own_comments_never_trigger(self):
        c = change(1, [(1, 500)], [("refflash-ci", 1, 100, "Patch Set 1:\n\nrecheck")])
        found = reconciler.triggers_from_changes([c], regexes(), ci_accounts={"refflash-ci"})
        self.assertEqual(["patchset-created"], [t.kind for t in found])


class TestMissed(testtools.TestCase):
    def make(self, changes, starts, **kw):
        zuul = FakeZuul(starts)
        rec = reconciler.Reconciler(FakeGerrit(changes), zuul, ["openstack/cinder"], regexes(),
                                    grace=20, **kw)  # fmt: skip
        return rec, zuul

    def test_patchset_zuul_never_saw_is_enqueued_once(self):
        rec, zuul = self.make([change(7, [(1, 120)])], {})
        self.assertEqual(["7,1"], [t.ref for t in rec.run_once(now=NOW)])
        # Zuul now has it: a second pass enqueues nothing.
        zuul._starts[(7, 1)] = [NOW - 1]
        self.assertEqual([], rec.run_once(now=NOW))

    def test_patchset_zuul_ran_is_left_alone(self):
        rec, _ = self.make([change(7, [(1, 120)])], {(7, 1): [NOW - 118]})
        self.assertEqual([], rec.missed(now=NOW))

    def test_recheck_after_the_last_run_is_missed(self):
        c = change(7, [(1, 600)], [("bob", 1, 60, "Patch Set 1:\n\nrecheck")])
        rec, _ = self.make([c], {(7, 1): [NOW - 598]})
        self.assertEqual([("comment-added", "7,1")], [(t.kind, t.ref) for t in rec.missed(NOW)])

    def test_recheck_zuul_acted_on_is_left_alone(self):
        c = change(7, [(1, 600)], [("bob", 1, 60, "Patch Set 1:\n\nrecheck")])
        rec, _ = self.make([c], {(7, 1): [NOW - 598, NOW - 59]})
        self.assertEqual([], rec.missed(NOW))

    def test_young_events_get_zuuls_first_chance(self):
        rec, _ = self.make([change(7, [(1, 5)])], {})
        self.assertEqual([], rec.missed(NOW))

    def test_non_trigger_comment_is_ignored(self):
        c = change(7, [(1, 600)], [("bob", 1, 60, "Patch Set 1:\n\nplease recheck later")])
        rec, _ = self.make([c], {(7, 1): [NOW - 598]})
        self.assertEqual([], rec.missed(NOW))

    def test_enqueue_not_repeated_while_the_scheduler_catches_up(self):
        rec, zuul = self.make([change(7, [(1, 120)])], {})
        self.assertEqual(["7,1"], [t.ref for t in rec.run_once(now=NOW)])
        # zuul-web accepted it, the scheduler has not shown it yet
        self.assertEqual([], rec.run_once(now=NOW + 3))
        # long after, still no trace: Zuul lost it, ask again
        self.assertEqual(["7,1"], [t.ref for t in rec.run_once(now=NOW + 400)])
        self.assertEqual(["7,1", "7,1"], zuul.enqueued)
