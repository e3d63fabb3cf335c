"""The vote guard votes only on what a report proves about the change."""

import datetime

import testtools

from ci_tools import vote_guard
from ci_tools.sandbox.reconciler import parse_gerrit_time

NOW = parse_gerrit_time("2026-11-23 12:00:00.000000000")
CI = "acme-ci"
DISPLAY = "Acme Flash CI"
FOOTER = "\nAcme Flash CI: https://wiki.example.org/Acme\nContact: ci@acme.test.\n"


def stamp(seconds_ago):
    t = datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.000000000")


def report(lines, warnings=(), ok=None):
    ok = all(" : SUCCESS " in line for line in lines) if ok is None else ok
    head = "succeeded" if ok else "failed"
    text = f"Build {head} ({DISPLAY}, check pipeline).\nhttps://zuul.example/t/acme/buildset/1\n\n"
    text += "\n".join(lines) + "\n"
    if warnings:
        text += "\nWarning:\n  " + "\n  ".join(warnings) + "\n"
    return text + FOOTER


def job(name, result, extra=""):
    return f"- {name} https://zuul.example/t/acme/build/{name} : {result} in 5m 02s{extra}"


GOOD = report([job("acme-iscsi", "SUCCESS"), job("acme-fc", "SUCCESS")])
BROKEN = report(
    [job("acme-iscsi", "FAILURE"), job("acme-fc", "SUCCESS")],
    ["acme-iscsi: 2 of 40 tests failed: tempest.api.volume.test_a, tempest.api.volume.test_b"],
)
INFRA = report(
    [job("acme-iscsi", "RETRY_LIMIT"), job("acme-fc", "SUCCESS")],
    ['acme-iscsi: INFRASTRUCTURE FAILURE in "Reach the array"; not caused by this change'],
)


class TestDecide(testtools.TestCase):
    def test_all_success_is_plus_one(self):
        self.assertEqual(1, vote_guard.decide(GOOD).value)

    def test_named_test_failures_are_minus_one(self):
        decision = vote_guard.decide(BROKEN)
        self.assertEqual(-1, decision.value)
        self.assertIn("acme-iscsi", decision.reason)

    def test_infrastructure_failures_never_vote(self):
        for result in ("RETRY_LIMIT", "NODE_FAILURE", "POST_FAILURE", "TIMED_OUT", "ERROR"):
            body = report([job("acme-iscsi", result), job("acme-fc", "SUCCESS")])
            self.assertIsNone(vote_guard.decide(body).value, result)
        self.assertIsNone(vote_guard.decide(INFRA).value)

    def test_infra_warning_wins_over_a_test_failure_elsewhere(self):
        body = report(
            [job("acme-iscsi", "FAILURE"), job("acme-fc", "FAILURE")],
            [
                "acme-iscsi: 1 of 40 tests failed: tempest.api.volume.test_a",
                "acme-fc: INFRASTRUCTURE FAILURE (array preflight, protocol fc)",
            ],
        )
        self.assertIsNone(vote_guard.decide(body).value)

    def test_failure_without_named_tests_does_not_vote(self):
        body = report([job("acme-iscsi", "FAILURE"), job("acme-fc", "FAILURE")],
                      ["acme-iscsi: 1 of 40 tests failed: tempest.api.volume.test_a"])  # fmt: skip
        decision = vote_guard.decide(body)
        self.assertIsNone(decision.value)
        self.assertIn("acme-fc", decision.reason)

    def test_cinder_not_starting_from_the_change_is_minus_one(self):
        body = report(
            [job("acme-iscsi", "FAILURE"), job("acme-fc", "FAILURE")],
            [
                "acme-iscsi: Cinder with this change does not start: c-api raised ImportError: "
                "Class API cannot be found (in cinder/api/v3/volumes.py)",
                "acme-fc: 3 of 40 tests failed: tempest.api.volume.test_a",
            ],
        )
        decision = vote_guard.decide(body)
        self.assertEqual(-1, decision.value)
        self.assertIn("Cinder does not start with this change in acme-iscsi", decision.reason)
        self.assertIn("test failures in acme-fc", decision.reason)

    def test_non_voting_jobs_do_not_count(self):
        body = report([job("acme-iscsi", "SUCCESS"), job("acme-nv", "FAILURE", " (non-voting)")],
                      ok=True)  # fmt: skip
        self.assertEqual(1, vote_guard.decide(body).value)

    def test_a_comment_without_job_lines_does_not_vote(self):
        self.assertIsNone(vote_guard.decide("Build failed.\nMerge Failed.").value)


