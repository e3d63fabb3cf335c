"""``ci-tools services``: run the real Zuul stack (ZooKeeper, PostgreSQL, Zuul) in a work dir.

``up`` stays in the foreground and stops everything on Ctrl-C or SIGTERM, so
no service outlives it; ``status`` and ``down`` act on a running ``up`` from
another shell through ``<work-dir>/stack.json``.
"""

import json
import os
import signal
import threading

import requests

from ci_tools.errors import ServiceError, UsageError
from ci_tools.harness.process import pid_alive, stop_supervisor
from ci_tools.harness.stack import ZuulStack
from ci_tools.harness.zuul_daemons import SERVICES


def add_subparser(subparsers):
    parser = subparsers.add_parser("services", help="run the Zuul service stack on loopback")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    up = sub.add_parser("up", help="start the stack and keep it running until Ctrl-C")
    up.add_argument("--work-dir", required=True, help="state, config and logs of every service")
    up.add_argument("--tenant-config", required=True, help="Zuul tenant file (main.yaml)")
    up.add_argument(
        "--connections",
        help="YAML mapping of Zuul connection name -> options for zuul.conf",
    )
    up.add_argument(
        "--services",
        default=",".join(SERVICES),
        help=f"comma-separated subset of {','.join(SERVICES)}",
    )
    up.set_defaults(func=cmd_up)

    status = sub.add_parser("status", help="health of a running stack")
    status.add_argument("--work-dir", required=True)
    status.set_defaults(func=cmd_status)

    down = sub.add_parser("down", help="stop a running stack")
    down.add_argument("--work-dir", required=True)
    down.set_defaults(func=cmd_down)


def _load_connections(path):
    if not path:
        return {}
    import yaml

    try:
        with open(path) as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"{path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UsageError(f"{path}: expected a mapping of connection name -> options")
    return data


def cmd_up(args):
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    unknown = set(services) - set(SERVICES)
    if unknown:
        raise UsageError(f"unknown services: {', '.join(sorted(unknown))}")
    stack = ZuulStack(
        args.work_dir, args.tenant_config, _load_connections(args.connections), services
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack.start()
    _record_supervisor(args.work_dir)
    print(f"zuul-web: {stack.web_url}  logs: {os.path.join(stack.work_dir, 'logs')}")
    print("Ctrl-C stops every service.", flush=True)
    try:
        while not stop.wait(2):
            stack._check_alive()
    finally:
        stack.stop()
        print("all services stopped")
    return 0


def _state(work_dir):
    path = os.path.join(work_dir, "stack.json")
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"no stack in {work_dir} (no stack.json)") from None


def _record_supervisor(work_dir):
    path = os.path.join(work_dir, "stack.json")
    state = _state(work_dir)
    state["supervisor_pid"] = os.getpid()
    with open(path, "w") as f:
        json.dump(state, f, indent=2)


def cmd_status(args):
    state = _state(args.work_dir)
    ok = True
    for name, pid in sorted(state.get("pids", {}).items()):
        alive = bool(pid) and pid_alive(pid)
        ok &= alive
        print(f"{name:16} pid {pid}: {'running' if alive else 'STOPPED'}")
    try:
        components = requests.get(state["web_url"] + "/api/components", timeout=5).json()
        for kind, items in sorted(components.items()):
            for item in items:
                print(f"zuul {kind:12} {item.get('hostname')}: {item.get('state')}")
    except (requests.RequestException, ValueError) as exc:
        ok = False
        print(f"zuul-web {state.get('web_url')}: not answering ({exc})")
    return 0 if ok else 1


def cmd_down(args):
    state = _state(args.work_dir)
    pid = state.get("supervisor_pid")
    if not pid or not pid_alive(pid):
        raise ServiceError(f"no running `ci-tools services up` for {args.work_dir}")
    stop_supervisor(pid, "supervisor", 90)
    print("stopped")
    return 0
