"""``ci-tools sandbox``: the whole CI loop on this machine.

``up`` starts every part (Gerrit emulator, reference array, log server,
Zuul, static node), pushes a change to openstack/cinder as an upstream
developer would, waits for the CI's comment and prints it. With ``--once``
it then stops everything; otherwise it stays in the foreground (recheck,
push more changes from another shell) until Ctrl-C or ``sandbox down``.
"""

import json
import os
import shutil
import signal
import stat
import time

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
    up.add_argument(
        "--no-compute-node",
        dest="compute_node",
        action="store_false",
        help="skip the compute node VM, the array's FC data-plane VM and the jobs' "
        "data-path phase (FC is then records only)",
    )
    up.add_argument(
        "--periodic-time",
        metavar="CRON",
        help="fire the periodic canary by this cron time (UTC); by default it "
        "runs only when enqueued, never ahead of your change",
    )
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


def _prepare_work_dir(work_dir, node_dest):
    """Refuse a work dir someone else owns; stop what an earlier sandbox left
    behind (its supervisor killed, or never stopped); start from clean state.

    A clean Zuul state matters: ZooKeeper's data of an earlier run may still
    hold the static node as ``used``, and every job would wait for a node."""
    from ci_tools.sandbox import reaper

    if os.path.lexists(work_dir):
        st = os.lstat(work_dir)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            raise UsageError(
                f"{work_dir} exists and is not a directory of this user (uid {os.geteuid()}); "
                "choose another --work-dir"
            )
    state_path = os.path.join(work_dir, "sandbox.json")
    pid = netns = None
    if os.path.exists(state_path):
        try:
            with open(state_path) as f:
                state = json.load(f)
            pid, netns = state.get("pid"), state.get("data_plane_netns")
        except (OSError, ValueError):
            pass
        if pid and pid_alive(pid):
            raise UsageError(f"a sandbox runs in {work_dir} (pid {pid}): `ci-tools sandbox down`")
    if reaper.sessions_of(work_dir) or os.path.exists(state_path):
        print(f"[sandbox] an earlier sandbox in {work_dir} did not stop; stopping what it left",
              flush=True)  # fmt: skip
    left = reaper.reap(work_dir, node_dest, netns=netns)
    if left:
        raise ServiceError("cannot stop an earlier sandbox's processes: " + "; ".join(left))
    if os.path.isdir(work_dir):
        shutil.rmtree(work_dir)


def cmd_up(args):
    from ci_tools.sandbox.diagnose import explain_change
    from ci_tools.sandbox.loop import Sandbox

    sandbox = Sandbox(args.repo, args.work_dir, compute_node=args.compute_node,
                      periodic_time=args.periodic_time)  # fmt: skip
    _prepare_work_dir(sandbox.work_dir, sandbox.node_dest)

    def interrupted(signum, _frame):
        # Ctrl-C or SIGTERM: unwind wherever we are (bringing up, waiting for
        # the report) into the stop below; a second signal must not cut it short.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, interrupted)
    code = 0
    try:
        sandbox.up()
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
            passed, why = explain_change(report["message"], sandbox.stack.web_url,
                                         sandbox.tenant.tenant, number)  # fmt: skip
            print(f"[sandbox] {'PASSED' if passed else 'FAILED'}: {why}", flush=True)
            code = 0 if passed else 1
        if not args.once:
            print("[sandbox] running; Ctrl-C or `ci-tools sandbox down` stops it", flush=True)
            while True:
                time.sleep(2)
                sandbox.stack._check_alive()
    except KeyboardInterrupt as exc:
        signum = exc.args[0] if exc.args else signal.SIGINT
        print(f"[sandbox] {signal.Signals(signum).name}: stopping everything", flush=True)
        code = 128 + signum
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        _stop(sandbox)
    return code


def _stop(sandbox):
    """Stop in order; then make sure by the process table that nothing is left."""
    from ci_tools.sandbox import reaper

    start = time.monotonic()
    try:
        sandbox.down()
    except ServiceError as exc:
        print(f"[sandbox] {exc}", flush=True)
    left = reaper.reap(sandbox.work_dir, sandbox.node_dest)
    if left:
        raise ServiceError("still running after the sandbox stopped: " + "; ".join(left))
    print(f"[sandbox] everything stopped in {time.monotonic() - start:.1f}s", flush=True)


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
    """Stop the supervisor (it stops its parts in order); whatever it did not
    stop, or everything when it is gone, is found in the process table."""
    from ci_tools.harness.zuul_daemons import kit_root
    from ci_tools.sandbox import reaper
    from ci_tools.sandbox.loop import node_dest

    work_dir = os.path.abspath(args.work_dir)
    state_path = os.path.join(work_dir, "sandbox.json")
    pid = netns = None
    if os.path.exists(state_path):
        state = _state(work_dir)
        pid, netns = state.get("pid"), state.get("data_plane_netns")
    sessions = reaper.sessions_of(work_dir)
    if not (pid and pid_alive(pid)) and not sessions:
        if os.path.exists(state_path):
            # a killed sandbox leaves its data plane's namespace behind
            reaper.reap(work_dir, netns=netns)
            os.unlink(state_path)
            print(f"no sandbox process left in {work_dir}; removed its stale state")
            return 0
        raise UsageError(f"no sandbox running in {work_dir}")
    start = time.monotonic()
    if pid and pid_alive(pid):
        try:
            stop_supervisor(pid, "sandbox", 60)
        except ServiceError as exc:
            print(f"{exc}; killing it and its parts", flush=True)
    else:
        print(f"sandbox process {pid or '?'} is gone; stopping the parts it left", flush=True)
    left = reaper.reap(work_dir, node_dest(kit_root()), supervisor=pid, netns=netns)
    if os.path.exists(state_path):
        os.unlink(state_path)
    if left:
        raise ServiceError("still running: " + "; ".join(left))
    print(f"stopped in {time.monotonic() - start:.1f}s")
    return 0
