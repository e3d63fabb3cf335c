"""Phase times and memory of DevStack-lite through the real roles, cold and warm.

    python -m benchmarks.bench_devstack [--keep]

Cold: a new deployment dir (new venv; pip still uses this machine's download
cache). Warm: the same playbook again on that dir, as on a reused node.
Each round runs test-playbooks/devstack-lite/deploy.yaml, then the log
collection and scrubbing (playbooks/base/post.yaml, the scrub role) with
Zuul's Ansible on localhost. Phase times come from Ansible's profile_tasks:
install = the role's install tasks (venv, pip), services up = config,
databases, Keystone bootstrap, every API answering. Peak memory is the
resident set of supervisord and every service under it, sampled each 0.5 s.
The backend and Tempest phases need the driver and are measured by the
Tempest functional test (see roles/run-tempest/README.rst).
"""

import argparse
import os
import re
import shutil
import tempfile
import threading
import time

import yaml

from ci_tools.harness.devstack import DevStackLite
from ci_tools.harness.playbook import REPO

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
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            parents[int(pid)] = int(fields[1])
            rss[int(pid)] = int(fields[21]) * page_kb
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [root_pid]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    return total


class Sampler(threading.Thread):
    def __init__(self, pid_file):
        super().__init__(daemon=True)
        self.pid_file = pid_file
        self.peak_kb = 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(0.5):
            try:
                with open(self.pid_file) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                continue
            self.peak_kb = max(self.peak_kb, tree_rss_kb(pid))


def one_round(stack, install_names, label):
    env = {
        "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
        "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
        "PROFILE_TASKS_SORT_ORDER": "none",
    }
    t0 = time.monotonic()
    deploy = stack.play("test-playbooks/devstack-lite/deploy.yaml", log_name=label, env=env)
    wall = time.monotonic() - t0
    if deploy.returncode:
        raise SystemExit(f"{label} deploy failed, see {stack.work_dir}/{label}.log")
    times = task_times(deploy.stdout)
    install = sum(s for name, s in times if name in install_names)
    services = sum(s for name, s in times if name.startswith("devstack-lite : ")) - install
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
    t1 = time.monotonic()
    for playbook in ("playbooks/base/post.yaml", "test-playbooks/devstack-lite/scrub-logs.yaml"):
        proc = stack.play(
            playbook, extra=logs_vars, log_name=f"{label}-{os.path.basename(playbook)}"
        )
        if proc.returncode:
            raise SystemExit(f"{label} {playbook} failed, see {stack.work_dir}")
    logs = time.monotonic() - t1
    return {"install": install, "services up": services, "deploy wall": wall, "logs": logs}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the deployment dir")
    args = parser.parse_args(argv)
    base = tempfile.mkdtemp(prefix="bench-devstack-", dir="/var/tmp")
    stack = DevStackLite(os.path.join(base, "work"), dest=os.path.join(base, "dest"))
    os.makedirs(stack.work_dir)
    sampler = Sampler(os.path.join(stack.dest, "run", "supervisord.pid"))
    sampler.start()
    names = install_task_names()
    rounds = {}
    try:
        for label in ("cold", "warm"):
            print(f"{label}: deploying DevStack-lite in {stack.dest} ...", flush=True)
            rounds[label] = one_round(stack, names, label)
    finally:
        sampler.stopped.set()
        sampler.join()
        stack.shutdown()
        if not args.keep:
            shutil.rmtree(base, True)
    phases = ("install", "services up", "deploy wall", "logs")
    print(f"\n{'phase (s)':<22}{'cold':>8}{'warm':>8}")
    for phase in phases:
        print(f"{phase:<22}{rounds['cold'][phase]:>8.1f}{rounds['warm'][phase]:>8.1f}")
    print(f"{'backend ready':<22}{'(tempest functional test)':>26}")
    print(f"{'tempest':<22}{'(tempest functional test)':>26}")
    print(f"peak RSS of the services: {sampler.peak_kb / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