class FakeGerrit:
    """The REST answers the guard reads, and the reviews it posts."""

    def __init__(self, changes):
        self.changes = changes
        self.posted = []

    def query_changes(self, query, options=()):
        project = query.split("project:")[1]
        return iter([c for c in self.changes if c["project"] == project])

    def post(self, path, body):
        self.posted.append((path, body))
        number = int(path.split("/")[1])
        change = next(c for c in self.changes if c["_number"] == number)
        ps = change["revisions"][change["current_revision"]]["_number"]
        for label, value in body["labels"].items():
            votes = change.setdefault("labels", {}).setdefault(label, {}).setdefault("all", [])
            votes[:] = [v for v in votes if v["username"] != CI] + [
                {"username": CI, "value": value}
            ]
        change["messages"].append(msg(CI, ps, 0, body["message"], body["tag"]))
        return {}


def msg(who, ps, ago, text, tag=None):
    out = {"author": {"username": who}, "_revision_number": ps, "date": stamp(ago),
           "message": f"Patch Set {ps}:\n\n{text}"}  # fmt: skip
    if tag:
        out["tag"] = tag
    return out


def change(number, messages, patchsets=1, updated=30):
    revisions = {f"sha{number}{ps}": {"_number": ps} for ps in range(1, patchsets + 1)}
    return {
        "_number": number,
        "project": "openstack/cinder",
        "branch": "master",
        "updated": stamp(updated),
        "current_revision": f"sha{number}{patchsets}",
        "revisions": revisions,
        "messages": messages,
    }


def guard(changes, **kw):
    gerrit = FakeGerrit(changes)
    return gerrit, vote_guard.VoteGuard(gerrit, CI, DISPLAY, ["openstack/cinder"], **kw)


class TestVoteGuard(testtools.TestCase):
    def test_votes_each_report_once_across_passes(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, GOOD)]), change(2, [msg(CI, 1, 50, BROKEN)]),
                           change(3, [msg(CI, 1, 40, INFRA)])])  # fmt: skip
        g.run_once(now=NOW)
        g.run_once(now=NOW)
        votes = {path.split("/")[1]: body["labels"]["Verified"] for path, body in gerrit.posted}
        self.assertEqual({"1": 1, "2": -1}, votes)
        for path, body in gerrit.posted:
            self.assertTrue(body["message"].startswith("vote-guard: Verified"), body)
            self.assertEqual("autogenerated:acme-ci:vote", body["tag"])
            self.assertIn("/revisions/sha", path)

    def test_a_new_guard_reading_the_same_gerrit_votes_nothing_again(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])])
        g.run_once(now=NOW)
        _, again = guard(gerrit.changes)
        self.assertEqual([], again.run_once(now=NOW))

    def test_recheck_that_passes_turns_minus_one_into_plus_one(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 600, BROKEN)])])
        g.run_once(now=NOW - 500)
        gerrit.changes[0]["messages"].append(msg("dev", 1, 300, "recheck"))
        gerrit.changes[0]["messages"].append(msg(CI, 1, 60, GOOD))
        g.run_once(now=NOW)
        self.assertEqual([-1, 1], [b["labels"]["Verified"] for _, b in gerrit.posted])

    def test_report_on_an_old_patchset_is_left_alone(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)], patchsets=2)])
        self.assertEqual([], g.run_once(now=NOW))

    def test_other_accounts_and_other_pipelines_are_not_reports(self):
        experimental = GOOD.replace("Build succeeded", "Experimental build succeeded")
        other_ci = GOOD.replace(DISPLAY, "Other CI")
        gerrit, g = guard([change(1, [msg("someone", 1, 60, GOOD), msg(CI, 1, 50, experimental),
                                      msg(CI, 1, 40, other_ci)])])  # fmt: skip
        self.assertEqual([], g.run_once(now=NOW))

    def test_holds_minus_one_after_too_many_failures_in_a_row(self):
        changes = [change(n, [msg(CI, 1, 100 - n, BROKEN)]) for n in range(1, 6)]
        gerrit, g = guard(changes, max_failures=3)
        g.run_once(now=NOW)
        self.assertEqual(["1", "2", "3"], [p.split("/")[1] for p, _ in gerrit.posted])
        # A passing report resumes voting.
        gerrit.changes.append(change(6, [msg(CI, 1, 10, GOOD)]))
        gerrit.changes.append(change(7, [msg(CI, 1, 5, BROKEN)]))
        g.run_once(now=NOW)
        self.assertEqual(["1", "2", "3", "6", "7"], [p.split("/")[1] for p, _ in gerrit.posted])

    def test_dry_run_posts_nothing(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])], dry_run=True)
        self.assertEqual(1, len(g.run_once(now=NOW)))
        self.assertEqual([], gerrit.posted)

    def test_reports_older_than_the_window_are_left_alone(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 7200, BROKEN)], updated=7200)], window=3600)
        self.assertEqual([], g.run_once(now=NOW))
