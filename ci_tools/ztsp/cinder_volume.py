"""On a DevStack-lite node: restart the real cinder-volume on a new gold copy; wait until it serves.

The restart command ZTSP runs on a DevStack-lite node (``restart_command``),
as root, with the DevStack-lite venv's python (openstacksdk is there)::

    python -m ci_tools.ztsp.cinder_volume refresh --dest <DevStack-lite dir>

It reads ``enabled_backends`` the way cinder-volume will (cinder.conf, then
the ``--config-dir`` files in order), then:

* some backend enabled: ``supervisorctl restart c-vol``; waits until c-vol's
  log, from the restart on, says "Driver initialization completed
  successfully." once per enabled backend (cinder's volume manager logs it
  after ``do_setup``/``check_for_setup_error``; "Failed to initialize driver."
  fails at once, with the exception line), and until the Cinder API lists
  ``cinder-volume`` on ``<host>@<backend>`` up; then makes sure a volume
  type named after the backend (``volume_backend_name``) exists, so users
  can create volumes on it.
* no backend enabled: ``supervisorctl stop c-vol``. cinder-volume with no
  ``enabled_backends`` would start cinder's LVM default, which a storage CI
  must never run (configure-cinder-backend refuses it for the same reason).

Backends whose section is in the gold copy but not enabled (link down) lose
their cinder-volume process, so their service stops reporting and Cinder
shows it ``down`` after ``service_down_time`` (the lab sets 10 s); the
scheduler places nothing there and volumes stay where they are, on the array
and in Cinder. They are not *disabled* through the API on purpose: cinder
29's ``PUT os-services/enable`` answers ``enabled`` but does not clear the
flag (its handler never sets ``disabled = False``), so a disabled backend
would stay disabled after the cable came back.

Prints ``ztsp:backends {json}`` (state, service and wall-clock marks per
backend), which the controller records, and ``ztsp:error ...`` lines with
exit 1 when a backend does not come up: ``deliver`` then restores the
previous gold copy and runs this again.
"""

import argparse
import configparser
import glob
import json
import os
import subprocess
import sys
import time

INIT_OK = "Driver initialization completed successfully."
INIT_FAILED = "Failed to initialize driver."


def read_backends(config_file, config_dir):
    """(enabled backends, every backend section) as cinder-volume will see them."""
    files = [config_file] if config_file else []
    files += sorted(glob.glob(os.path.join(config_dir, "*.conf")))
    enabled = []
    sections = set()
    for path in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read(path)
        if parser.has_option("DEFAULT", "enabled_backends"):
            value = parser.get("DEFAULT", "enabled_backends")
            enabled = [b.strip() for b in value.split(",") if b.strip()]
        if path != config_file:
            sections.update(parser.sections())
    return enabled, sections


class Node:
    def __init__(self, dest):
        self.dest = dest
        self.ctl = [
            os.path.join(dest, "venv", "bin", "supervisorctl"),
            "-c",
            os.path.join(dest, "supervisord.conf"),
        ]
        self.log = os.path.join(dest, "logs", "c-vol.log")
        self._conn = None

    def supervisorctl(self, *args):
        proc = subprocess.run([*self.ctl, *args], capture_output=True, text=True, timeout=120)
        out = (proc.stdout + proc.stderr).strip()
        if "ERROR (spawn error)" in out or "FATAL" in out or "no such" in out:
            raise RuntimeError(f"supervisorctl {' '.join(args)}: {out}")
        return out

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(self.log, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    @property
    def conn(self):
        if self._conn is None:
            os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(self.dest, "clouds.yaml")
            import openstack

            self._conn = openstack.connect(cloud="devstack-admin")
        return self._conn

    def volume_services(self):
        return {
            svc.host.split("@", 1)[1]: svc
            for svc in self.conn.block_storage.services(binary="cinder-volume")
            if "@" in svc.host
        }

    def ensure_type(self, name):
        if self.conn.block_storage.find_type(name, ignore_missing=True) is None:
            self.conn.block_storage.create_type(
                name=name, extra_specs={"volume_backend_name": name}
            )
            return True
        return False


def init_failure(text):
    """The exception line after cinder's "Failed to initialize driver.", if any."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if INIT_FAILED in line:
            tail = [ln for ln in lines[i + 1 : i + 40] if ln.strip()]
            errors = [ln.strip() for ln in tail if "Error" in ln or "Exception" in ln]
            return (errors[-1] if errors else line.strip())[-300:]
    return None


def cmd_refresh(args):
    node = Node(args.dest)
    enabled, sections = read_backends(args.config_file, args.config_dir)
    disabled = sorted(sections - set(enabled))
    result = {}
    offset = node.log_size()
    restarted = time.time()
    if enabled:
        node.supervisorctl("restart", "c-vol")
    else:
        node.supervisorctl("stop", "c-vol")
    services = node.volume_services()
    for backend in disabled:
        svc = services.get(backend)
        result[backend] = {
            "state": "disabled",
            "service": svc.host if svc is not None else None,
            "restarted": restarted,
        }
    errors = {}
    deadline = time.monotonic() + args.timeout
    waiting = list(enabled)
    while waiting:
        text = node.log_since(offset)
        failure = init_failure(text)
        if failure:
            errors = {b: f"cinder-volume: driver failed to start: {failure}" for b in waiting}
            break
        started = text.count(INIT_OK) >= len(enabled)
        services = node.volume_services() if started else {}
        for backend in list(waiting):
            svc = services.get(backend)
            if svc is None or svc.state != "up":
                continue
            result[backend] = {
                "state": "up",
                "service": svc.host,
                "restarted": restarted,
                "up": time.time(),
                "volume_type_created": node.ensure_type(backend),
            }
            waiting.remove(backend)
        if not waiting:
            break
        if time.monotonic() > deadline:
            why = "no driver start in c-vol's log" if not started else "service not up"
            errors = {b: f"cinder-volume not up after {args.timeout:.0f}s ({why})" for b in waiting}
            break
        time.sleep(0.5)
    for backend, error in errors.items():
        result[backend] = {"state": "error", "error": error, "restarted": restarted}
    print("ztsp:backends " + json.dumps(result, sort_keys=True), flush=True)
    for backend, error in sorted(errors.items()):
        print(f"ztsp:error backend {backend}: {error}", flush=True)
    return 1 if errors else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ztsp-cinder-volume")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("refresh", help="restart (or stop) c-vol for the gold copy and wait")
    p.add_argument("--dest", required=True, help="the DevStack-lite deployment dir")
    p.add_argument("--config-file", help="cinder.conf (default <dest>/etc/cinder/cinder.conf)")
    p.add_argument("--config-dir", help="default <dest>/etc/cinder/cinder.conf.d")
    p.add_argument("--timeout", type=float, default=90)
    p.set_defaults(func=cmd_refresh)
    args = parser.parse_args(argv)
    etc = os.path.join(args.dest, "etc", "cinder")
    args.config_file = args.config_file or os.path.join(etc, "cinder.conf")
    args.config_dir = args.config_dir or os.path.join(etc, "cinder.conf.d")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
