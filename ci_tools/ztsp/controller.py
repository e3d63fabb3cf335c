"""The ZTSP controller: a link trap in, a configured array and a serving backend out.

linkUp: walk the switch's LLDP-MIB until the port's neighbour is complete,
identify the array, fetch its credentials, configure it (hosts, host group),
render the gold copy with every known backend and deliver it to every node,
which restarts cinder-volume and reports the backend ``up``. linkDown: the
backend on that port leaves ``enabled_backends`` (section and array data
kept). Traps are handled one at a time, in order. Every step is logged with
its duration and each handled trap is appended to ``events.jsonl`` in the
state dir (steps, wall-clock marks, result). Anything failing before delivery
stops the chain: no gold copy goes out, and the state is saved only once
every node has the new one, so the next trap tries again.
"""

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import yaml

from ci_tools.errors import ConfigError, ServiceError
from ci_tools.ztsp import goldcopy, identify, lldp, provision, secrets, traps
from ci_tools.ztsp.deliver import DeliveryError, deliver

LOG = logging.getLogger("ci_tools.ztsp")

REQUIRED = {
    "listen": ("address", "port"),
    "backend": ("driver", "options"),
    "secrets": ("backend",),
}


def load_config(path):
    try:
        with open(path) as f:
            config = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a mapping")
    for key in ("listen", "switches", "secrets", "state_dir", "backend", "nodes"):
        if key not in config:
            raise ConfigError(f"{path}: missing key {key!r}")
    for key, subkeys in REQUIRED.items():
        for sub in subkeys:
            if sub not in config[key]:
                raise ConfigError(f"{path}: missing key {key}.{sub}")
    for i, sw in enumerate(config["switches"]):
        for sub in ("name", "address", "community"):
            if sub not in sw:
                raise ConfigError(f"{path}: missing key switches[{i}].{sub}")
    for i, node in enumerate(config["nodes"]):
        for sub in (
            "name",
            "address",
            "user",
            "ssh_key",
            "known_hosts",
            "gold_copy",
            "restart_command",
            "iqn",
        ):
            if sub not in node:
                raise ConfigError(f"{path}: missing key nodes[{i}].{sub}")
    return config


class StepFailed(Exception):
    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


