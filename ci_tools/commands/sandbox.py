"""``ci-tools sandbox``: the whole CI loop on this machine.

``up`` starts every part (Gerrit emulator, reference array, log server,
Zuul, static node), pushes a change to openstack/cinder as an upstream
developer would, waits for the CI's comment and prints it. With ``--once``
it then stops everything; otherwise it stays in the foreground (recheck,
push more changes from another shell) until Ctrl-C or ``sandbox down``.
"""

import json
import os
import signal
import threading

from ci_tools.errors import ServiceError, UsageError
from ci_tools.harness.process import pid_alive, stop_supervisor

DEMO_FILE = "cinder/volume/manager.py"
DEMO_LINE = "# Sandbox change: proves the CI loop end to end.\n"


def add_subparser(subparsers):
    parser = subparsers.add_parser("sandbox", help="run the whole CI loop on this machine")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start everything, push a change, print the CI's comment")
    up.add_argument("--work-dir", default=_default_work_dir())
    up.add_argument("--repo", default=os.getcwd(), help="this config repo (default: cwd)")
    up.add_argument("--once", action="store_true", help="stop everything after the report")
    up.add_argument("--no-change", action="store_true", help="start the loop, push nothing")
    up.add_argument("--timeout", type=int, default=3600, help="seconds to wait for the report")
    up.set_defaults(func=cmd_up)
    for name, func, text in (("status", cmd_status, "what runs where"),
                             ("down", cmd_down, "stop a running sandbox")):  # fmt: skip
        p = sub.add_parser(name, help=text)
        p.add_argument("--work-dir", default=_default_work_dir())
        p.set_defaults(func=func)


def _default_work_dir():
    return os.environ.get("CI_KIT_SANDBOX_DIR", "/var/tmp/cinder-ci-sandbox")


def _demo_change(sandbox):
    source = os.path.join(sandbox.gerrit.work_dir, "seed", "openstack/cinder", DEMO_FILE)
    with open(source) as f:
        text = f.read()
    return {DEMO_FILE: DEMO_LINE + text}


def cmd_up(args):
    from ci_tools.sandbox.loop import Sandbox

    if os.path.exists(os.path.join(args.work_dir, "sandbox.json")):
        raise UsageError(f"a sandbox runs in {args.work_dir}: `ci-tools sandbox down` first")
    sandbox = Sandbox(args.repo, args.work_dir)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    sandbox.up()
    try:
        sandbox.reconcile_forever()
        if sandbox.site["voting"]:
            sandbox.vote_guard_forever()
        print(f"[sandbox] zuul:   {sandbox.stack.web_url}/t/{sandbox.tenant.tenant}/status")
        print(f"[sandbox] gerrit: {sandbox.emulator.url}")
        print(f"[sandbox] logs:   {sandbox.logserver.url}", flush=True)
        if not args.no_change:
            with sandbox.progress.phase("change", "push a change to openstack/cinder"):
                change = sandbox.push_change(_demo_change(sandbox), "Sandbox: exercise the CI")
            number = change[0]
            with sandbox.progress.phase("report", f"wait for the CI's comment on change {number}"):
                report = sandbox.wait_for_report(number, timeout=args.timeout)
            print("\n" + report["message"] + "\n", flush=True)
            if sandbox.site["voting"]:
                print(f"[sandbox] vote: {sandbox.wait_for_vote(number) or 'none'}", flush=True)
        if not args.once:
            print("[sandbox] running; Ctrl-C or `ci-tools sandbox down` stops it", flush=True)
            while not stop.wait(2):
                sandbox.stack._check_alive()
    finally:
        sandbox.down()
        print("[sandbox] everything stopped")
    return 0


def _state(work_dir):
    try:
        with open(os.path.join(work_dir, "sandbox.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        raise UsageError(f"no sandbox running in {work_dir}") from None


def cmd_status(args):
    state = _state(args.work_dir)
    alive = pid_alive(state["pid"])
    print(f"sandbox pid {state['pid']}: {'running' if alive else 'STOPPED'}")
    for key in ("gerrit", "zuul", "array", "logs"):
        print(f"{key:8} {state[key]}")
    return 0 if alive else 1


def cmd_down(args):
    state = _state(args.work_dir)
    pid = state["pid"]
    if not pid_alive(pid):
        os.unlink(os.path.join(args.work_dir, "sandbox.json"))
        raise ServiceError(f"sandbox process {pid} is gone; removed its stale state")
    stop_supervisor(pid, "sandbox", 120)
    print("stopped")
    return 0
