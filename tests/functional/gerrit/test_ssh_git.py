"""OpenSSH and git against the emulator's SSH server: streams, pushes, queries, reviews."""

import json
import os

from tests.functional.gerrit.base import CHANGE_ID, EmulatorTestCase


class TestStreamAndPushOverSSH(EmulatorTestCase):
    def clone(self, name="clone"):
        path = os.path.join(self.work, name)
        self.git("clone", "-q", self.ssh_url(), path, env=self.git_ssh_env())
        return path

    def commit(self, repo, message, filename="a.txt", content="hello\n"):
        with open(os.path.join(repo, filename), "w") as f:
            f.write(content)
        self.git("add", filename, cwd=repo)
        self.git("commit", "-q", "-m", message, cwd=repo)
        return self.git("rev-parse", "HEAD", cwd=repo).stdout.strip()

    def test_git_push_creates_change_seen_by_two_stream_clients(self):
        first, second = self.stream(count=2)
        repo = self.clone()
        sha = self.commit(repo, f"Add a\n\nChange-Id: {CHANGE_ID}\n")
        self.git("push", "-q", "origin", "HEAD:refs/for/master", cwd=repo, env=self.git_ssh_env())

        for client in (first, second):
            event = client.next_event("patchset-created")
            self.assertEqual("demo", event["change"]["project"])
            self.assertEqual("master", event["change"]["branch"])
            self.assertEqual(CHANGE_ID, event["change"]["id"])
            self.assertEqual(1, event["change"]["number"])
            self.assertEqual("Add a", event["change"]["subject"])
            self.assertEqual(1, event["patchSet"]["number"])
            self.assertEqual(sha, event["patchSet"]["revision"])
            self.assertEqual("refs/changes/01/1/1", event["patchSet"]["ref"])
            self.assertEqual("admin", event["uploader"]["username"])
            self.assertIn("/c/demo/+/1", event["change"]["url"])

        # Amend and push again: a second patch set of the same change.
        with open(os.path.join(repo, "a.txt"), "w") as f:
            f.write("v2\n")
        self.git(
            "commit",
            "-q",
            "-a",
            "--amend",
            "-m",
            f"Add a, better\n\nChange-Id: {CHANGE_ID}",
            cwd=repo,
        )
        sha2 = self.git("rev-parse", "HEAD", cwd=repo).stdout.strip()
        self.git("push", "-q", "origin", "HEAD:refs/for/master", cwd=repo, env=self.git_ssh_env())
        event = first.next_event("patchset-created")
        self.assertEqual((1, 2), (event["change"]["number"], event["patchSet"]["number"]))
        self.assertEqual(sha2, event["patchSet"]["revision"])

        # Pushing the same commit again is refused, as upstream.
        proc = self.git(
            "push", "origin", "HEAD:refs/for/master", cwd=repo, env=self.git_ssh_env(), check=False
        )
        self.assertNotEqual(0, proc.returncode)
        self.assertIn("no new changes", proc.stderr)

        # Fetch the change ref over SSH into a fresh clone.
        other = self.clone("other")
        self.git("fetch", "-q", "origin", "refs/changes/01/1/1", cwd=other, env=self.git_ssh_env())
        self.assertEqual(sha, self.git("rev-parse", "FETCH_HEAD", cwd=other).stdout.strip())

    def test_push_without_change_id_is_rejected(self):
        repo = self.clone()
        self.commit(repo, "No footer")
        proc = self.git(
            "push", "origin", "HEAD:refs/for/master", cwd=repo, env=self.git_ssh_env(), check=False
        )
        self.assertNotEqual(0, proc.returncode)
        self.assertRegex(
            proc.stderr,
            r"! \[remote rejected\] HEAD -> refs/for/master "
            r"\(commit [0-9a-f]{7}: missing Change-Id in message footer\)",
        )
        # The hint names this server's hook URL, not a placeholder.
        self.assertIn(
            f"curl -o ${{gitdir}}/hooks/commit-msg {self.gerrit.url}/tools/hooks/", proc.stderr
        )
        self.assertEqual([], self.gerrit.events())

    def test_push_options_in_the_ref_and_with_dash_o(self):
        repo = self.clone()
        self.commit(repo, f"Opts\n\nChange-Id: {CHANGE_ID}\n")
        proc = self.git(
            "push",
            "-o",
            "hashtag=from-o",
            "origin",
            "HEAD:refs/for/master%topic=t1,hashtag=from-ref",
            cwd=repo,
            env=self.git_ssh_env(),
        )
        self.assertIn("SUCCESS", proc.stderr)
        (row, _stats) = [
            json.loads(line)
            for line in self.ssh(
                "gerrit", "query", "--format", "JSON", "hashtag:from-o"
            ).stdout.splitlines()
        ]
        self.assertEqual(("t1", ["from-o", "from-ref"]), (row["topic"], row["hashtags"]))
        proc = self.git(
            "push",
            "origin",
            "HEAD:refs/for/master%frob",
            cwd=repo,
            env=self.git_ssh_env(),
            check=False,
        )
        self.assertIn('("--frob" is not a valid option)', proc.stderr)

    def test_push_to_unknown_branch_is_rejected(self):
        repo = self.clone()
        self.commit(repo, f"X\n\nChange-Id: {CHANGE_ID}\n")
        proc = self.git(
            "push", "origin", "HEAD:refs/for/nosuch", cwd=repo, env=self.git_ssh_env(), check=False
        )
        self.assertNotEqual(0, proc.returncode)
        self.assertIn("branch nosuch not found", proc.stderr)

    def test_wrong_key_is_refused(self):
        stranger = self.keypair("stranger")
        proc = self.ssh("gerrit", "version", key=stranger)
        self.assertEqual(255, proc.returncode)
        self.assertIn("Permission denied (publickey)", proc.stderr)
        proc = self.ssh("gerrit", "stream-events", username="nobody")
        self.assertEqual(255, proc.returncode)


