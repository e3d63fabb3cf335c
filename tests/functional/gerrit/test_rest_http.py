"""REST with requests (Basic auth, as Gerrit 3.10; digest refused) and git over smart HTTP."""

import json
import os
import urllib.parse

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from tests.functional.gerrit.base import CHANGE_ID, EmulatorTestCase

ZUUL_CHANGE_OPTIONS = (
    "o=DETAILED_ACCOUNTS&o=CURRENT_REVISION&o=CURRENT_COMMIT&o=CURRENT_FILES"
    "&o=LABELS&o=DETAILED_LABELS&o=ALL_REVISIONS&o=SUBMIT_REQUIREMENTS"
)


class RestTestCase(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        self.gerrit.add_account("ci", "Vendor CI", "ci@example.com", http_password="ci-pass")
        self.gerrit.grant("ci", "Verified", -1, 1)
        self.basic = HTTPBasicAuth("ci", "ci-pass")
        self.digest = HTTPDigestAuth("ci", "ci-pass")

    def get(self, path, auth=None, status=200):
        resp = requests.get(f"{self.gerrit.url}/{path}", auth=auth, timeout=10)
        self.assertEqual(status, resp.status_code, resp.text)
        if status != 200:
            return resp
        self.assertTrue(resp.text.startswith(")]}'\n"), resp.text[:20])
        return json.loads(resp.text[5:])

    def post(self, path, body, auth=None, status=200, raw=None):
        data = raw if raw is not None else json.dumps(body)
        resp = requests.post(
            f"{self.gerrit.url}/{path}",
            data=data,
            auth=auth or self.basic,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        self.assertEqual(status, resp.status_code, resp.text)
        return json.loads(resp.text[5:]) if status == 200 else resp.text


class TestRest(RestTestCase):
    def test_server_account_and_project_endpoints(self):
        self.assertEqual("3.10.0", self.get("a/config/server/version", self.basic))
        self.assertIn("change", self.get("a/config/server/info", self.basic))
        me = self.get("a/accounts/self", self.basic)
        self.assertEqual({"_account_id", "name", "email", "username"}, set(me))
        self.assertEqual("ci", me["username"])
        self.get("a/accounts/self", HTTPBasicAuth("ci", "wrong"), status=401)
        # Gerrit 3.10 offers Basic only: a digest client gets the Basic challenge.
        resp = self.get("a/accounts/self", self.digest, status=401)
        self.assertEqual('Basic realm="Gerrit Code Review"', resp.headers["WWW-Authenticate"])
        self.get("accounts/self", status=403)

        projects = self.get("projects/?d")
        self.assertEqual("Demo project", projects["demo"]["description"])
        branches = self.get("a/projects/demo/branches/", self.basic)
        self.assertIn("refs/heads/master", [b["ref"] for b in branches])
        self.assertEqual("refs/heads/master", self.get("a/projects/demo/HEAD", self.basic))
        self.get("projects/nosuch", status=404)

    def test_queries_return_lists_and_lists_of_lists(self):
        self.assertEqual([], self.get("changes/?q=status:open"))
        number, ps, sha = self.gerrit.push_change("demo", "master", {"x.py": "1\n"}, "First")
        found = self.get(
            "a/changes/?n=500&o=CURRENT_REVISION&o=CURRENT_COMMIT&q="
            + urllib.parse.quote("project:{demo} status:open"),
            self.basic,
        )
        self.assertEqual([number], [c["_number"] for c in found])
        self.assertEqual(sha, found[0]["current_revision"])
        both = self.get("a/changes/?q=project:demo+status:open&q=status:merged", self.basic)
        self.assertEqual([[number], []], [[c["_number"] for c in b] for b in both])
        self.get("changes/?q=frob:x", status=400)

    def test_change_detail_related_files_and_review(self):
        number, ps, sha = self.gerrit.push_change(
            "demo",
            "master",
            {"a.py": "one\ntwo\n", "docs/b.rst": "x\n"},
            f"Add a\n\nLonger text.\n\nChange-Id: {CHANGE_ID}\n",
        )
        detail = self.get(f"a/changes/{number}?{ZUUL_CHANGE_OPTIONS}", self.basic)
        self.assertEqual(f"demo~master~{CHANGE_ID}", detail["id"])
        self.assertEqual(
            ("demo", "master", CHANGE_ID, "NEW"),
            (detail["project"], detail["branch"], detail["change_id"], detail["status"]),
        )
        self.assertEqual("admin", detail["owner"]["username"])
        rev = detail["revisions"][detail["current_revision"]]
        self.assertEqual(sha, detail["current_revision"])
        self.assertEqual(1, rev["_number"])
        self.assertEqual(f"refs/changes/{number:02d}/{number}/1", rev["ref"])
        self.assertIn("Longer text.", rev["commit"]["message"])
        self.assertEqual(1, len(rev["commit"]["parents"]))
        self.assertIn("Verified", detail["labels"])

        self.assertEqual(
            {"changes": []}, self.get(f"a/changes/{number}/revisions/{sha}/related", self.basic)
        )
        files = self.get(f"a/changes/{number}/revisions/{sha}/files?parent=1", self.basic)
        self.assertEqual({"/COMMIT_MSG", "a.py", "docs/b.rst"}, set(files))
        self.assertEqual(("A", 2), (files["a.py"]["status"], files["a.py"]["lines_inserted"]))

        # Zuul's review: project~branch~Change-Id, the revision sha, a label and a tag.
        triplet = urllib.parse.quote(f"demo~master~{CHANGE_ID}", safe="")
        result = self.post(
            f"a/changes/{triplet}/revisions/{sha}/review",
            {
                "message": "Build succeeded.",
                "labels": {"Verified": 1},
                "tag": "autogenerated:zuul:check",
                "strict_labels": False,
            },
        )
        self.assertEqual({"labels": {"Verified": 1}}, result)
        detail = self.get(f"changes/{number}/detail")
        votes = [(a["username"], a["value"]) for a in detail["labels"]["Verified"]["all"]]
        self.assertEqual([("ci", 1)], votes)
        self.assertEqual(
            "Patch Set 1: Verified+1\n\nBuild succeeded.", detail["messages"][-1]["message"]
        )
        added = [e for e in self.gerrit.events() if e["type"] == "comment-added"]
        self.assertEqual(1, len(added))
        self.assertEqual("1", added[0]["approvals"][0]["value"])

    def test_review_refusals_and_bad_bodies(self):
        number, ps, sha = self.gerrit.push_change("demo", "master", {"x": "1"}, "X")
        path = f"a/changes/{number}/revisions/current/review"
        text = self.post(path, {"labels": {"Code-Review": 2}}, status=403)
        self.assertIn('Applying label "Code-Review": 2 is restricted', text)
        # Zuul's strict_labels=false drops what it may not vote, as upstream.
        self.assertEqual(
            {"labels": {}}, self.post(path, {"labels": {"Code-Review": 2}, "strict_labels": False})
        )
        self.assertIn("Invalid JSON", self.post(path, None, raw="{not json", status=400))
        self.assertIn("Expected JSON object", self.post(path, None, raw='"x"', status=400))
        self.assertIn("message must be a string", self.post(path, {"message": 5}, status=400))
        self.assertIn("labels must be", self.post(path, {"labels": [1]}, status=400))
        resp = requests.post(
            f"{self.gerrit.url}/changes/{number}/revisions/current/review",
            json={"message": "anon"},
            timeout=10,
        )
        self.assertEqual(401, resp.status_code)
        self.get("changes/999", status=404)
        self.assertEqual([], [e for e in self.gerrit.events() if e["type"] == "comment-added"])


class TestGitOverHTTP(RestTestCase):
    def test_clone_fetch_change_and_push_for_review(self):
        number, ps, sha = self.gerrit.push_change("demo", "master", {"f.txt": "v1\n"}, "Change")
        anon = os.path.join(self.work, "anon")
        self.git("clone", "-q", f"{self.gerrit.url}/demo", anon)
        self.git("fetch", "-q", "origin", f"refs/changes/{number:02d}/{number}/1", cwd=anon)
        self.assertEqual(sha, self.git("rev-parse", "FETCH_HEAD", cwd=anon).stdout.strip())

        # Authenticated clone (the URL Zuul's merger uses) and a push for review.
        url = f"http://ci:ci-pass@127.0.0.1:{self.gerrit.http_port}/a/demo"
        repo = os.path.join(self.work, "authed")
        self.git("clone", "-q", url, repo)
        with open(os.path.join(repo, "g.txt"), "w") as f:
            f.write("g\n")
        self.git("add", "g.txt", cwd=repo)
        self.git("commit", "-q", "-m", f"Over HTTP\n\nChange-Id: {CHANGE_ID}", cwd=repo)
        self.git("push", "-q", "origin", "HEAD:refs/for/master", cwd=repo)
        created = [e for e in self.gerrit.events() if e["type"] == "patchset-created"]
        self.assertEqual(CHANGE_ID, created[-1]["change"]["id"])
        self.assertEqual("ci", created[-1]["uploader"]["username"])

        # Anonymous pushes are asked for credentials; a bad password fails.
        proc = self.git(
            "push",
            f"http://ci:wrong@127.0.0.1:{self.gerrit.http_port}/a/demo",
            "HEAD:refs/for/master",
            cwd=repo,
            check=False,
        )
        self.assertNotEqual(0, proc.returncode)
        # A CI account may not push a branch directly.
        proc = self.git("push", "origin", "HEAD:refs/heads/master", cwd=repo, check=False)
        self.assertNotEqual(0, proc.returncode)
        self.assertIn("prohibited by Gerrit", proc.stderr)


class TestSubmitAndBranchUpdates(RestTestCase):
    def test_submit_emits_change_merged_and_ref_updated(self):
        client = self.stream()[0]
        admin = HTTPBasicAuth("admin", self.gerrit.password("admin"))
        number, _, sha = self.gerrit.push_change("demo", "master", {"m.py": "1\n"}, "Merge me")
        old = self.get("projects/demo/branches/master")["revision"]
        # The CI account may not submit a change that lacks its approvals.
        self.assertIn("submit requirement", self.post(f"a/changes/{number}/submit", {}, status=409))
        merged = self.post(f"a/changes/{number}/submit", {}, auth=admin)
        self.assertEqual("MERGED", merged["status"])
        event = client.next_event("change-merged")
        self.assertEqual(
            (number, "admin", sha),
            (event["change"]["number"], event["submitter"]["username"], event["newRev"]),
        )
        event = client.next_event("ref-updated")
        self.assertEqual(
            {"oldRev": old, "newRev": sha, "refName": "refs/heads/master", "project": "demo"},
            event["refUpdate"],
        )
        self.assertEqual(sha, self.get("projects/demo/branches/master")["revision"])
        self.assertEqual([], self.get("changes/?q=status:open"))
        self.post(f"a/changes/{number}/submit", {}, auth=admin, status=409)

        # gerrit review --submit over SSH on a second change: a merge on the moved branch.
        second, ps, _ = self.gerrit.push_change("demo", "master", {"n.py": "2\n"}, "Second")
        proc = self.ssh(
            "gerrit",
            "review",
            "--code-review",
            "2",
            "--verified",
            "1",
            "--workflow",
            "1",
            "--submit",
            f"{second},{ps}",
        )
        self.assertEqual(0, proc.returncode, proc.stderr)
        self.assertEqual(second, client.next_event("change-merged")["change"]["number"])
        self.assertEqual("MERGED", self.get(f"changes/{second}")["status"])

    def test_admin_branch_push_emits_ref_updated(self):
        client = self.stream()[0]
        repo = os.path.join(self.work, "direct")
        self.git("clone", "-q", self.ssh_url(), repo, env=self.git_ssh_env())
        self.git("commit", "-q", "--allow-empty", "-m", "Direct", cwd=repo)
        self.git(
            "push",
            "-q",
            "origin",
            "HEAD:refs/heads/stable/2025.1",
            cwd=repo,
            env=self.git_ssh_env(),
        )
        event = client.next_event("ref-updated")
        self.assertEqual(
            ("refs/heads/stable/2025.1", "0" * 40),
            (event["refUpdate"]["refName"], event["refUpdate"]["oldRev"]),
        )
        branches = [b["ref"] for b in self.get("projects/demo/branches/")]
        self.assertIn("refs/heads/stable/2025.1", branches)
