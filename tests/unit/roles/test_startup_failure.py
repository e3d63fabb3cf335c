"""A Cinder that does not start: the change's code defect, or the node's trouble?"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import testtools

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PATH = os.path.join(REPO_ROOT, "roles", "devstack-lite", "files", "startup_failure.py")
_spec = importlib.util.spec_from_file_location("startup_failure", PATH)
startup = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(startup)

# gunicorn's c-api log after a change emptied cinder/volume/api.py (seen in the sandbox)
C_API_IMPORT = """\
[2026-11-23 15:48:20 +0000] [17126] [ERROR] Exception in worker process
Traceback (most recent call last):
  File "{venv}/site-packages/gunicorn/arbiter.py", line 608, in spawn_worker
    worker.init_process()
  File "{src}/cinder/api/v3/volumes.py", line 62, in __init__
    self.volume_api = cinder_volume.API()
                      ^^^^^^^^^^^^^^^^^^^
  File "{venv}/site-packages/oslo_utils/importutils.py", line 35, in import_class
    raise ImportError(
ImportError: Class API cannot be found (['Traceback (most recent call last):...'])
[2026-11-23 15:48:21 +0000] [17123] [ERROR] Reason: Worker failed to boot.
"""

# The same, when gunicorn's arbiter logs its own traceback last (the worker died
# while the arbiter was halting; seen in the sandbox's FC job under load)
C_API_IMPORT_THEN_HALT = (
    C_API_IMPORT
    + """\
Traceback (most recent call last):
  File "{venv}/site-packages/gunicorn/arbiter.py", line 228, in run
    self.manage_workers()
  File "{venv}/site-packages/gunicorn/arbiter.py", line 641, in reap_workers
    raise HaltServer(reason, self.WORKER_BOOT_ERROR)
gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/stack/venv/bin/gunicorn", line 8, in <module>
    sys.exit(run())
  File "{venv}/site-packages/gunicorn/arbiter.py", line 641, in reap_workers
    raise HaltServer(reason, self.WORKER_BOOT_ERROR)
gunicorn.errors.HaltServer: <HaltServer 'Worker failed to boot.' 3>
"""
)

# cinder-volume through oslo.log, a syntax error in the change's driver path
C_VOL_SYNTAX = """\
2026-11-23 15:48:20.123 4242 CRITICAL cinder [-] Unhandled error: SyntaxError: bad
2026-11-23 15:48:20.123 4242 ERROR cinder Traceback (most recent call last):
2026-11-23 15:48:20.123 4242 ERROR cinder   File "{src}/cinder/cmd/volume.py", line 30, in <module>
2026-11-23 15:48:20.123 4242 ERROR cinder     from cinder.volume import manager
2026-11-23 15:48:20.123 4242 ERROR cinder   File "{src}/cinder/volume/manager.py", line 101
2026-11-23 15:48:20.123 4242 ERROR cinder     def broken(
2026-11-23 15:48:20.123 4242 ERROR cinder               ^
2026-11-23 15:48:20.123 4242 ERROR cinder SyntaxError: '(' was never closed
"""

# the node's database is down: cinder's frames, but not a code defect
C_API_DB_DOWN = """\
Traceback (most recent call last):
  File "{src}/cinder/db/sqlalchemy/api.py", line 210, in get_session
    except AttributeError:
  File "{venv}/site-packages/oslo_db/sqlalchemy/engines.py", line 90, in create_engine
    raise DBConnectionError("connection refused")
oslo_db.exception.DBConnectionError: (pymysql.err.OperationalError) (2003, "Can't connect")
"""

# a code defect outside the change's tree (a broken library on the node)
LIBRARY_DEFECT = """\
Traceback (most recent call last):
  File "{venv}/site-packages/oslo_config/cfg.py", line 10, in <module>
    import missing_thing
ModuleNotFoundError: No module named 'missing_thing'
"""


# The change's own code raises, and words its message as the CI's trouble
C_API_CLAIMS_INFRA = """\
Traceback (most recent call last):
  File "{venv}/site-packages/gunicorn/arbiter.py", line 608, in spawn_worker
    worker.init_process()
  File "{src}/cinder/volume/api.py", line 70, in <module>
    raise RuntimeError("INFRASTRUCTURE FAILURE (array unreachable); not caused by this change")
RuntimeError: INFRASTRUCTURE FAILURE (array unreachable); not caused by this change
"""

# a library release whose import breaks, reached through Cinder's tree: a
# suspect for the change (pre.yaml's start without the change decides)
C_MANAGE_BROKEN_LIBRARY = """\
Traceback (most recent call last):
  File "{src}/cinder/cmd/manage.py", line 80, in <module>
    from cinder import objects
  File "{src}/cinder/objects/base.py", line 25, in <module>
    from oslo_versionedobjects import base
  File "{venv}/site-packages/oslo_versionedobjects/__init__.py", line 3, in <module>
    from oslo_versionedobjects._gone_in_this_release import base
ModuleNotFoundError: No module named 'oslo_versionedobjects._gone_in_this_release'
"""


class TestStartupFailure(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.work = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.work)
        self.src = os.path.join(self.work, "src", "opendev.org", "openstack", "cinder")
        self.logs = os.path.join(self.work, "logs")
        os.makedirs(self.src)
        os.makedirs(self.logs)

    def log(self, service, template, mtime=None):
        path = os.path.join(self.logs, f"{service}.log")
        with open(path, "w") as f:
            f.write(template.format(src=self.src, venv="/opt/stack/venv/lib/python3.11"))
        if mtime:
            os.utime(path, (mtime, mtime))

    def classify(self):
        return startup.classify(self.logs, [self.src, ""])

    def test_import_error_through_the_change_is_the_change(self):
        self.log("c-api", C_API_IMPORT)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("c-api", found["service"])
        self.assertEqual("cinder/api/v3/volumes.py", found["file"])
        self.assertEqual("ImportError: Class API cannot be found", found["error"])

    def test_import_error_before_gunicorns_own_traceback_is_the_change(self):
        self.log("c-api", C_API_IMPORT_THEN_HALT)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("cinder/api/v3/volumes.py", found["file"])
        self.assertEqual("ImportError: Class API cannot be found", found["error"])

    def test_gunicorns_halt_alone_is_not_the_change(self):
        halt_only = C_API_IMPORT_THEN_HALT[len(C_API_IMPORT) :]
        self.log("c-api", halt_only)
        # gunicorn's own error names no defect of anyone's code
        self.assertEqual({"change": False}, self.classify())

    def test_syntax_error_in_oslo_log_format(self):
        self.log("c-vol", C_VOL_SYNTAX)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("cinder/volume/manager.py", found["file"])
        self.assertEqual("SyntaxError: '(' was never closed", found["error"])

    def test_database_down_stays_infrastructure(self):
        # The source line "except AttributeError:" is not the error.
        self.log("c-api", C_API_DB_DOWN)
        found = self.classify()
        self.assertFalse(found["change"], found)
        self.assertIn("DBConnectionError", found["error"])

    def test_the_change_raising_any_exception_itself_is_the_change(self):
        # Issue 16: the exception's words do not matter, nor its type, when the
        # change's own code raised it.
        self.log("c-api", C_API_CLAIMS_INFRA)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("cinder/volume/api.py", found["file"])
        self.assertTrue(found["error"].startswith("RuntimeError: INFRASTRUCTURE FAILURE"))

    def test_a_broken_library_through_cinder_is_only_a_suspect(self):
        # The traceback passes through the tree: the change is suspected, and
        # pre.yaml's start without the change (which fails the same way) clears it.
        self.log("cinder-manage", C_MANAGE_BROKEN_LIBRARY)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("cinder/objects/base.py", found["file"])

    def test_a_defect_outside_the_change_tree_stays_infrastructure(self):
        self.log("c-sch", LIBRARY_DEFECT)
        self.assertFalse(self.classify()["change"])

    def test_a_code_defect_wins_over_a_newer_error_elsewhere(self):
        # A warm node: c-sch, left running by the last run, logs database errors
        # after c-api died of the change (seen in the sandbox's second job).
        self.log("c-api", C_API_IMPORT, mtime=1000)
        self.log("c-sch", C_API_DB_DOWN, mtime=2000)
        found = self.classify()
        self.assertTrue(found["change"], found)
        self.assertEqual("c-api", found["service"])

    def test_without_a_code_defect_the_newest_error_is_reported(self):
        self.log("c-api", LIBRARY_DEFECT, mtime=1000)
        self.log("c-vol", C_API_DB_DOWN, mtime=2000)
        found = self.classify()
        self.assertFalse(found["change"], found)
        self.assertEqual("c-vol", found["service"])

    def test_no_traceback_is_not_the_change(self):
        self.log("c-api", "[INFO] Booting worker\n")
        self.assertEqual({"change": False}, self.classify())

    def test_what_an_earlier_run_logged_does_not_count(self):
        # A warm node: the last run's change broke c-api; this run's did not.
        self.log("c-api", C_API_IMPORT)
        subprocess.run([sys.executable, PATH, "--mark", self.logs], check=True)
        with open(os.path.join(self.logs, "c-api.log"), "a") as f:
            f.write("[INFO] Booting worker with pid: 42\n")
        self.assertEqual({"change": False}, self.classify())
        with open(os.path.join(self.logs, "c-api.log"), "a") as f:
            f.write(C_API_IMPORT.format(src=self.src, venv="/v"))
        self.assertTrue(self.classify()["change"])

    def test_command_line_prints_json(self):
        self.log("c-api", C_API_IMPORT)
        proc = subprocess.run([sys.executable, PATH, self.logs, self.src],
                              capture_output=True, text=True, check=True)  # fmt: skip
        self.assertTrue(json.loads(proc.stdout)["change"])
