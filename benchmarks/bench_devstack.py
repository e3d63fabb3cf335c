"""Phase times and memory of DevStack-lite through the real roles, cold and warm.

    python -m benchmarks.bench_devstack [--keep] [--regex REGEX]

Cold: a new deployment dir (new venv; pip still uses this machine's download
cache). Warm: the same playbooks again on that dir, as on a reused node.
Each round runs the Tempest job's playbooks against a reference array on
loopback with Zuul's Ansible on localhost: playbooks/tempest/pre.yaml
(DevStack-lite with the refflash driver, backend, preflight), run.yaml with
--regex (a short slice by default; the full job regex takes ~8 min), then
the log collection and scrubbing. Phase times come from profile_tasks:
install = the devstack-lite install tasks (venv, pip), services up = the
rest of devstack-lite (config, databases, Keystone bootstrap, APIs up),
backend ready = configure-cinder-backend and array-preflight (c-vol up on
every backend). Peak memory is the resident set of supervisord, every
service under it and the Tempest workers, sampled each 0.5 s.
"""

import argparse
import os
import re
import shutil
import tempfile
import threading
import time

import yaml

from ci_tools.array.fixture import ArrayFixture
from ci_tools.harness.devstack import DevStackLite
from ci_tools.harness.playbook import REPO
from ci_tools.harness.procfs import PAGE_KB, proc_stats

PROFILE_LINE = re.compile(r"^(?P<name>.+?) -+ (?P<secs>\d+\.\d+)s\s*$")


def install_task_names():
    with open(os.path.join(REPO, "roles", "devstack-lite", "tasks", "install.yaml")) as f:
        return {"devstack-lite : " + task["name"] for task in yaml.safe_load(f)}


def task_times(stdout):
    """(name, seconds) for every task, from profile_tasks' closing summary."""
    times = []
    for line in stdout.split("PLAY RECAP", 1)[-1].splitlines():
        m = PROFILE_LINE.match(line.strip())
        if m:
            times.append((m["name"].strip(), float(m["secs"])))
    return times


def tree_rss_kb(root_pid):
    """Resident KB of a process and all its descendants."""
    parents, rss = {}, {}
    for pid, fields in proc_stats():
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * PAGE_KB
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


def tempest_pids(marker):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    def __init__(self, pid_file, tempest_marker):
        super().__init__(daemon=True)
        self.pid_file = pid_file
        self.tempest_marker = tempest_marker
        self.peak_kb = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            total = sum(tree_rss_kb(pid) for pid in tempest_pids(self.tempest_marker))
            try:
                with open(self.pid_file) as f:
                    total += tree_rss_kb(int(f.read().strip()))
            except (OSError, ValueError):
                pass
            self.peak_kb = max(self.peak_kb, total)


def one_round(stack, install_names, label, regex):
    env = {
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
        "PROFILE_TASKS_SORT_ORDER": "none",
    }
    t0 = time.monotonic()
    pre = stack.play("playbooks/tempest/pre.yaml", log_name=f"{label}-pre", env=env)
    wall = time.monotonic() - t0
    if pre.returncode:
        raise SystemExit(f"{label} pre-run failed, see {stack.work_dir}/{label}-pre.log")
    times = task_times(pre.stdout)
    install = sum(s for name, s in times if name in install_names)
    services = sum(s for name, s in times if name.startswith("devstack-lite : ")) - install
    backend = sum(
        s for name, s in times if name.startswith(("configure-cinder-backend", "array-preflight"))
    )
    t1 = time.monotonic()
    run = stack.play("playbooks/tempest/run.yaml", log_name=f"{label}-run",
                     extra={"run_tempest_regex": regex})  # fmt: skip
    tempest = time.monotonic() - t1
    logs_vars = {
        "zuul": {
            "executor": {
                "log_root": os.path.join(stack.work_dir, label + "-logs"),
                "work_root": os.path.join(stack.work_dir, label + "-work"),
            }
        },
        "ansible_user_dir": stack.work_dir,
        "collect_job_logs_staging": os.path.join(stack.work_dir, label + "-staging"),
    }
    for key in ("log_root", "work_root"):
        os.makedirs(logs_vars["zuul"]["executor"][key], exist_ok=True)
    t2 = time.monotonic()
    for playbook in ("playbooks/base/post.yaml", "test-playbooks/devstack-lite/scrub-logs.yaml"):
        proc = stack.play(
            playbook, extra=logs_vars, log_name=f"{label}-{os.path.basename(playbook)}"
        )
        if proc.returncode:
            raise SystemExit(f"{label} {playbook} failed, see {stack.work_dir}")
    logs = time.monotonic() - t2
    return {
        "install": install,
        "services up": services,
        "backend ready": backend,
        "pre-run wall": wall,
        "tempest": tempest,
        "logs": logs,
        "result": "tempest passed" if run.returncode == 0 else "tempest FAILED",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the deployment dir")
    parser.add_argument("--regex", default=r"^tempest\.api\.volume\.test_volumes_get\.",
                        help="Tempest tests to run")  # fmt: skip
    args = parser.parse_args(argv)
    base = tempfile.mkdtemp(prefix="bench-devstack-", dir="/var/tmp")
    array = ArrayFixture(os.path.join(base, "array"), pools={"pool-a": 500}).start()
    stack = DevStackLite(
        os.path.join(base, "work"),
        dest=os.path.join(base, "dest"),
        extra_vars={
            "tempest_protocol": "iscsi",
            "tempest_config_dir": os.path.join(REPO, "tempest-config"),
            "devstack_lite_extra_src": [os.path.join(REPO, "drivers", "refflash")],
            "refflash_ci_array": {"san_login": array.username, "san_password": array.password},
            "configure_cinder_backend_options": {"san_api_port": array.port},
        },
    )
    os.makedirs(stack.work_dir)
    sampler = Sampler(
        os.path.join(stack.dest, "run", "supervisord.pid"), os.path.join(stack.work_dir, "tempest")
    )
    sampler.start()
    names = install_task_names()
    rounds = {}
    try:
        for label in ("cold", "warm"):
            print(f"{label}: deploying DevStack-lite in {stack.dest} ...", flush=True)
            rounds[label] = one_round(stack, names, label, args.regex)
    finally:
        sampler.stopped.set()
        sampler.join()
        stack.shutdown()
        array.stop()
        if not args.keep:
            shutil.rmtree(base, True)
    phases = ("install", "services up", "backend ready", "pre-run wall", "tempest", "logs")
    print(f"\n{'phase (s)':<22}{'cold':>8}{'warm':>8}")
    for phase in phases:
        print(f"{phase:<22}{rounds['cold'][phase]:>8.1f}{rounds['warm'][phase]:>8.1f}")
    print(f"tempest regex: {args.regex} ({rounds['cold']['result']}, {rounds['warm']['result']})")
    print(f"peak RSS of the services and Tempest: {sampler.peak_kb / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
