"""The vote guard votes only on what a report proves about the change."""

import datetime

import testtools

from ci_tools.people.gerrit_rest import parse_gerrit_time
from ci_tools.watchers import vote_guard

NOW = parse_gerrit_time("2026-11-23 12:00:00.000000000")
CI = "acme-ci"
FOOTER = "\nAcme Flash CI: https://wiki.example.org/Acme\nContact: ci@acme.test.\n"


def stamp(seconds_ago):
    t = datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S.000000000")


def report(lines, warnings=(), ok=None):
    ok = all(" : SUCCESS " in line for line in lines) if ok is None else ok
    head = "succeeded" if ok else "failed"
    text = f"Build {head} (check pipeline).\nhttps://zuul.example/t/acme/buildset/1\n\n"
    text += "\n".join(lines) + "\n"
    if warnings:
        text += "\nWarning:\n  " + "\n  ".join(warnings) + "\n"
    return text + FOOTER


def job(name, result, extra=""):
    return f"- {name} https://zuul.example/t/acme/build/{name} : {result} in 5m 02s{extra}"


def build(name, result, verdict=None, voting=True, final=True, **meta):
    """One build as zuul-web's /buildset/<uuid> lists it."""
    out = {"job_name": name, "result": result, "voting": voting, "final": final,
           "artifacts": [{"name": "job-output", "url": "job-output.txt"}]}  # fmt: skip
    if verdict:
        out["artifacts"].append({"name": "tempest-verdict", "url": "summary.json",
                                 "metadata": {"verdict": verdict, **meta}})  # fmt: skip
    return out


GOOD = report([job("acme-iscsi", "SUCCESS"), job("acme-fc", "SUCCESS")])
GOOD_BUILDS = [build("acme-iscsi", "SUCCESS"), build("acme-fc", "SUCCESS")]
BROKEN = report(
    [job("acme-iscsi", "FAILURE"), job("acme-fc", "SUCCESS")],
    ["acme-iscsi: 2 of 40 tests failed: tempest.api.volume.test_a, tempest.api.volume.test_b"],
)
BROKEN_BUILDS = [build("acme-iscsi", "FAILURE", "tests-failed", failed=2, total=40),
                 build("acme-fc", "SUCCESS")]  # fmt: skip
INFRA = report(
    [job("acme-iscsi", "RETRY_LIMIT"), job("acme-fc", "SUCCESS")],
    ['acme-iscsi: INFRASTRUCTURE FAILURE in "Reach the array"; not caused by this change'],
)
INFRA_BUILDS = [build("acme-iscsi", "FAILURE", final=False), build("acme-iscsi", "RETRY_LIMIT"),
                build("acme-fc", "SUCCESS")]  # fmt: skip


class TestDecide(testtools.TestCase):
    def test_all_success_is_plus_one(self):
        self.assertEqual(1, vote_guard.decide(GOOD_BUILDS).value)

    def test_test_failures_the_post_run_recorded_are_minus_one(self):
        decision = vote_guard.decide(BROKEN_BUILDS)
        self.assertEqual(-1, decision.value)
        self.assertIn("test failures in acme-iscsi", decision.reason)

    def test_infrastructure_failures_never_vote(self):
        for result in ("RETRY_LIMIT", "NODE_FAILURE", "POST_FAILURE", "TIMED_OUT", "ERROR"):
            builds = [build("acme-iscsi", result, "tests-failed"), build("acme-fc", "SUCCESS")]
            self.assertIsNone(vote_guard.decide(builds).value, result)
        self.assertIsNone(vote_guard.decide(INFRA_BUILDS).value)

    def test_a_retried_attempt_does_not_count(self):
        builds = [build("acme-iscsi", "RETRY", final=False), build("acme-iscsi", "SUCCESS")]
        self.assertEqual(1, vote_guard.decide(builds).value)

    def test_infra_elsewhere_wins_over_a_test_failure(self):
        builds = [build("acme-iscsi", "FAILURE", "tests-failed"), build("acme-fc", "RETRY_LIMIT")]
        self.assertIsNone(vote_guard.decide(builds).value)

    def test_failure_without_a_verdict_does_not_vote(self):
        builds = [build("acme-iscsi", "FAILURE", "tests-failed"), build("acme-fc", "FAILURE")]
        decision = vote_guard.decide(builds)
        self.assertIsNone(decision.value)
        self.assertIn("acme-fc", decision.reason)
        unknown = [build("acme-iscsi", "FAILURE", "infrastructure")]
        self.assertIsNone(vote_guard.decide(unknown).value)

    def test_cinder_not_starting_from_the_change_is_minus_one(self):
        builds = [build("acme-iscsi", "FAILURE", "does-not-start"),
                  build("acme-fc", "FAILURE", "tests-failed")]  # fmt: skip
        decision = vote_guard.decide(builds)
        self.assertEqual(-1, decision.value)
        self.assertIn("Cinder does not start with this change in acme-iscsi", decision.reason)
        self.assertIn("test failures in acme-fc", decision.reason)

    def test_non_voting_jobs_do_not_count(self):
        builds = [build("acme-iscsi", "SUCCESS"), build("acme-nv", "FAILURE", voting=False)]
        self.assertEqual(1, vote_guard.decide(builds).value)

    def test_unfinished_builds_wait(self):
        self.assertIs(vote_guard.PENDING, vote_guard.decide([build("acme-iscsi", None)]))


