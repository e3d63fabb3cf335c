"""Gerrit 3.10's permissions, with real clients: abandon and restore (owner, or the
Abandon permission), the Stream Events capability, and groups over REST and SSH.
"""

import json
import urllib.parse

import requests

from tests.functional.gerrit.base import EmulatorTestCase


class TestPermissions(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        self.dev_key = self.keypair("dev")
        self.other_key = self.keypair("other")
        self.gerrit.add_account("dev", "Dev", "dev@example.com", self.dev_key + ".pub", "dev-pw")
        self.gerrit.add_account(
            "other", "Other", "other@example.com", self.other_key + ".pub", "other-pw"
        )

    def post(self, path, body, user, password):
        resp = requests.post(
            f"{self.gerrit.url}/a/{path}", json=body, auth=(user, password), timeout=10
        )
        return resp.status_code, resp.text

    def get(self, path, auth=None):
        prefix = "a/" if auth else ""
        resp = requests.get(f"{self.gerrit.url}/{prefix}{path}", auth=auth, timeout=10)
        self.assertEqual(200, resp.status_code, resp.text)
        return json.loads(resp.text[5:])

    def test_abandon_and_restore_need_owner_or_abandon_permission(self):
        stream = self.stream()[0]
        number, _, _ = self.gerrit.push_change("demo", files={"a": "1\n"}, account="dev")
        # Anyone else: refused over REST and SSH, and nothing happens.
        self.assertEqual(
            (403, "abandon not permitted\n"),
            self.post(f"changes/{number}/abandon", {}, "other", "other-pw"),
        )
        proc = self.ssh(
            "gerrit", "review", "--abandon", f"{number},1", username="other", key=self.other_key
        )
        self.assertEqual(1, proc.returncode)
        self.assertIn("error: abandon not permitted", proc.stderr)
        self.assertEqual("NEW", self.get(f"changes/{number}")["status"])

        # The owner abandons; restore is refused to others as well.
        code, text = self.post(f"changes/{number}/abandon", {"message": "later"}, "dev", "dev-pw")
        self.assertEqual(200, code, text)
        event = stream.next_event("change-abandoned")
        self.assertEqual(("dev", "later"), (event["abandoner"]["username"], event["reason"]))
        self.assertEqual(
            (403, "restore not permitted\n"),
            self.post(f"changes/{number}/restore", {}, "other", "other-pw"),
        )
        # With the Abandon permission through a group, "other" may restore (SSH).
        self.gerrit.add_group("Core", members=["other"])
        self.gerrit.grant_permission("abandon", group="Core", project="demo")
        proc = self.ssh(
            "gerrit",
            "review",
            "--restore",
            "-m",
            "back",
            f"{number},1",
            username="other",
            key=self.other_key,
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        event = stream.next_event("change-restored")
        self.assertEqual(
            ("other", "back", "NEW"),
            (event["restorer"]["username"], event["reason"], event["change"]["status"]),
        )
        self.assertEqual(
            (409, "change is new\n"), self.post(f"changes/{number}/restore", {}, "dev", "dev-pw")
        )
        messages = [m["message"] for m in self.get(f"changes/{number}/messages")]
        self.assertEqual(["Abandoned\n\nlater", "Restored\n\nback"], messages[-2:])

    def test_stream_events_capability_and_groups(self):
        proc = self.ssh("gerrit", "stream-events", username="dev", key=self.dev_key)
        self.assertEqual(1, proc.returncode)
        self.assertIn("fatal: not permitted: stream events", proc.stderr)
        caps = self.get("accounts/self/capabilities", ("dev", "dev-pw"))
        self.assertNotIn("streamEvents", caps)

        self.gerrit.add_group("Third-Party CI", members=["dev"])
        self.assertTrue(self.get("accounts/self/capabilities", ("dev", "dev-pw"))["streamEvents"])
        client = self.stream("dev", self.dev_key)[0]
        number, _, _ = self.gerrit.push_change("demo", files={"b": "1\n"})
        self.assertEqual(number, client.next_event("patchset-created")["change"]["number"])

        # Groups: the visible-to-all CI group and its members; a private group only
        # for its members (and administrators).
        self.gerrit.add_group("Core", members=["other"], description="core reviewers")
        groups = self.get("groups/", ("dev", "dev-pw"))
        self.assertEqual(["Third-Party CI"], sorted(groups))
        uuid = groups["Third-Party CI"]["id"]
        for ident in (uuid, "Third-Party CI", str(groups["Third-Party CI"]["group_id"])):
            members = self.get(f"groups/{urllib.parse.quote(ident)}/members/", ("dev", "dev-pw"))
            self.assertEqual(["dev"], [m["username"] for m in members])
        self.assertEqual(
            ["Core", "Third-Party CI"], sorted(self.get("groups/", ("other", "other-pw")))
        )
        resp = requests.get(
            f"{self.gerrit.url}/a/groups/Core/members/", auth=("dev", "dev-pw"), timeout=10
        )
        self.assertEqual(404, resp.status_code)
        admin = ("admin", self.gerrit.password("admin"))
        self.assertEqual("core reviewers", self.get("groups/Core", admin)["description"])
        self.assertEqual(
            ["Third-Party CI"], [g["name"] for g in self.get("accounts/dev/groups", admin)]
        )

        proc = self.ssh("gerrit", "ls-groups")
        self.assertEqual(["Core", "Third-Party CI"], proc.stdout.split("\n")[:-1])
        proc = self.ssh("gerrit", "ls-members", "Third-Party CI", username="dev", key=self.dev_key)
        self.assertEqual(0, proc.returncode, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertEqual("id\tusername\tfull name\temail", lines[0])
        self.assertEqual(["dev", "Dev", "dev@example.com"], lines[1].split("\t")[1:])
        proc = self.ssh("gerrit", "ls-members", "Core", username="dev", key=self.dev_key)
        self.assertEqual(1, proc.returncode)
        self.assertIn("Group not found or not visible", proc.stderr)
