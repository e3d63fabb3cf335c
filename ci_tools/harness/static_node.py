"""The sandbox's static node: a private OpenSSH sshd on a loopback port.

Zuul's static provider hands this node to jobs exactly as it would a lab
machine; the executor logs in with its own key as the node user (``zuul``,
created by tools/test-setup.sh with passwordless sudo, as on a DevStack
node). The system sshd, if any, is left alone: this one has its own config,
host key, authorized keys and pid file in the work dir.
"""

import os
import pwd
import re
import shutil
import subprocess

from ci_tools.errors import ServiceError
from ci_tools.harness.ports import free_port, wait_for_port
from ci_tools.harness.process import ManagedProcess

SSHD = "/usr/sbin/sshd"


class StaticNode:
    def __init__(self, work_dir, authorized_keys, port=None, user="zuul"):
        self.dir = os.path.join(work_dir, "static-node")
        self.log_path = os.path.join(work_dir, "logs", "static-node-sshd.log")
        self.authorized_keys = authorized_keys
        self.port = port
        self.user = user
        self.process = None

    def _write_config(self):
        if not os.path.exists(SSHD):
            raise ServiceError("OpenSSH server missing: install openssh-server (bindep.txt)")
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            raise ServiceError(
                f"node user {self.user!r} does not exist: run tools/test-setup.sh"
            ) from None
        os.makedirs(self.dir, exist_ok=True)
        # sshd insists on its privilege separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        host_key = os.path.join(self.dir, "ssh_host_ed25519_key")
        if not os.path.exists(host_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key], check=True
            )
        key = authorized_key_line(self.authorized_keys)
        self.port = self.port or free_port()
        cfg = os.path.join(self.dir, "sshd_config")
        with open(cfg, "w") as f:
            f.write(
                f"Port {self.port}\n"
                "ListenAddress 127.0.0.1\n"
                f"HostKey {host_key}\n"
                f"PidFile {os.path.join(self.dir, 'sshd.pid')}\n"
                # The executor's public key is on the command line itself:
                # no key file the node user must read in the work dir (which
                # it cannot enter: harness/workdir.py), nothing StrictModes
                # (kept on) would refuse, nothing another user could swap.
                # sshd checks the command (root-owned /usr/bin/echo) and runs
                # it as the node user.
                "AuthorizedKeysFile none\n"
                f"AuthorizedKeysCommand /usr/bin/echo {key}\n"
                f"AuthorizedKeysCommandUser {self.user}\n"
                f"AllowUsers {self.user}\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "PermitRootLogin no\n"
                "UsePAM no\n"
                "StrictModes yes\n"
                "AcceptEnv LANG LC_*\n"
                "Subsystem sftp internal-sftp\n"
            )
        return cfg

    def start(self):
        cfg = self._write_config()
        check = subprocess.run([SSHD, "-t", "-f", cfg], capture_output=True, text=True)
        if check.returncode:
            raise ServiceError(f"sshd rejects its config: {check.stderr.strip()}")
        self.process = ManagedProcess(
            "static-node-sshd",
            [SSHD, "-D", "-e", "-f", cfg],
            self.log_path,
            healthy=lambda: wait_for_port(self.port, timeout=0.5),
        )
        self.process.start()
        self.process.wait_healthy(timeout=30)

    def stop(self):
        if self.process:
            self.process.stop()


_KEY_TYPE = re.compile(r"^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-\S+@openssh\.com)$")
_KEY_BLOB = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


def authorized_key_line(paths):
    """``type base64`` of the one public key in ``paths``, safe on an sshd
    command line (no comment: sshd would expand a ``%`` in it)."""
    if len(paths) != 1:
        raise ServiceError(f"the static node takes one authorized key, got {len(paths)}")
    with open(paths[0]) as f:
        fields = f.read().split()
    if len(fields) < 2 or not _KEY_TYPE.match(fields[0]) or not _KEY_BLOB.match(fields[1]):
        raise ServiceError(f"{paths[0]} is not an OpenSSH public key")
    return f"{fields[0]} {fields[1]}"


def have_sshd():
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None
