"""A change that plants secrets and links in its logs publishes neither.

The base job's real post playbooks (collect-job-logs on the node, then
post-logs: scrub-log-secrets and publish-logs on the executor) run with
Zuul's Ansible on localhost. The node's logs hold every form of
tests/leak_forms.py (the job's own Zuul secret, a value from the node's
secrets.txt and values nobody lists: encoded, escaped, split, compressed,
truncated, in file names) and links to the executor's files, as a change
running as root on the node could leave them. The job's secret reaches the
scrubber the way zuul.d/jobs.yaml passes it: a variable named in
``scrub_log_secrets_secret_vars``.
"""

import json
import os
import shutil
import tempfile
import time

import testtools

from ci_tools.harness.playbook import run_playbook
from tests import leak_forms
from tests.functional.zuul_manifest import listed_files

BUILD = "5ec0123456789abcdef0123456789abc"
MARKER = "OUTSIDE-THE-LOG-TREE-"


class TestPlantedLeaks(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp(prefix="leaks-", dir="/var/tmp")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.node = os.path.join(self.work, "node")
        self.executor = os.path.join(self.work, "executor")
        self.log_root = os.path.join(self.executor, "logs")
        self.work_root = os.path.join(self.executor, "work")
        self.published = os.path.join(self.work, "published")
        for path in (self.log_root, self.work_root):
            os.makedirs(path)
        # the executor creates it before a job runs; zuul_return adds to it
        open(os.path.join(self.work_root, "results.json"), "w").close()
        self.forms = leak_forms.LeakForms()
        self.planted = os.path.join(self.node, "planted")
        self.timings = []
        self.addCleanup(lambda: print("\n" + ", ".join(self.timings)))
        self.plant()

    def plant(self):
        for rel, data in self.forms.files.items():
            path = os.path.join(self.planted, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        os.makedirs(os.path.join(self.node, "stack"))
        with open(os.path.join(self.node, "stack", "secrets.txt"), "w") as f:
            f.write(self.forms.listed + "\n")
        # Executor-side files a link could reach: another build's work dir.
        self.outside = os.path.join(self.executor, "other-build.txt")
        with open(self.outside, "w") as f:
            f.write(MARKER + "file\n")
        # Collected as <log_root>/localhost/planted/...: "../../../" from
        # logs/ is the executor's dir, as in the issue's
        # controller/logs/c-api.log.1 -> ../../../scrub-secrets/controller-0.txt
        os.symlink(
            "../../../../work/scrub-secrets/localhost-0.txt",
            os.path.join(self.planted, "logs", "c-api.log.1"),
        )
        os.symlink("../../../", os.path.join(self.planted, "logs", "executor"))
        os.symlink(self.outside, os.path.join(self.planted, "other-build.txt"))
        self.links = 3
        os.mkfifo(os.path.join(self.planted, "logs", "fifo"))
        # and a link where the staging dir goes: the root copies must not follow it
        self.decoy = os.path.join(self.node, "decoy")
        os.makedirs(self.decoy)
        os.makedirs(os.path.join(self.node, "home", "zuul-output"))
        os.symlink(self.decoy, os.path.join(self.node, "home", "zuul-output", "logs"))

    def extra_vars(self, log_root=None):
        return {
            "zuul": {
                "executor": {"log_root": log_root or self.log_root, "work_root": self.work_root},
                "build": BUILD,
            },
            "ansible_user_dir": os.path.join(self.node, "home"),
            "devstack_lite_dest": os.path.join(self.node, "stack"),
            "devstack_lite_etc": os.path.join(self.node, "etc"),
            "collect_job_logs_staging": os.path.join(self.node, "home", "zuul-output", "logs"),
            "collect_job_logs_extra_paths": [self.planted],
            # the job's Zuul secret, as zuul.d/jobs.yaml hands it to base's post-logs
            "refflash_ci_array": {"san_login": "ciuser", "san_password": self.forms.job},
            "scrub_log_secrets_secret_vars": ["refflash_ci_array"],
            "publish_logs_root": self.published,
            "publish_logs_url": "http://127.0.0.1/logs",
        }

    def play(self, playbook, **kwargs):
        # zuul_return (publish-logs reports the log URL) writes into the job dir
        env = {"ZUUL_JOBDIR": self.executor}
        start = time.monotonic()
        proc = run_playbook(playbook, self.work, self.extra_vars(**kwargs), env=env)
        self.timings.append(f"{playbook} {time.monotonic() - start:.0f}s")
        return proc

    def run_ok(self, playbook, **kwargs):
        proc = self.play(playbook, **kwargs)
        self.assertEqual(0, proc.returncode, proc.stdout[-4000:] + proc.stderr[-2000:])
        return proc

    def test_planted_forms_and_links_never_published(self):
        collect = self.run_ok("playbooks/base/post.yaml")
        # First a copy with a secret the scrubber cannot rewrite: the job's
        # password, URL-encoded, in a subunit stream. post-logs must fail
        # and publish nothing.
        unsafe = os.path.join(self.executor, "logs-unsafe")
        shutil.copytree(self.log_root, unsafe, symlinks=True)
        with open(os.path.join(unsafe, "localhost", "tempest.subunit"), "wb") as f:
            f.write(b"\xb3\x29\x01\x00" + leak_forms.urllib.parse.quote(self.forms.job).encode())
        failed = self.play("playbooks/base/post-logs.yaml", log_root=unsafe)
        out = failed.stdout + failed.stderr
        self.assertNotEqual(0, failed.returncode, out[-3000:])
        self.assertIn("INFRASTRUCTURE FAILURE (log scrub)", out)
        self.assertIn("localhost/tempest.subunit", out)
        self.assertFalse(os.path.exists(self.published))

        post_logs = self.run_ok("playbooks/base/post-logs.yaml")
        build_dir = os.path.join(self.published, BUILD[:2], BUILD)
        view = leak_forms.published_view(build_dir)
        survived = leak_forms.survivors(self.forms, build_dir)
        outside = [p for p, data in view.items() if MARKER.encode() in data or "LINK" in p]
        links = [p for p, data in view.items() if data.startswith(b"LINK -> ")]
        print(f"\nplanted {len(self.forms.needles)} forms and {self.links} links: "
              f"{len(survived)} forms survived, {len(outside) + len(links)} outside files "
              "or links published")  # fmt: skip
        self.assertGreaterEqual(len(self.forms.needles), 32)
        self.assertEqual({}, survived)
        self.assertEqual([], outside + links)
        self.assertEqual([], os.listdir(self.decoy))
        # zuul-web's index of the tree is published with it, written after the
        # scrub: it names only what was published (the survivors check above read it too)
        manifest = json.loads(view["zuul-manifest.json"])
        listed = listed_files(manifest)
        published = {os.path.relpath(os.path.join(d, n), build_dir)
                     for d, _, names in os.walk(build_dir) for n in names}  # fmt: skip
        self.assertEqual(published - {"zuul-manifest.json"}, listed)
        # the executor's own list of secrets stays where it was, unpublished
        self.assertTrue(os.path.exists(os.path.join(self.work_root, "scrub-secrets")))
        # what upstream reads is still there, scrubbed
        rel = "localhost/planted/logs/"
        self.assertIn(leak_forms.BENIGN.encode(), view[rel + "os-brick.log"])
        self.assertIn(b"--password ***", view[rel + "tgtd.log"])
        self.assertIn(rel + "journal.txt.gz.not-published.txt", view)
        # nor did Ansible print a secret (Zuul's job-output)
        printed = collect.stdout + post_logs.stdout + post_logs.stderr + out
        for value in (self.forms.job, self.forms.listed):
            self.assertNotIn(value, printed)
