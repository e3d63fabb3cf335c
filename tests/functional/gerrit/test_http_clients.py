"""HTTP as real clients meet it: curl probes and pygerrit2, against Gerrit 3.10's rules.

Keep-alive retries after a 401 or an injected 503 (the refused body must not be
read as the next request), body caps before any handler (negative
Content-Length, oversized and chunked bodies), Basic only (digest refused),
bad encodings answered 401, pygerrit2's single-quoted review bodies accepted as
Gerrit's lenient parser does, and ``label:`` queries.
"""

import base64
import json
import os
import subprocess
import urllib.parse

from pygerrit2 import GerritRestAPI, HTTPBasicAuth
from requests.exceptions import HTTPError

from tests.functional.gerrit.base import EmulatorTestCase


class TestHTTPClients(EmulatorTestCase):
    def setUp(self):
        super().setUp()
        self.gerrit.add_account("dev", "Dev Eloper", "dev@example.com", http_password="dev-pw")
        self.number, _, _ = self.gerrit.push_change("demo", "master", {"a.py": "1\n"}, "Fix")
        self.review_url = f"{self.gerrit.url}/a/changes/{self.number}/revisions/current/review"
        self.body = os.path.join(self.work, "review.json")
        with open(self.body, "w") as f:
            json.dump({"message": "looks fine", "labels": {"Code-Review": 1}}, f)

    def curl(self, *args):
        """curl's status codes (one per URL; requests split by ``--next`` share the
        connection) and its verbose stderr."""
        common = ["-sS", "-v", "-o", "/dev/null", "-w", "%{http_code}\\n"]
        argv = ["curl", *common]
        for arg in args:
            argv += [arg, *common] if arg == "--next" else [arg]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return proc.stdout.split(), proc.stderr

    def post_args(self, user="dev", password="dev-pw"):
        return [
            "-u",
            f"{user}:{password}",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            f"@{self.body}",
            self.review_url,
        ]

    def comments(self):
        return [e for e in self.gerrit.events() if e["type"] == "comment-added"]

    def test_keep_alive_retry_after_401_and_injected_503(self):
        # A wrong password, then the right one on the same connection.
        codes, err = self.curl(*self.post_args(password="wrong"), "--next", *self.post_args())
        self.assertEqual(["401", "200"], codes, err)
        self.assertIn("Re-using existing connection", err)
        # An injected 503 ('ci-tools gerrit fault --fail 503'), then pygerrit2's retry
        # on its keep-alive session gets through.
        rest = GerritRestAPI(self.gerrit.url, auth=HTTPBasicAuth("dev", "dev-pw"))
        rest.get("/accounts/self")  # the connection the retry reuses
        self.gerrit.faults.fail_rest(503)
        review = {"message": "after 503", "labels": {"Code-Review": 1}}
        e = self.assertRaises(HTTPError, rest.review, self.number, "current", review)
        self.assertEqual(503, e.response.status_code)
        self.assertEqual({"Code-Review": 1}, rest.review(self.number, "current", review)["labels"])
        self.assertEqual(2, len(self.comments()))

    def test_bodies_are_capped_before_any_handler(self):
        big = os.path.join(self.work, "big")
        with open(big, "wb") as f:
            f.write(b"x" * (5 * 1024 * 1024))
        anonymous = f"{self.gerrit.url}/a/changes/{self.number}/revisions/current/review"
        codes, err = self.curl("--data-binary", f"@{big}", anonymous)
        self.assertEqual(["413"], codes, err)
        codes, err = self.curl(
            "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{big}", anonymous
        )
        self.assertEqual(["413"], codes, err)
        codes, err = self.curl("-H", "Content-Length: -1", "--data-binary", "{}", anonymous)
        self.assertEqual(["400"], codes, err)
        codes, err = self.curl("-H", "Content-Length: 1x", "--data-binary", "{}", anonymous)
        self.assertEqual(["400"], codes, err)
        # Anonymous git fetches read their body too: no endless read for -1 there.
        codes, err = self.curl(
            "-H",
            "Content-Length: -1",
            "-H",
            "Content-Type: application/x-git-upload-pack-request",
            "--max-time",
            "10",
            "--data-binary",
            "0000",
            f"{self.gerrit.url}/demo/git-upload-pack",
        )
        self.assertEqual(["400"], codes, err)
        # The server still answers, and nothing was posted.
        codes, _ = self.curl(f"{self.gerrit.url}/config/server/version")
        self.assertEqual(["200"], codes)
        self.assertEqual([], self.comments())

    def test_basic_only_and_bad_encodings_are_401(self):
        url = f"{self.gerrit.url}/a/accounts/self"
        codes, err = self.curl("--digest", "-u", "dev:dev-pw", url)
        self.assertEqual(["401"], codes, err)
        self.assertIn('WWW-Authenticate: Basic realm="Gerrit Code Review"', err)
        self.assertNotIn("WWW-Authenticate: Digest", err)
        self.assertEqual(["200"], self.curl("-u", "dev:dev-pw", url)[0])
        for raw in (
            "dev:pässwörd".encode(),  # a known account, a non-ASCII password
            "dev:pässwörd".encode("latin-1"),
            "dév:pw".encode(),
            b"no-colon",
        ):
            header = "Authorization: Basic " + base64.b64encode(raw).decode()
            codes, err = self.curl("-H", header, url)
            self.assertEqual(["401"], codes, f"{raw!r}: {err}")
        for header in (
            "Authorization: Basic ÿÿÿÿ",
            "Authorization: Basic !!!",
            "Authorization: Basic",
        ):
            codes, err = self.curl("-H", header, url)
            self.assertEqual(["401"], codes, f"{header}: {err}")

    def test_pygerrit2_single_quoted_review_and_label_queries(self):
        rest = GerritRestAPI(self.gerrit.url, auth=HTTPBasicAuth("dev", "dev-pw"))
        # A dict is sent as str(dict): single quotes, which Gerrit's parser accepts.
        result = rest.review(
            self.number, "current", {"message": "ok", "labels": {"Code-Review": 1}}
        )
        self.assertEqual({"Code-Review": 1}, result["labels"])
        other, _, _ = self.gerrit.push_change("demo", "master", {"b.py": "1\n"}, "Other")

        def numbers(q):
            found = rest.get("/changes/?q=" + urllib.parse.quote(q, safe=":"))
            return sorted(c["_number"] for c in found)

        self.assertEqual([self.number], numbers("label:Code-Review+1"))
        self.assertEqual([self.number], numbers("status:open label:Code-Review>=1,user=dev"))
        self.assertEqual([other], numbers("status:open label:Code-Review=NONE"))
        self.assertEqual([], numbers("label:Code-Review+1,user=admin"))
        self.assertEqual(
            400,
            self.assertRaises(
                HTTPError, rest.get, "/changes/?q=label:Nope%2B1"
            ).response.status_code,
        )
