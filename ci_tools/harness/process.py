"""A long-running service process: start, health check, log file, clean stop."""

import logging
import os
import signal
import subprocess
import time

from ci_tools.errors import ServiceError

LOG = logging.getLogger(__name__)


class ManagedProcess:
    """One service, run in its own session so its whole process group can be stopped.

    ``healthy`` is a callable returning True once the service answers; it is
    polled by :meth:`wait_healthy`, which fails fast if the process exits.
    """

    def __init__(
        self, name, argv, log_path, env=None, cwd=None, user=None, healthy=None,
        group=None, extra_groups=None,
    ):  # fmt: skip
        self.name = name
        # With user: group and extra_groups too, or the process keeps root's groups.
        self.group = group
        self.extra_groups = extra_groups
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.user = user
        self.healthy = healthy
        self.proc = None
        self._log = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        if self.running():
            return
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._log = open(self.log_path, "ab")
        LOG.info("starting %s", self.name)
        LOG.debug("%s: %s", self.name, " ".join(self.argv))
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                group=self.group,
                extra_groups=self.extra_groups,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from exc

    def tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()[-20000:].decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(data.splitlines()[-lines:])

    def wait_healthy(self, timeout=120.0, interval=0.5):
        if self.healthy is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            if not self.running():
                raise ServiceError(
                    f"{self.name} exited with {self.proc.returncode} before it was healthy; "
                    f"last lines of {self.log_path}:\n{self.tail()}"
                )
            try:
                if self.healthy():
                    LOG.info("%s is healthy", self.name)
                    return
            except Exception as exc:  # a health probe may raise anything while booting
                LOG.debug("%s not healthy yet: %s", self.name, exc)
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"{self.name} not healthy after {timeout:.0f}s; "
                    f"last lines of {self.log_path}:\n{self.tail()}"
                )
            time.sleep(interval)

    def stop(self, timeout=20.0, before_kill=None):
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        if self.running():
            LOG.info("stopping %s (pid %s)", self.name, pgid)
            _signal_group(pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                if before_kill:
                    before_kill()
                LOG.warning("%s ignored SIGTERM for %.0fs, killing", self.name, timeout)
        # Children (Zuul's forked log streamer, ansible) may outlive the leader.
        _signal_group(pgid, signal.SIGKILL)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self._log:
            self._log.close()
            self._log = None


def _signal_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        raise ServiceError(f"cannot signal process group {pgid}: {exc}") from exc


def pid_alive(pid):
    """True while ``pid`` runs (signal 0 checks without touching it). A zombie
    has exited: it only waits for its parent (a shell, a test) to reap it."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, TypeError):
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def stop_supervisor(pid, what, timeout):
    """SIGTERM a foreground ``ci-tools ... up`` from another shell and wait until
    it has stopped everything it runs."""
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    if pid_alive(pid):
        raise ServiceError(f"{what} {pid} still running after {timeout}s")