class TestCommandsOverSSH(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        self.ci_key = self.keypair("ci")
        self.gerrit.add_account("ci", "Vendor CI", "ci@example.com", self.ci_key + ".pub")
        self.gerrit.grant("ci", "Verified", -1, 1)
        self.number, self.ps, self.sha = self.gerrit.push_change(
            "demo", "master", {"cinder/volume/drivers/x.py": "pass\n"}, "Add driver"
        )

    def test_version_and_ls_projects(self):
        proc = self.ssh("gerrit", "version")
        self.assertEqual((0, "gerrit version 3.10.0\n"), (proc.returncode, proc.stdout))
        proc = self.ssh("gerrit", "ls-projects")
        self.assertEqual("demo\n", proc.stdout)

    def test_query_json_has_change_rows_and_stats(self):
        proc = self.ssh(
            "gerrit",
            "query",
            "--format",
            "JSON",
            "--current-patch-set",
            "--patch-sets",
            "--all-approvals",
            "--files",
            "--commit-message",
            "--comments",
            "--dependencies",
            "--submit-records",
            f"change:{self.number}",
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        self.assertEqual(
            {"type": "stats", "rowCount": 1, "moreChanges": False},
            {k: rows[-1][k] for k in ("type", "rowCount", "moreChanges")},
        )
        row = rows[0]
        self.assertEqual(self.number, row["number"])
        self.assertTrue(row["open"])
        self.assertEqual("NEW", row["status"])
        self.assertEqual(self.sha, row["currentPatchSet"]["revision"])
        self.assertEqual(
            f"refs/changes/{self.number:02d}/{self.number}/1", row["patchSets"][0]["ref"]
        )
        self.assertIn("Change-Id: I", row["commitMessage"])
        files = [f["file"] for f in row["currentPatchSet"]["files"]]
        self.assertEqual(["/COMMIT_MSG", "cinder/volume/drivers/x.py"], files)
        self.assertEqual("NOT_READY", row["submitRecords"][0]["status"])
        # An empty result is just the stats row.
        proc = self.ssh("gerrit", "query", "--format", "JSON", "status:merged")
        self.assertEqual(
            [{"type": "stats", "rowCount": 0}],
            [{k: json.loads(x)[k] for k in ("type", "rowCount")} for x in proc.stdout.splitlines()],
        )

    def test_review_with_hostile_text_is_echoed_exactly(self):
        client = self.stream()[0]
        hostile = (
            "Build failed.\n\n$(touch /tmp/pwned) `id`; rm -rf / \"quoted\" 'single'\n"
            "\x1b[31mred\x1b[0m tab\there nul-free \u2028line sep ☃ " + "x" * 20000
        )
        import shlex

        proc = self.ssh(
            "gerrit",
            "review",
            "--project",
            "demo",
            "--message",
            shlex.quote(hostile),
            "--label",
            "Verified=-1",
            "--tag",
            "autogenerated:zuul:check",
            f"{self.number},{self.ps}",
            username="ci",
            key=self.ci_key,
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        event = client.next_event("comment-added")
        self.assertEqual(f"Patch Set 1: Verified-1\n\n{hostile}", event["comment"])
        self.assertEqual(
            [{"type": "Verified", "description": "Verified", "value": "-1", "oldValue": "0"}],
            event["approvals"],
        )
        self.assertEqual("ci", event["author"]["username"])
        self.assertFalse(os.path.exists("/tmp/pwned"))

    def test_label_outside_grant_is_refused(self):
        proc = self.ssh(
            "gerrit",
            "review",
            "--label",
            "Code-Review=2",
            f"{self.number},1",
            username="ci",
            key=self.ci_key,
        )
        self.assertEqual(1, proc.returncode)
        self.assertIn('Applying label "Code-Review": 2 is restricted', proc.stderr)

    def test_unknown_commands_and_options_answer_like_gerrit(self):
        proc = self.ssh("gerrit", "frobnicate")
        self.assertEqual(
            (1, "fatal: gerrit: frobnicate: not found\n"), (proc.returncode, proc.stderr)
        )
        proc = self.ssh("gerrit", "query", "--bogus", "status:open")
        self.assertEqual(
            (1, 'fatal: "--bogus" is not a valid option\n'), (proc.returncode, proc.stderr)
        )
        proc = self.ssh("rm", "-rf", "/")
        self.assertEqual(
            (1, "fatal: Gerrit Code Review: rm: not found\n"), (proc.returncode, proc.stderr)
        )
        proc = self.ssh("gerrit", "query", "--format", "JSON", "frob:nicate")
        self.assertEqual(1, proc.returncode)
        self.assertEqual("error", json.loads(proc.stdout.splitlines()[0])["type"])
