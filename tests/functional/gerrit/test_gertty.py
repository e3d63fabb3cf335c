"""gertty 1.6.0 (from PyPI, its own venv) syncs a project and a change from the emulator.

gertty's sync code runs unmodified (its REST calls and JSON parsing, git fetch of
the change refs); only its urwid UI is left out. gertty defaults to digest auth,
which Gerrit 3.10 (and so the emulator) does not offer: it is set to basic, as
its users set it for review.opendev.org.
"""

import json
import os
import subprocess

from ci_tools.harness.zuul_daemons import kit_root
from tests.functional.gerrit.base import CHANGE_ID, EmulatorTestCase

DRIVER = os.path.join(os.path.dirname(__file__), "gertty_sync.py")


class TestGertty(EmulatorTestCase):
    def test_gertty_syncs_project_and_change(self):
        python = os.path.join(kit_root(), "gertty", "bin", "python")
        if not os.path.exists(python):
            self.fail("gertty venv missing: run tools/setup-gertty.sh")
        self.gerrit.add_account("dev", "Dev Eloper", "dev@example.com", http_password="dev-pw")
        self.gerrit.add_project("other")
        number, _, sha1 = self.gerrit.push_change(
            "demo", "master", {"a.py": "1\n"}, f"Add a\n\nChange-Id: {CHANGE_ID}\n"
        )
        _, _, sha2 = self.gerrit.new_patchset(number, {"a.py": "2\n", "b.py": "b\n"})
        self.gerrit.comment(number, "Looks fine.", labels={"Code-Review": 2})

        home = os.path.join(self.work, "gertty")
        os.makedirs(home)
        cfg = os.path.join(home, "gertty.yaml")
        with open(os.open(cfg, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            json.dump(
                {
                    "servers": [
                        {
                            "name": "emulator",
                            "url": self.gerrit.url + "/",
                            "username": "dev",
                            "password": "dev-pw",
                            "auth-type": "basic",
                            "git-root": os.path.join(home, "git"),
                            "dburi": f"sqlite:///{home}/gertty.db",
                            "log-file": os.path.join(home, "gertty.log"),
                            "lock-file": os.path.join(home, "gertty.lock"),
                            "socket": os.path.join(home, "gertty.sock"),
                        }
                    ]
                },
                f,
            )
        env = dict(os.environ, HOME=home)
        env.pop("PYTHONPATH", None)
        proc = subprocess.run(
            [python, DRIVER, cfg, "demo", "Reviewed in gertty \u2603"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        log = ""
        if os.path.exists(os.path.join(home, "gertty.log")):
            with open(os.path.join(home, "gertty.log"), errors="replace") as f:
                log = f.read()
        self.assertEqual(
            0, proc.returncode, f"{proc.stdout}\n{proc.stderr}\n--- gertty.log\n{log[-5000:]}"
        )
        # Basic credentials sent with the first request: no 401 round trip.
        self.assertIn('"GET /a/config/server/version HTTP/1.1" 200', log)
        self.assertNotIn('HTTP/1.1" 401', log)
        self.assertIn('"GET /a/accounts/self HTTP/1.1" 200', log)
        synced = json.loads(proc.stdout)
        self.assertEqual([3, 10, 0], synced["version"])
        self.assertEqual(["demo", "other"], synced["projects"])
        self.assertEqual(["master"], synced["branches"])
        (change,) = synced["changes"]
        self.assertEqual(
            (number, CHANGE_ID, "Add a", "NEW", "admin"),
            (
                change["number"],
                change["change_id"],
                change["subject"],
                change["status"],
                change["owner"],
            ),
        )
        self.assertEqual(
            [(1, sha1), (2, sha2)], [(r["number"], r["commit"]) for r in change["revisions"]]
        )
        self.assertEqual(["/COMMIT_MSG", "a.py", "b.py"], change["revisions"][1]["files"])
        self.assertIn(
            "Patch Set 2: Code-Review+2\n\nLooks fine.", change["revisions"][1]["messages"]
        )
        self.assertEqual(
            [["Code-Review", 1, "dev"], ["Code-Review", 2, "admin"]], change["approvals"]
        )
        # gertty fetched the change refs into its own clone.
        repo = os.path.join(home, "git", "demo")
        for sha in (sha1, sha2):
            subprocess.run(["git", "-C", repo, "cat-file", "-e", sha], check=True)

        # The review gertty uploaded (Basic-authenticated POST) reached the stream.
        reviews = [
            e
            for e in self.gerrit.events()
            if e["type"] == "comment-added" and e["author"]["username"] == "dev"
        ]
        self.assertEqual(1, len(reviews))
        self.assertEqual(
            "Patch Set 2: Code-Review+1\n\nReviewed in gertty \u2603", reviews[0]["comment"]
        )
        self.assertEqual("1", reviews[0]["approvals"][0]["value"])