class TestReportHeader(testtools.TestCase):
    def test_only_zuuls_first_line_is_a_report(self):
        header = vote_guard.report_header()
        self.assertTrue(header.match(GOOD))
        self.assertTrue(header.match(BROKEN))
        # The same words quoted lower down (a change's exception in a warning) are not.
        self.assertFalse(header.match("Merge Failed.\n\nBuild failed (check pipeline)."))
        self.assertFalse(header.match(GOOD.replace("(check pipeline)", "(experimental pipeline)")))


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


class FakeZuul:
    """zuul-web's buildset records, newest first, as the guard reads them."""

    def __init__(self, records):
        # {(change, patchset): [(event seconds ago, builds), ...] newest first}
        self.records = records

    def buildsets(self, change, patchset):
        sets = self.records.get((change, patchset), [])
        return [{"uuid": f"{change}-{patchset}-{i}", "event_timestamp": iso(ago)}
                for i, (ago, _) in enumerate(sets)]  # fmt: skip

    def builds(self, uuid):
        change, patchset, i = (int(x) for x in uuid.split("-"))
        return self.records[(change, patchset)][i][1]


def iso(seconds_ago):
    return datetime.datetime.fromtimestamp(NOW - seconds_ago, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S"
    )


def guard(changes, records=None, **kw):
    gerrit = FakeGerrit(changes)
    zuul = FakeZuul(records or {})
    return gerrit, vote_guard.VoteGuard(gerrit, zuul, CI, ["openstack/cinder"], **kw)


def ran(ago, builds):
    """A buildset whose event came ``ago`` seconds before NOW."""
    return (ago, builds)


