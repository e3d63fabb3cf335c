"""Load a role's files/ script as a module, as the role runs it on a node."""

import importlib.util
import os
import tempfile

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load_data_path_module(name):
    """roles/data-path/files/<name>.py; brick_volume makes its lock dir at
    import: keep it out of /run here."""
    os.environ.setdefault("OSLO_LOCK_PATH", tempfile.mkdtemp(prefix="brick-locks-"))
    path = os.path.join(REPO_ROOT, "roles", "data-path", "files", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
