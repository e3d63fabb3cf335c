"""Load a role's files/ script as a module, as the role runs it on a node."""

import atexit
import importlib.util
import os
import shutil
import tempfile
import threading

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load_data_path_module(name):
    """roles/data-path/files/<name>.py; brick_volume makes its lock dir at
    import: keep it out of /run here."""
    if "OSLO_LOCK_PATH" not in os.environ:
        # one dir per test process, gone with it (setdefault's argument made
        # one per call, and none was removed)
        locks = tempfile.mkdtemp(prefix="brick-locks-")
        atexit.register(shutil.rmtree, locks, True)
        os.environ["OSLO_LOCK_PATH"] = locks
    path = os.path.join(REPO_ROOT, "roles", "data-path", "files", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ADMIN_PASSWORD = "s3cret-pw"


def serve_reference_array(test):
    """The reference array's REST API in-process, for ``test`` (a TestCase that
    cleans it up): its model (one pool, ``pool-a``), the service (routes can be
    taken away to play an older array) and its URL; user ``admin``,
    :data:`ADMIN_PASSWORD`."""
    from ci_tools.array.model import Array
    from ci_tools.array.server import ArrayService, Audit, Auth, audit_path, make_server

    td = tempfile.TemporaryDirectory()
    test.addCleanup(td.cleanup)
    array = Array(td.name, pools={"pool-a": 10})
    service = ArrayService(array, Auth({"admin": ADMIN_PASSWORD}), Audit(audit_path(td.name)))
    server = make_server(service, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    test.addCleanup(server.server_close)
    test.addCleanup(server.shutdown)
    return array, service, f"http://127.0.0.1:{server.server_address[1]}"
