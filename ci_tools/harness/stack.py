"""The whole Zuul stack in one work dir: ZooKeeper (TLS), PostgreSQL and Zuul daemons.

    with ZuulStack(work_dir, tenant_config, connections) as stack:
        stack.wait_for_tenant("sandbox")
        errors = stack.config_errors("sandbox")

Start order follows dependencies; stop order is the reverse, and every
service is stopped even when another one fails to stop.
"""

import json
import logging
import os
import shutil
import threading
import time

import requests

from ci_tools.errors import ServiceError
from ci_tools.harness.postgres import PostgreSQL
from ci_tools.harness.tls import LoopbackCA
from ci_tools.harness.zookeeper import ZooKeeper
from ci_tools.harness.zuul_daemons import SERVICES, ZuulConfig, ZuulService

LOG = logging.getLogger(__name__)


class ZuulStack:
    def __init__(
        self,
        work_dir,
        tenant_config,
        connections,
        services=SERVICES,
        daemon_files=None,
        zuul_options=None,
    ):
        self.work_dir = os.path.abspath(work_dir)
        self.tenant_config = os.path.abspath(tenant_config)
        self.connections = connections
        self.service_names = [s for s in SERVICES if s in services]
        # Files the Zuul daemons find in their working directory (clouds.yaml).
        self.daemon_files = daemon_files or {}
        # Extra zuul.conf options per section, e.g. {"executor": {"trusted_rw_paths": ...}}
        self.zuul_options = zuul_options or {}
        self.zookeeper = ZooKeeper(self.work_dir, LoopbackCA(os.path.join(self.work_dir, "ca")))
        self.postgres = PostgreSQL(self.work_dir)
        self.config = None
        self.services = {}
        self._started = []

    @property
    def web_url(self):
        return self.config.web_url

    def start(self):
        os.makedirs(self.work_dir, exist_ok=True)
        # PostgreSQL runs as its own user and must reach its directory.
        os.chmod(self.work_dir, 0o711)
        try:
            self._start(self.zookeeper)
            self._start(self.postgres)
            self.config = ZuulConfig(
                self.work_dir, self.zookeeper, self.postgres.dburi,
                self.tenant_config, self.connections, self.zuul_options,
            )  # fmt: skip
            self.config.write()
            for name, text in self.daemon_files.items():
                with open(os.path.join(self.config.home, name), "w") as f:
                    f.write(text)
            for name in self.service_names:
                self.services[name] = ZuulService(name, self.config)
            # The scheduler creates the ZooKeeper and database layout the others wait for.
            for name in self.service_names:
                self.services[name].start()
                self._started.append(self.services[name])
            for name in self.service_names:
                self.services[name].wait_healthy()
        except BaseException:
            self.stop()
            raise
        self._write_state()
        return self

    def _start(self, service):
        self._started.append(service)
        service.start()

    def _write_state(self):
        state = {
            "web_url": self.web_url,
            "zookeeper": self.zookeeper.hosts,
            "database": self.postgres.public_uri,
            "pids": {getattr(s, "name", type(s).__name__.lower()): _pid(s) for s in self._started},
            "logs": os.path.join(self.work_dir, "logs"),
        }
        with open(os.path.join(self.work_dir, "stack.json"), "w") as f:
            json.dump(state, f, indent=2)

    def stop(self):
        errors = []

        def stop_one(service):
            try:
                service.stop()
            except Exception as exc:  # keep stopping the rest
                errors.append(f"{service}: {exc}")

        # The Zuul daemons all at once (each may take its SIGTERM grace: one
        # after the other that was minutes on a loaded machine), then what
        # they use: ZooKeeper and PostgreSQL.
        daemons = [s for s in self._started if isinstance(s, ZuulService)]
        threads = [threading.Thread(target=stop_one, args=(s,)) for s in daemons]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for service in reversed(self._started):
            if service not in daemons:
                stop_one(service)
        self._started = []
        # A short job dir outside the work dir (see short_job_dir) goes with the stack.
        if self.config and not self.config.job_dir.startswith(self.work_dir + os.sep):
            shutil.rmtree(self.config.job_dir, ignore_errors=True)
        if errors:
            raise ServiceError("some services did not stop cleanly: " + "; ".join(errors))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- talking to zuul-web -------------------------------------------------

    def api(self, path, timeout=10):
        resp = requests.get(f"{self.web_url}/api/{path.lstrip('/')}", timeout=timeout)
        resp.raise_for_status()
        return resp.json()

    def wait_for_tenant(self, tenant, timeout=180):
        """Block until the scheduler has loaded ``tenant``'s layout."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                tenants = {t["name"] for t in self.api("tenants")}
                if tenant in tenants:
                    self.api(f"tenant/{tenant}/config-errors")
                    return
                last = f"tenants loaded: {sorted(tenants) or 'none'}"
            except (requests.RequestException, ValueError) as exc:
                last = str(exc)
            self._check_alive()
            time.sleep(1)
        raise ServiceError(f"tenant {tenant!r} not loaded after {timeout}s ({last})")

    def config_errors(self, tenant):
        return self.api(f"tenant/{tenant}/config-errors")

    def _check_alive(self):
        for service in self.services.values():
            if not service.process.running():
                raise ServiceError(
                    f"{service.process.name} died; last lines:\n{service.process.tail()}"
                )


def _pid(service):
    process = getattr(service, "process", None)
    return process.pid if process else None
