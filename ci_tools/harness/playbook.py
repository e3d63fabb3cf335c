"""Run this repo's playbooks with the Ansible Zuul runs them with, outside Zuul.

Functional tests and benchmarks drive the node roles (devstack-lite,
run-tempest, collect-job-logs, ...) on localhost with Zuul's own managed
Ansible (``$CI_KIT_ROOT/zuul-ansible/<version>``, built by
tools/test-setup.sh), roles found in ``roles/`` as Zuul finds them in a
config project. Zuul's job variables (``zuul.executor.log_root``...) are
passed as extra vars; the caller picks the directories.
"""

import glob
import json
import os
import subprocess

from ci_tools.errors import ServiceError
from ci_tools.harness.zuul_daemons import ansible_root, zuul_venv

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ANSIBLE_VERSION = os.environ.get("CI_KIT_ANSIBLE_VERSION", "11")


def ansible_playbook_bin():
    path = os.path.join(ansible_root(), ANSIBLE_VERSION, "bin", "ansible-playbook")
    if not os.path.exists(path):
        raise ServiceError(f"{path} not found: run tools/test-setup.sh (Zuul's Ansible venvs)")
    return path


def write_inventory(work_dir, hosts=None):
    """Localhost with Zuul's Ansible's own python, and ``hosts`` (name: host
    vars), e.g. a compute node VM reached over SSH."""
    path = os.path.join(work_dir, "inventory.yaml")
    python = os.path.join(ansible_root(), ANSIBLE_VERSION, "bin", "python")
    inventory = {"localhost": {"ansible_connection": "local", "ansible_python_interpreter": python}}
    inventory.update(hosts or {})
    with open(path, "w") as f:
        json.dump({"all": {"hosts": inventory}}, f)
    return path


def zuul_plugin_env(work_dir):
    """Zuul's zuul_return action on the plugin path, so playbooks that report to Zuul load.

    Only that one plugin: Zuul's command/shell plugins need a running executor.
    """
    found = glob.glob(os.path.join(zuul_venv(), "lib", "python3*", "site-packages", "zuul"))
    if not found:
        raise ServiceError(f"no zuul package under {zuul_venv()}: run tools/test-setup.sh")
    # Only the zuul package on PYTHONPATH, not the rest of Zuul's venv.
    path_dir = os.path.join(work_dir, "zuul-pythonpath")
    os.makedirs(path_dir, exist_ok=True)
    link = os.path.join(path_dir, "zuul")
    if not os.path.islink(link):
        os.symlink(found[0], link)
    action_dir = os.path.join(work_dir, "zuul-action")
    os.makedirs(action_dir, exist_ok=True)
    action = os.path.join(action_dir, "zuul_return.py")
    if not os.path.islink(action):
        os.symlink(
            os.path.join(found[0], "ansible", ANSIBLE_VERSION, "action", "zuul_return.py"), action
        )
    return {"ANSIBLE_ACTION_PLUGINS": action_dir, "PYTHONPATH": path_dir}


def playbook_argv_env(playbook, work_dir, extra_vars=None, env=None, netns=None, hosts=None):
    """The command line and environment run_playbook runs (for a caller that
    needs the process while it runs)."""
    os.makedirs(work_dir, exist_ok=True)
    vars_path = os.path.join(work_dir, "extra-vars.json")
    with open(vars_path, "w") as f:
        json.dump(extra_vars or {}, f)
    extra_env, env = (
        env,
        dict(
            os.environ,
            ANSIBLE_ROLES_PATH=os.path.join(REPO, "roles"),
            ANSIBLE_HOST_KEY_CHECKING="False",
            ANSIBLE_RETRY_FILES_ENABLED="False",
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_LOCAL_TEMP=os.path.join(work_dir, "ansible-tmp"),
            ANSIBLE_FORCE_COLOR="0",
            **zuul_plugin_env(work_dir),
        ),
    )
    env.update(extra_env or {})
    argv = (["ip", "netns", "exec", netns] if netns else []) + [
        ansible_playbook_bin(),
        "-i",
        write_inventory(work_dir, hosts),
        "-e",
        "@" + vars_path,
        os.path.join(REPO, playbook),
    ]
    return argv, env


def run_playbook(
    playbook, work_dir, extra_vars=None, timeout=1800, log_name=None, env=None, netns=None
):
    """Run one playbook of this repo on localhost; return the CompletedProcess.

    Output goes to ``<work_dir>/<log_name or playbook name>.log`` as well as
    into the result, so a failing test can show it. With ``netns``,
    ansible-playbook runs inside that network namespace (``ip netns exec``), so
    everything it starts (daemons included) lives on that namespace's network.
    """
    argv, env = playbook_argv_env(playbook, work_dir, extra_vars, env, netns)
    proc = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=timeout, cwd=work_dir
    )
    name = log_name or os.path.basename(playbook).rsplit(".", 1)[0]
    with open(os.path.join(work_dir, f"{name}.log"), "w") as f:
        f.write(proc.stdout + proc.stderr)
    return proc