class Controller:
    def __init__(self, config):
        self.config = config
        self.store = secrets.make_store(config["secrets"])
        self.state_dir = config["state_dir"]
        os.makedirs(self.state_dir, exist_ok=True)
        self.state_path = os.path.join(self.state_dir, "state.json")
        self.events_path = os.path.join(self.state_dir, "events.jsonl")
        self.state = self._load_state()
        self.switches = {s["name"]: s for s in config["switches"]}
        self.pattern = config.get("array_pattern", "RefFlash")
        self.discovery_timeout = float(config.get("discovery_timeout", 15))
        self.queue = None
        self.engine = None
        # array and SSH calls block; one worker keeps them in trap order
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(config["nodes"])))

    # -- state ----------------------------------------------------------------

    def _load_state(self):
        try:
            with open(self.state_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"backends": {}}

    def _save_state(self, state):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)
        os.replace(tmp, self.state_path)
        self.state = state

    # -- loop -----------------------------------------------------------------

    async def run(self, stop=None):
        from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

        self.queue = asyncio.Queue()
        self.engine = SnmpEngine()
        listen = self.config["listen"]
        try:
            transport = await traps.listen(
                listen["address"],
                int(listen["port"]),
                self.config["switches"],
                self.queue.put_nowait,
            )
        except OSError as exc:
            self.engine.close_dispatcher()
            raise ServiceError(
                f"cannot receive traps on {listen['address']}:{listen['port']}: {exc.strerror} "
                "(in a lab, run the controller in its namespace: ip netns exec <prefix>-ctl ...)"
            ) from None
        LOG.info(
            "ztsp: listening for traps on %s:%s from %s",
            listen["address"],
            listen["port"],
            ", ".join(s["address"] for s in self.config["switches"]),
        )
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(self.queue.get())
                halt = asyncio.ensure_future(stop.wait())
                done, _ = await asyncio.wait({get, halt}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    break
                halt.cancel()
                await self.handle(get.result())
        finally:
            transport.close()
            self.engine.close_dispatcher()
            self.pool.shutdown(wait=True)
            LOG.info("ztsp: controller stopped")

    @contextlib.contextmanager
    def step(self, steps, name):
        t0 = time.monotonic()
        try:
            yield
        except StepFailed:
            raise
        except (
            secrets.SecretError,
            provision.ArrayError,
            goldcopy.GoldCopyError,
            DeliveryError,
            lldp.WalkError,
        ) as exc:
            raise StepFailed(name, str(exc)) from None
        finally:
            steps[name] = round(time.monotonic() - t0, 3)
            LOG.info("ztsp:   step %-10s %.3fs", name, steps[name])

    async def handle(self, event):
        t0 = time.monotonic()
        steps = {}
        record = {
            "event": event.kind,
            "switch": event.switch,
            "if_index": event.if_index,
            "marks": {"trap": event.received},
        }
        try:
            if event.up:
                record.update(await self.link_up(event, steps, record["marks"]))
            else:
                record.update(await self.link_down(event, steps, record["marks"]))
        except StepFailed as exc:
            record.update(result="failed", step=exc.step, error=str(exc))
            LOG.error(
                "ztsp: %s on %s ifIndex %s: %s failed: %s; nothing delivered",
                event.kind,
                event.switch,
                event.if_index,
                exc.step,
                exc,
            )
        except Exception as exc:  # a bug must not kill the listener; say it loudly
            LOG.exception(
                "ztsp: %s on %s ifIndex %s: unexpected error",
                event.kind,
                event.switch,
                event.if_index,
            )
            record.update(result="failed", step="internal", error=repr(exc))
        record["steps"] = steps
        record["total_s"] = round(time.monotonic() - t0, 3)
        record["marks"]["done"] = time.time()
        LOG.info(
            "ztsp: %s ifIndex %s: %s%s in %.2fs (%s)",
            event.kind,
            event.if_index,
            record["result"],
            f" {record['backend']}" if record.get("backend") else "",
            record["total_s"],
            ", ".join(f"{k} {v:.2f}s" for k, v in steps.items()),
        )
        with open(self.events_path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
        return record

    async def _blocking(self, func, *args):
        return await asyncio.get_running_loop().run_in_executor(self.pool, func, *args)

    # -- linkUp ---------------------------------------------------------------

    async def discover(self, switch, if_index):
        deadline = time.monotonic() + self.discovery_timeout
        walks = 0
        while True:
            walks += 1
            found = lldp.parse(await lldp.walk(self.engine, switch["address"], switch["community"]))
            try:
                return identify.identify(found, if_index, self.pattern), walks
            except identify.NoNeighbour as exc:
                if time.monotonic() > deadline:
                    raise StepFailed("discover", f"{exc} after {walks} walks") from None
            await asyncio.sleep(0.2)

    async def link_up(self, event, steps, marks):
        switch = self.switches[event.switch]
        try:
            with self.step(steps, "discover"):
                ident, walks = await self.discover(switch, event.if_index)
        except identify.NotAnArray as exc:
            LOG.warning("ztsp: %s ifIndex %s: %s; left alone", event.switch, event.if_index, exc)
            return {"result": "ignored", "reason": str(exc)}
        marks["identified"] = time.time()
        LOG.info(
            "ztsp: port %s: array %s, data port %s, management %s (%d walks)",
            event.if_index,
            ident.sys_name,
            ident.mac,
            ident.mgmt_ip,
            walks,
        )
        with self.step(steps, "secrets"):
            creds = self.store.get(f"arrays/{ident.mac}")
        backend_conf = self.config["backend"]
        port = backend_conf["options"].get("san_api_port", 8780)
        pool = backend_conf["options"].get("refflash_pool", "pool-a")
        with self.step(steps, "provision"):
            done = await self._blocking(self._provision, ident, port, creds, pool)
        marks["configured"] = time.time()
        for change in done["changes"]:
            LOG.info("ztsp: array %s: %s", done["serial"], change)
        name = goldcopy.backend_name(backend_conf.get("name_prefix", "ztsp"), done["serial"])
        state = json.loads(json.dumps(self.state))
        state["backends"][name] = {
            "enabled": True,
            "mac": ident.mac,
            "mgmt_ip": ident.mgmt_ip,
            "serial": done["serial"],
            "switch": event.switch,
            "if_index": event.if_index,
            "pool": pool,
        }
        result = await self._publish(state, steps, marks)
        result.update(backend=name, array=done["serial"], changes=done["changes"])
        if not done["changes"] and not result["delivered"]:
            result["result"] = "unchanged"
        else:
            result["result"] = "serving"
        return result

    def _provision(self, ident, port, creds, pool):
        api = provision.ArrayAPI(f"http://{ident.mgmt_ip}:{port}")
        api.login(creds["username"], creds["password"])
        return provision.provision(api, self.config["nodes"], pool)

    # -- linkDown -------------------------------------------------------------

    async def link_down(self, event, steps, marks):
        names = [
            n
            for n, b in self.state["backends"].items()
            if b["switch"] == event.switch and b["if_index"] == event.if_index
        ]
        if not names:
            LOG.info(
                "ztsp: linkDown on %s ifIndex %s: no ZTSP array there", event.switch, event.if_index
            )
            return {"result": "ignored", "reason": "no ZTSP array on this port"}
        state = json.loads(json.dumps(self.state))
        for name in names:
            state["backends"][name]["enabled"] = False
        result = await self._publish(state, steps, marks)
        result.update(backend=names[0], result="disabled" if result["delivered"] else "unchanged")
        return result

    # -- gold copy and delivery -----------------------------------------------

    async def _publish(self, state, steps, marks):
        backend_conf = self.config["backend"]
        with self.step(steps, "render"):
            backends = []
            for name, b in sorted(state["backends"].items()):
                creds = self.store.get(f"arrays/{b['mac']}")
                opts = goldcopy.section_options(
                    backend_conf["driver"], backend_conf["options"], b["mgmt_ip"], b["pool"], creds
                )
                backends.append(
                    {
                        "name": name,
                        "enabled": b["enabled"],
                        "options": opts,
                        "array": f"{b['serial']} ({b['mac']})",
                    }
                )
            text = goldcopy.render(backends)
        LOG.debug("ztsp: gold copy:\n%s", goldcopy.redacted(text))
        with self.step(steps, "deliver"):
            deliveries = await asyncio.gather(
                *(self._blocking(deliver, node, text) for node in self.config["nodes"]),
                return_exceptions=True,
            )
            errors = [d for d in deliveries if isinstance(d, BaseException)]
            for d in deliveries:
                if not isinstance(d, BaseException):
                    LOG.info(
                        "ztsp: node %s: %s in %.2fs",
                        d.node,
                        "gold copy written, restarted" if d.changed else "unchanged",
                        d.seconds,
                    )
            if errors:
                for exc in errors:
                    if not isinstance(exc, DeliveryError):
                        raise exc
                raise DeliveryError("; ".join(str(e) for e in errors))
        marks["serving"] = time.time()
        backends_up = {}
        for d in deliveries:
            for line in d.output.splitlines():
                if line.startswith("ztsp:backends "):
                    backends_up[d.node] = json.loads(line.split(" ", 1)[1])
        self._save_state(state)
        return {"delivered": [d.node for d in deliveries if d.changed], "nodes": backends_up}


def run_controller(config_path):
    """Run until SIGTERM/SIGINT; ``ci-tools ztsp controller``."""
    config = load_config(config_path)
    try:
        controller = Controller(config)
    except secrets.SecretError as exc:
        raise ConfigError(f"{config_path}: secrets: {exc}") from None

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await controller.run(stop)

    asyncio.run(main())
    return 0
