"""Pure pieces of health and the Gerrit reader: /proc/net/tcp, Zuul's log, verdicts."""

import datetime
import os

import fixtures
import testtools

from ci_tools.people import gerrit_rest, health, source
from ci_tools.people.aggregate import CIComment

# Two sockets from a real /proc/net/tcp: 127.0.0.1:45678 -> 127.0.0.1:29418
# (established), and a listener on 0.0.0.0:29418.
PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B26E 0100007F:72EA 01 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 00000000:72EA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1
"""
# ::ffff:127.0.0.1:50000 -> ::ffff:127.0.0.1:29418, established.
PROC_TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 0000000000000000FFFF00000100007F:C350 0000000000000000FFFF00000100007F:72EA 01 0 0
"""


class TestProcNet(testtools.TestCase):
    def test_established_connections_to_a_port(self):
        root = self.useFixture(fixtures.TempDir()).path
        os.makedirs(os.path.join(root, "net"))
        with open(os.path.join(root, "net", "tcp"), "w") as f:
            f.write(PROC_TCP)
        with open(os.path.join(root, "net", "tcp6"), "w") as f:
            f.write(PROC_TCP6)
        found = health.established_to("127.0.0.1", 29418, proc_root=root)
        self.assertEqual([45678, 50000], [local[1] for local, _ in found])
        self.assertEqual([], health.established_to("127.0.0.1", 29419, proc_root=root))


class TestSchedulerLog(testtools.TestCase):
    def test_last_event_and_stream_error(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, "scheduler.log")
        with open(path, "w") as f:
            f.write(
                "2026-11-23 10:00:00,001 DEBUG zuul.GerritConnection.ssh: Received data from "
                "Gerrit event stream: \n{'type': 'comment-added'}\n"
                "2026-11-23 10:02:00,001 ERROR zuul.GerritConnection.ssh: Exception on ssh "
                "event stream with gerrit:\n"
                "2026-11-23 10:03:00,001 DEBUG zuul.GerritConnection.ssh: Received data from "
                "Gerrit event stream: \n"
            )
        event, error = health.scan_scheduler_log(path)
        local = datetime.datetime(2026, 11, 23, 10, 3).astimezone()
        self.assertEqual(local, event)
        self.assertEqual(datetime.timedelta(minutes=1), event - error)


class TestVerdict(testtools.TestCase):
    def test_exit_codes_and_report(self):
        ok = health.Check("zuul", "ok", "running")
        warn = health.Check("queue", "warning", "60 items")
        bad = health.Check("stream", "critical", "no connection")
        skipped = health.Check("array", "skipped", "not asked")
        self.assertEqual(0, health.exit_code([ok, skipped]))
        self.assertEqual(1, health.exit_code([ok, warn]))
        self.assertEqual(2, health.exit_code([warn, bad]))
        now = datetime.datetime(2026, 11, 23, 12, tzinfo=datetime.UTC)
        data = health.report([ok, warn, bad], now)
        self.assertEqual("critical", data["state"])
        self.assertEqual("queue: 60 items; stream: no connection", data["summary"])
        self.assertEqual(
            "OK        zuul    running\n"
            "WARNING   queue   60 items\n"
            "CRITICAL  stream  no connection\n",
            health.format_text([ok, warn, bad]),
        )


class TestGerritPieces(testtools.TestCase):
    def test_guard_and_dates(self):
        self.assertEqual('{"a": 1}', gerrit_rest.strip_guard(')]}\'\n{"a": 1}'))
        self.assertEqual("[]", gerrit_rest.strip_guard("[]"))
        self.assertEqual(
            datetime.datetime(2026, 11, 20, 12, 0, 1, tzinfo=datetime.UTC),
            source.gerrit_date("2026-11-20 12:00:01.123456789"),
        )

    def test_queries_use_plain_and_terms(self):
        self.assertEqual(
            [
                "project:openstack/cinder branch:master -age:30d",
                "project:openstack/cinder branch:stable/2025.2 -age:30d",
            ],
            source.build_queries(["openstack/cinder"], ["master", "stable/2025.2"], 30),
        )

    def test_ci_named_by_username_keeps_that_name(self):
        class Changes:
            def query_changes(self, query, options, page_size):
                yield {
                    "project": "openstack/cinder",
                    "branch": "master",
                    "_number": 1,
                    "messages": [
                        {
                            "author": {"name": "Acme Storage CI", "username": "acme-ci"},
                            "date": "2026-11-20 11:00:00.000000000",
                            "message": "Patch Set 1:\n\nBuild succeeded.",
                            "_revision_number": 1,
                        },
                        {
                            "author": {"name": "Jane", "username": "jane"},
                            "date": "2026-11-20 11:05:00.000000000",
                            "message": "Patch Set 1:\n\nrecheck",
                        },
                    ],
                }

        now = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC)
        got = list(
            source.ci_comments(Changes(), now, projects=["openstack/cinder"], accounts=["acme-ci"])
        )
        self.assertEqual(
            [
                CIComment(
                    "acme-ci",
                    "openstack/cinder",
                    "master",
                    1,
                    datetime.datetime(2026, 11, 20, 11, tzinfo=datetime.UTC),
                    "Patch Set 1:\n\nBuild succeeded.",
                    1,
                )
            ],
            got,
        )


class TestPeriodicCanary(testtools.TestCase):
    """A failed nightly canary is critical, so the alert hooks reach the contact."""

    def bs(self, uuid, result, branch="master", project="openstack/cinder"):
        return {"uuid": uuid, "result": result, "event_timestamp": "2026-11-23T04:00:00",
                "refs": [{"project": project, "branch": branch}]}  # fmt: skip

    def test_only_the_newest_run_of_each_branch_counts(self):
        buildsets = [  # newest first, as zuul-web lists them
            self.bs("a", "SUCCESS"),
            self.bs("b", "FAILURE", "stable/2025.1"),
            self.bs("c", "FAILURE"),  # master failed yesterday, passed today
            self.bs("d", "SUCCESS", "stable/2025.1"),
            self.bs("e", None, "stable/2025.2"),  # still running: not a verdict
        ]
        self.assertEqual(["b"], [b["uuid"] for b in health.periodic_failures(buildsets)])

    def test_all_passing_is_no_failure(self):
        self.assertEqual([], health.periodic_failures([self.bs("a", "SUCCESS")]))
