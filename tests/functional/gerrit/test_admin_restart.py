"""The admin CLI against a running emulator, restart persistence and fault injection."""

import contextlib
import io
import json
import os
import time

import requests

from ci_tools.cli import main
from tests.functional.gerrit.base import EmulatorTestCase


class TestAdminCLI(EmulatorTestCase):
    def cli(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(["gerrit", *argv])
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code
        return code, out.getvalue(), err.getvalue()

    def test_account_grant_push_and_recheck_comment(self):
        data = self.gerrit.data_dir
        key = self.keypair("dev")
        code, out, _ = self.cli(
            "account",
            "add",
            "--data-dir",
            data,
            "dev",
            "--full-name",
            "Dev Eloper",
            "--email",
            "dev@example.com",
            "--ssh-key",
            key + ".pub",
        )
        self.assertEqual(0, code)
        self.assertIn("account dev id", out)
        self.assertEqual(
            0,
            self.cli(
                "grant",
                "--data-dir",
                data,
                "dev",
                "Verified",
                "--min",
                "-1",
                "--max",
                "1",
                "--project",
                "demo",
            )[0],
        )
        self.assertEqual(
            "gerrit version 3.10.0\n", self.ssh("gerrit", "version", username="dev", key=key).stdout
        )
        client = self.stream()[0]
        code, out, err = self.cli(
            "push",
            "--data-dir",
            data,
            "--account",
            "dev",
            "--project",
            "demo",
            "--message",
            "Fix the driver",
            "--text",
            "cinder/x.py=print('x')\n",
        )
        self.assertEqual(0, code, err)
        self.assertRegex(
            out, r"^change 1 patch set 1 [0-9a-f]{40} http://127.0.0.1:\d+/c/demo/\+/1"
        )
        event = client.next_event("patchset-created")
        self.assertEqual(
            ("Fix the driver", "dev"), (event["change"]["subject"], event["uploader"]["username"])
        )
        code, out, err = self.cli(
            "push",
            "--data-dir",
            data,
            "--account",
            "dev",
            "--change",
            "1",
            "--text",
            "cinder/x.py=print('y')\n",
        )
        self.assertEqual(0, code, err)
        self.assertEqual(2, client.next_event("patchset-created")["patchSet"]["number"])

        code, out, err = self.cli("comment", "--data-dir", data, "--account", "dev", "1", "recheck")
        self.assertEqual(0, code, err)
        event = client.next_event("comment-added")
        self.assertEqual("Patch Set 2:\n\nrecheck", event["comment"])

        code, _, err = self.cli(
            "comment", "--data-dir", data, "--account", "dev", "1", "x", "--label", "Code-Review=2"
        )
        self.assertEqual(4, code)
        self.assertIn('Applying label "Code-Review": 2 is restricted', err)

    def test_bad_input_gets_clear_errors(self):
        data = self.gerrit.data_dir
        code, _, err = self.cli(
            "grant", "--data-dir", data, "ghost", "Verified", "--min", "-1", "--max", "1"
        )
        self.assertEqual(
            (2, "ci-tools: error: no account 'ghost'; create it with 'gerrit account add'\n"),
            (code, err),
        )
        code, _, err = self.cli(
            "grant", "--data-dir", data, "admin", "Frobbed", "--min", "0", "--max", "1"
        )
        self.assertEqual(2, code)
        self.assertIn("unknown label 'Frobbed'", err)
        code, _, err = self.cli(
            "account", "add", "--data-dir", data, "x", "--ssh-key", "/nonexistent.pub"
        )
        self.assertEqual(2, code)
        self.assertIn("/nonexistent.pub", err)
        code, _, err = self.cli("project", "add", "--data-dir", data, "../escape")
        self.assertEqual((2, "ci-tools: error: invalid project name '../escape'\n"), (code, err))
        push = ["--account", "admin", "--project", "demo", "--message", "m"]
        # A data dir that does not exist is a usage error; one without a server, exit 4.
        missing = os.path.join(self.work, "none")
        code, _, err = self.cli("push", "--data-dir", missing, *push)
        self.assertEqual(2, code)
        self.assertIn(f"{missing} does not exist", err)
        os.makedirs(missing)
        code, _, err = self.cli("push", "--data-dir", missing, *push)
        self.assertEqual(4, code)
        self.assertIn("no running gerrit emulator", err)
        code, _, err = self.cli(
            "push",
            "--data-dir",
            data,
            "--account",
            "admin",
            "--project",
            "nosuch",
            "--message",
            "m",
        )
        self.assertEqual(4, code)
        self.assertIn("Project not found: nosuch", err)

    def test_fault_and_events_commands(self):
        data = self.gerrit.data_dir
        code, out, err = self.cli("fault", "--data-dir", data, "--fail", "503", "--calls", "1")
        self.assertEqual(0, code, err)
        self.assertEqual((1, 503), (json.loads(out)["fail_calls"], json.loads(out)["fail_status"]))
        url = f"{self.gerrit.url}/config/server/version"
        self.assertEqual([503, 200], [requests.get(url, timeout=10).status_code for _ in "ab"])
        code, _, err = self.cli("fault", "--data-dir", data, "--fail", "200")
        self.assertEqual(
            (2, "ci-tools: error: --fail takes an HTTP error status (400-599)\n"), (code, err)
        )
        code, out, _ = self.cli("fault", "--data-dir", data, "--pause-events")
        self.assertTrue(json.loads(out)["paused"])
        code, out, _ = self.cli("fault", "--data-dir", data, "--resume-events")
        self.assertFalse(json.loads(out)["paused"])

        self.gerrit.push_change("demo", "master", {}, "Seen in history")
        code, out, _ = self.cli("events", "--data-dir", data)
        events = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(["patchset-created"], [e["type"] for e in events])
        self.assertEqual("Seen in history", events[0]["change"]["subject"])


class TestRestartKeepsState(EmulatorTestCase):
    def test_changes_comments_votes_and_events_survive_restart(self):
        self.gerrit.add_account("ci", "CI", "ci@example.com", http_password="pw")
        self.gerrit.grant("ci", "Verified", -1, 1)
        number, _, sha1 = self.gerrit.push_change("demo", "master", {"a": "1\n"}, "Persist me")
        _, _, sha2 = self.gerrit.new_patchset(number, {"a": "2\n"})
        self.gerrit.comment(number, "Build failed. \u2603", account="ci", labels={"Verified": -1})
        self.gerrit.comment(number, "recheck")
        url = f"changes/{number}/detail?o=ALL_REVISIONS"
        before = self.rest(url)
        events_before = self.gerrit.events()

        self.gerrit.restart()

        after = self.rest(url)
        self.assertEqual(before["messages"], after["messages"])
        self.assertEqual(before["labels"], after["labels"])
        self.assertEqual({sha1, sha2}, set(after["revisions"]))
        self.assertEqual(events_before, self.gerrit.events())
        self.assertEqual(
            "Patch Set 2: Verified-1\n\nBuild failed. \u2603", after["messages"][-2]["message"]
        )
        # The next change continues the numbering; the change refs are still fetchable.
        self.assertEqual(number + 1, self.gerrit.push_change("demo", "master", {}, "Next")[0])
        repo = os.path.join(self.work, "r")
        self.git("clone", "-q", f"{self.gerrit.url}/demo", repo)
        self.git("fetch", "-q", "origin", f"refs/changes/{number:02d}/{number}/2", cwd=repo)
        self.assertEqual(sha2, self.git("rev-parse", "FETCH_HEAD", cwd=repo).stdout.strip())

    def rest(self, path):
        resp = requests.get(f"{self.gerrit.url}/{path}", timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)
        return json.loads(resp.text[5:])


class TestFaults(EmulatorTestCase):
    def test_drop_pause_and_rest_faults(self):
        first, second = self.stream(count=2)
        self.assertEqual(0, self.gerrit.faults.drop_streams()["stream_clients"])
        for client in (first, second):
            client.proc.wait(10)
            self.assertEqual(255, client.proc.returncode)

        client = self.stream()[0]
        self.gerrit.faults.pause_events()
        number = self.gerrit.push_change("demo", "master", {}, "While paused")[0]
        self.assertRaises(AssertionError, client.next_event, "patchset-created", timeout=1)
        self.gerrit.faults.resume_events()
        self.assertEqual(number, client.next_event("patchset-created")["change"]["number"])

        # A client that leaves while delivery is paused is let go at once.
        self.gerrit.faults.pause_events()
        self.gerrit.push_change("demo", "master", {}, "Held for a client that leaves")
        client.stop()
        deadline = time.monotonic() + 10
        while self.gerrit.admin("health", method="GET")["stream_clients"]:
            self.assertLess(time.monotonic(), deadline, "paused stream kept a gone client")
            time.sleep(0.2)
        self.gerrit.faults.resume_events()

        self.gerrit.faults.fail_rest(503, calls=2)
        codes = [
            requests.get(f"{self.gerrit.url}/config/server/version", timeout=10).status_code
            for _ in range(3)
        ]
        self.assertEqual([503, 503, 200], codes)
        # Git traffic is not a REST call: it passes while REST calls fail.
        self.gerrit.faults.fail_rest(500, calls=1)
        self.git("ls-remote", f"{self.gerrit.url}/demo")
        self.assertEqual(500, requests.get(f"{self.gerrit.url}/changes/", timeout=10).status_code)
        self.gerrit.faults.delay_rest(0.6, calls=1)
        started = time.monotonic()
        requests.get(f"{self.gerrit.url}/config/server/version", timeout=10)
        self.assertGreaterEqual(time.monotonic() - started, 0.6)
        started = time.monotonic()
        requests.get(f"{self.gerrit.url}/config/server/version", timeout=10)
        self.assertLess(time.monotonic() - started, 0.5)
