"""Real iSCSI export through Debian's userspace target ``tgtd``.

Each host with iSCSI initiators gets one target (the model's ``export_view``):
its mapped volumes are the LUNs, its IQNs the only initiators allowed in, its
CHAP account the only credentials accepted. A host that has nothing mapped,
or an initiator that is not the host's, discovers nothing and cannot log in.
Each controller is one portal, on loopback or, with ``netns``, on the data
plane's bridges inside that network namespace (tgtd then runs there, so its
SendTargets answers carry addresses the compute node reaches); a controller
that goes down loses its portal, as a failed controller's ports would.

tgtd runs with its own control port (``-C``) so it never touches a system
tgtd, and in the server's process group so nothing outlives the server. It
ignores SIGTERM while it has targets, so :meth:`stop` takes the system
offline, deletes the targets and then the system.
"""

import logging
import os
import shutil
import subprocess
import time

from ci_tools.array import tgt_ipc

LOG = logging.getLogger(__name__)


class ExportError(Exception):
    pass


class TgtExporter:
    """Runs one tgtd and keeps its targets equal to the model's view."""

    def __init__(self, portals, control_port, log_path, netns=None):
        self.portals = dict(portals)  # controller -> "address:port"
        self.netns = netns
        self.control_port = int(control_port)
        self.log_path = log_path
        self.proc = None
        self.targets = {}  # iqn -> {"tid", "luns", "acl", "chap"}
        self.online = set()
        self._next_tid = 1

    @staticmethod
    def available():
        return bool(shutil.which("tgtd") and shutil.which("tgtadm"))

    def _adm(self, *args, lld=True, check=True):
        argv = ["tgtadm", "-C", str(self.control_port)]
        if lld:
            argv += ["--lld", "iscsi"]
        argv += list(args)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if check and result.returncode != 0:
            raise ExportError(f"{' '.join(args[:4])}: {result.stderr.strip() or result.stdout}")
        return result

    def start(self, timeout=15.0):
        controllers = list(self.portals)
        first = self.portals[controllers[0]]
        self._log = open(self.log_path, "ab")
        # tgtadm reaches it through a unix socket under /run, namespace or not
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.proc = subprocess.Popen(
            [*prefix, "tgtd", "-f", "-C", str(self.control_port), "--iscsi", f"portal={first}"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise ExportError(f"tgtd exited with {self.proc.returncode}; see {self.log_path}")
            if self._adm("--op", "show", "--mode", "portal", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                raise ExportError(f"tgtd did not answer on control port {self.control_port}")
            time.sleep(0.1)
        self.online = {controllers[0]}
        for ctrl in controllers[1:]:
            self.set_controller(ctrl, True)
        LOG.info("tgtd up, portals %s", ", ".join(self.portals.values()))

    def set_controller(self, ctrl, online):
        portal = self.portals[ctrl]
        if online and ctrl not in self.online:
            self._adm("--op", "new", "--mode", "portal", "--param", f"portal={portal}")
            self.online.add(ctrl)
        elif not online and ctrl in self.online:
            self._adm("--op", "delete", "--mode", "portal", "--param", f"portal={portal}")
            self.online.discard(ctrl)

    def apply(self, view):
        """Make tgtd's targets match ``view`` (iqn -> luns, acl, chap)."""
        errors = []
        for iqn in sorted(set(self.targets) - set(view)):
            errors += self._guard(self._delete_target, iqn)
        for iqn, want in sorted(view.items()):
            if iqn not in self.targets:
                errors += self._guard(self._new_target, iqn)
            errors += self._guard(self._sync_target, iqn, want)
        if errors:
            raise ExportError("; ".join(errors))

    @staticmethod
    def _guard(func, *args):
        try:
            func(*args)
            return []
        except (ExportError, subprocess.SubprocessError) as exc:
            LOG.error("tgt: %s", exc)
            return [str(exc)]

    def _new_target(self, iqn):
        tid = self._next_tid
        self._next_tid += 1
        self._adm("--op", "new", "--mode", "target", "--tid", str(tid), "-T", iqn)
        self.targets[iqn] = {"tid": tid, "luns": {}, "acl": set(), "chap": None}

    def _delete_target(self, iqn):
        have = self.targets.pop(iqn)
        if have["chap"]:
            self._adm("--op", "delete", "--mode", "account", "--user", have["chap"]["username"])
        self._adm("--op", "delete", "--force", "--mode", "target", "--tid", str(have["tid"]))

    def _sync_target(self, iqn, want):
        have = self.targets[iqn]
        tid = str(have["tid"])
        for lun in sorted(set(have["luns"]) - set(want["luns"])):
            self._adm("--op", "delete", "--mode", "logicalunit", "--tid", tid, "--lun", str(lun))
            del have["luns"][lun]
        for lun, spec in sorted(want["luns"].items()):
            if have["luns"].get(lun) == spec:
                continue
            if lun in have["luns"]:
                # tgtd reads the size when a LUN is created: re-create it after extend/revert.
                self._adm(
                    "--op", "delete", "--mode", "logicalunit", "--tid", tid, "--lun", str(lun)
                )
                del have["luns"][lun]
            self._adm(
                "--op", "new", "--mode", "logicalunit", "--tid", tid, "--lun", str(lun),
                "-b", spec["path"],
            )  # fmt: skip
            have["luns"][lun] = dict(spec)
        want_acl = set(want["acl"])
        for name in sorted(have["acl"] - want_acl):
            self._adm("--op", "unbind", "--mode", "target", "--tid", tid, "-Q", name)
        for name in sorted(want_acl - have["acl"]):
            self._adm("--op", "bind", "--mode", "target", "--tid", tid, "-Q", name)
        have["acl"] = want_acl
        if have["chap"] != want["chap"]:
            if have["chap"]:
                user = have["chap"]["username"]
                self._adm("--op", "unbind", "--mode", "account", "--tid", tid, "--user", user)
                self._adm("--op", "delete", "--mode", "account", "--user", user)
                have["chap"] = None
            if want["chap"]:
                chap = want["chap"]
                # over tgtd's management socket: on tgtadm's argv the secret
                # would be readable in ps by every local user
                try:
                    tgt_ipc.new_account(self.control_port, chap["username"], chap["secret"])
                except tgt_ipc.TgtIPCError as exc:
                    raise ExportError(f"new account {chap['username']}: {exc}") from exc
                self._adm(
                    "--op", "bind", "--mode", "account", "--tid", tid, "--user", chap["username"]
                )
                have["chap"] = dict(chap)

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._adm("--op", "update", "--mode", "sys", "--name", "State", "-v", "offline",
                      lld=False, check=False)  # fmt: skip
            for iqn in list(self.targets):
                self._guard(self._delete_target, iqn)
            self._adm("--op", "delete", "--mode", "system", lld=False, check=False)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                LOG.warning("tgtd did not leave after 'delete system'; killing it")
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.proc = None


def log_path(data_dir):
    return os.path.join(data_dir, "tgtd.log")