class TestVoteGuard(testtools.TestCase):
    def test_minus_one_once_across_passes_and_nothing_else(self):
        gerrit, g = guard(
            [change(1, [msg(CI, 1, 60, GOOD)]), change(2, [msg(CI, 1, 50, BROKEN)]),
             change(3, [msg(CI, 1, 40, INFRA)])],
            {(1, 1): [ran(600, GOOD_BUILDS)], (2, 1): [ran(600, BROKEN_BUILDS)],
             (3, 1): [ran(600, INFRA_BUILDS)]},
        )  # fmt: skip
        g.run_once(now=NOW)
        g.run_once(now=NOW)
        # Zuul's own success report carries the +1: the guard adds only the -1.
        votes = {path.split("/")[1]: body["labels"]["Verified"] for path, body in gerrit.posted}
        self.assertEqual({"2": -1}, votes)
        for path, body in gerrit.posted:
            self.assertTrue(body["message"].startswith("vote-guard: Verified-1"), body)
            self.assertEqual("autogenerated:acme-ci:vote", body["tag"])
            self.assertIn("/revisions/sha", path)

    def test_the_change_cannot_talk_its_way_out_of_minus_one(self):
        # Issue 16: a change whose own exception says INFRASTRUCTURE FAILURE.
        sneaky = report(
            [job("acme-iscsi", "FAILURE"), job("acme-fc", "FAILURE")],
            ["acme-iscsi: Cinder with this change does not start: c-api raised RuntimeError: "
             "INFRASTRUCTURE FAILURE (array unreachable); not caused by this change",
             "acme-fc: INFRASTRUCTURE FAILURE in \"Reach the array\"; retried"],
        )  # fmt: skip
        builds = [build("acme-iscsi", "FAILURE", "does-not-start"),
                  build("acme-fc", "FAILURE", "does-not-start")]  # fmt: skip
        gerrit, g = guard([change(1, [msg(CI, 1, 60, sneaky)])], {(1, 1): [ran(600, builds)]})
        g.run_once(now=NOW)
        self.assertEqual([-1], [b["labels"]["Verified"] for _, b in gerrit.posted])

    def test_the_report_text_alone_never_votes(self):
        # A report whose words claim named test failures, but whose builds
        # carry no verdict: no -1 (the text is not evidence).
        builds = [build("acme-iscsi", "FAILURE"), build("acme-fc", "SUCCESS")]
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])], {(1, 1): [ran(600, builds)]})
        self.assertEqual([], g.run_once(now=NOW))

    def test_waits_for_zuul_web_to_record_the_buildset(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])])
        self.assertEqual([], g.run_once(now=NOW))
        g.zuul.records[(1, 1)] = [ran(600, BROKEN_BUILDS)]
        self.assertEqual(1, len(g.run_once(now=NOW)))

    def test_a_later_recheck_buildset_is_not_this_reports(self):
        # The report came 60 s ago; the newest buildset started 10 s ago (a recheck).
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])],
                          {(1, 1): [ran(10, GOOD_BUILDS), ran(600, BROKEN_BUILDS)]})  # fmt: skip
        self.assertEqual(1, len(g.run_once(now=NOW)))

    def test_a_new_guard_reading_the_same_gerrit_votes_nothing_again(self):
        records = {(1, 1): [ran(600, BROKEN_BUILDS)]}
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])], records)
        g.run_once(now=NOW)
        _, again = guard(gerrit.changes, records)
        self.assertEqual([], again.run_once(now=NOW))

    def test_a_passing_recheck_needs_no_guard_message(self):
        records = {(1, 1): [ran(400, GOOD_BUILDS), ran(900, BROKEN_BUILDS)]}
        gerrit, g = guard([change(1, [msg(CI, 1, 600, BROKEN)])], records)
        g.run_once(now=NOW - 500)
        gerrit.changes[0]["messages"].append(msg("dev", 1, 450, "recheck"))
        gerrit.changes[0]["messages"].append(msg(CI, 1, 60, GOOD))
        g.run_once(now=NOW)
        self.assertEqual([-1], [b["labels"]["Verified"] for _, b in gerrit.posted])

    def test_report_on_an_old_patchset_is_left_alone(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)], patchsets=2)],
                          {(1, 1): [ran(600, BROKEN_BUILDS)]})  # fmt: skip
        self.assertEqual([], g.run_once(now=NOW))

    def test_other_accounts_and_other_pipelines_are_not_reports(self):
        experimental = BROKEN.replace("(check pipeline)", "(experimental pipeline)")
        messages = [msg("someone", 1, 60, BROKEN), msg(CI, 1, 50, experimental)]
        gerrit, g = guard([change(1, messages)], {(1, 1): [ran(600, BROKEN_BUILDS)]})
        self.assertEqual([], g.run_once(now=NOW))

    def test_holds_minus_one_after_too_many_failures_in_a_row(self):
        changes = [change(n, [msg(CI, 1, 100 - n, BROKEN)]) for n in range(1, 6)]
        records = {(n, 1): [ran(600, BROKEN_BUILDS)] for n in range(1, 8)}
        records[(6, 1)] = [ran(600, GOOD_BUILDS)]
        gerrit, g = guard(changes, records, max_failures=3)
        g.run_once(now=NOW)
        self.assertEqual(["1", "2", "3"], [p.split("/")[1] for p, _ in gerrit.posted])
        # A passing report resumes voting.
        gerrit.changes.append(change(6, [msg(CI, 1, 10, GOOD)]))
        gerrit.changes.append(change(7, [msg(CI, 1, 5, BROKEN)]))
        g.run_once(now=NOW)
        self.assertEqual(["1", "2", "3", "7"], [p.split("/")[1] for p, _ in gerrit.posted])

    def test_dry_run_posts_nothing(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 60, BROKEN)])],
                          {(1, 1): [ran(600, BROKEN_BUILDS)]}, dry_run=True)  # fmt: skip
        self.assertEqual(1, len(g.run_once(now=NOW)))
        self.assertEqual([], gerrit.posted)

    def test_reports_older_than_the_window_are_left_alone(self):
        gerrit, g = guard([change(1, [msg(CI, 1, 7200, BROKEN)], updated=7200)],
                          {(1, 1): [ran(9000, BROKEN_BUILDS)]}, window=3600)  # fmt: skip
        self.assertEqual([], g.run_once(now=NOW))
