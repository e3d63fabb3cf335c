"""Async volume-group replication between two array instances.

The primary side of a group ships each member volume to its peer over the
peer's own REST API, as arrays do over their replication links: a
point-in-time copy is taken locally, only its allocated extents travel
(``SEEK_DATA``/``SEEK_HOLE``), into a staging file on the peer that replaces
the replica in one rename on commit, so a replica is always a whole
point-in-time image, never half of one. Replicas refuse writes, mapping and
extend until their group is promoted (failover); demoting the old primary
and syncing back is failback.
"""

import logging
import os
import tempfile
import threading
import time
import uuid

import requests

from ci_tools.array.errors import ArrayError, exists, invalid, not_found
from ci_tools.array.model import _check_name, _now, sparse_copy

LOG = logging.getLogger(__name__)
CHUNK = 4 * 1024 * 1024


class PeerClient:
    """A minimal REST client for the peer array (login, JSON, raw data)."""

    def __init__(self, url, username, password, timeout=30):
        self.url = url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self.session = requests.Session()
        self.token = None

    def _login(self):
        try:
            r = self.session.post(
                f"{self.url}/api/v1/auth/login",
                json={"username": self.username, "password": self.password},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ArrayError(
                503, "replication.peer_unreachable", f"peer {self.url}: {type(exc).__name__}"
            ) from exc
        if r.status_code != 200:
            raise ArrayError(502, "replication.peer_auth", f"peer refused login: {r.status_code}")
        self.token = r.json()["token"]

    def call(self, method, path, headers=None, **kwargs):
        for attempt in (0, 1):
            if self.token is None:
                self._login()
            try:
                r = self.session.request(
                    method,
                    f"{self.url}/api/v1{path}",
                    headers={**(headers or {}), "X-Auth-Token": self.token},
                    timeout=self.timeout,
                    **kwargs,
                )
            except requests.RequestException as exc:
                raise ArrayError(
                    503, "replication.peer_unreachable", f"peer {self.url}: {type(exc).__name__}"
                ) from exc
            if r.status_code == 401 and attempt == 0:
                self.token = None
                continue
            if r.status_code >= 400:
                try:
                    err = r.json()["error"]
                except (ValueError, KeyError):
                    err = {"code": "replication.peer_error", "message": r.text[:200]}
                raise ArrayError(502, err["code"], f"peer: {err['message']}")
            return r.json() if r.content else None


def data_extents(path):
    """(offset, length) of every allocated range of a sparse file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        fd = f.fileno()
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:  # ENXIO: no data after pos
                return
            end = os.lseek(fd, start, os.SEEK_HOLE)
            yield start, end - start
            pos = end


class Replication:
    """Peer config, groups, and both ends of a sync for one array."""

    def __init__(self, array):
        self.array = array
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._pending = {}  # volume name -> metadata of an open incoming transfer

    @property
    def rstate(self):
        return self.array.state["replication"]

    # -- config -------------------------------------------------------------

    def view(self):
        with self.array.lock:
            peer = self.rstate["peer"]
            return {
                "peer": {"url": peer["url"], "username": peer["username"]} if peer else None,
                "groups": [dict(g) for g in self.rstate["groups"].values()],
            }

    def set_peer(self, body):
        for key in ("url", "username", "password"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise invalid(f"peer needs {key}")
        with self.array.lock:
            self.rstate["peer"] = {k: body[k] for k in ("url", "username", "password")}
            self.array._changed()
        return self.view()["peer"]

    def _peer(self):
        peer = self.rstate["peer"]
        if not peer:
            raise ArrayError(409, "replication.no_peer", "no replication peer is configured")
        return PeerClient(peer["url"], peer["username"], peer["password"])

    def _group(self, name):
        group = self.rstate["groups"].get(name)
        if group is None:
            raise not_found("group", name)
        return group

    def get_group(self, name):
        with self.array.lock:
            return dict(self._group(name))

    def create_group(self, body):
        with self.array.lock:
            name = _check_name("replication group", body.get("name"))
            if name in self.rstate["groups"]:
                raise exists("group", name)
            interval = body.get("interval_s", 60)
            if not isinstance(interval, int) or interval < 1:
                raise invalid("interval_s must be a positive integer")
            group = {
                "name": name,
                "role": "primary",
                "volumes": [],
                "interval_s": interval,
                "last_sync": None,
                "last_error": None,
            }
            self.rstate["groups"][name] = group
            for vol in body.get("volumes", []):
                self._add(group, vol)
            self.array._changed()
            return dict(group)

    def _add(self, group, vol_name):
        vol = self.array._volume(vol_name)
        for other in self.rstate["groups"].values():
            if vol_name in other["volumes"] and other is not group:
                raise ArrayError(
                    409, "replication.in_group", f"{vol_name!r} is in group {other['name']!r}"
                )
        if vol_name not in group["volumes"]:
            group["volumes"].append(vol_name)
        vol["replication"] = {"group": group["name"], "role": "source"}

    def add_volume(self, group_name, body):
        with self.array.lock:
            group = self._group(group_name)
            if group["role"] != "primary":
                raise ArrayError(
                    409, "replication.not_primary", f"group {group_name!r} is secondary"
                )
            self._add(group, body.get("volume"))
            self.array._changed()
            return dict(group)

    def remove_volume(self, group_name, vol_name):
        with self.array.lock:
            group = self._group(group_name)
            if vol_name not in group["volumes"]:
                raise not_found("group member", vol_name)
            group["volumes"].remove(vol_name)
            group["dirty"] = True  # the next sync tells the peer to drop the replica
            vol = self.array._volume(vol_name)
            if (vol.get("replication") or {}).get("role") == "source":
                vol["replication"] = None
            self.array._changed()
            return dict(group)

    def delete_group(self, name):
        with self.array.lock:
            group = self._group(name)
            for vol_name in group["volumes"]:
                for vol in self.array.state["volumes"].values():
                    if (
                        vol["name"] == vol_name
                        and (vol.get("replication") or {}).get("role") == "source"
                    ):
                        vol["replication"] = None
            del self.rstate["groups"][name]
            self.array._changed()

    # -- sending side ---------------------------------------------------------

    def sync(self, name):
        """Ship every member of a primary group to the peer; returns the group."""
        with self._sync_lock:
            with self.array.lock:
                group = self._group(name)
                if group["role"] != "primary":
                    raise ArrayError(
                        409, "replication.not_primary", f"group {name!r} is not primary here"
                    )
                members = list(group["volumes"])
            started = _now()
            with self.array.lock:
                group["last_attempt"] = started
            peer = self._peer()
            try:
                snapshots = {}
                for vol_name in members:
                    self._send_volume(peer, name, vol_name)
                    snapshots[vol_name] = self._send_snapshots(peer, name, vol_name)
                # the peer drops replicas (and replica snapshots) no longer listed
                peer.call("POST", f"/replicas/groups/{name}",
                          json={"volumes": members, "snapshots": snapshots})  # fmt: skip
            except ArrayError as exc:
                with self.array.lock:
                    group["last_error"] = f"{exc.code}: {exc.message}"
                    self.array._changed()
                raise
            with self.array.lock:
                group["last_sync"] = started
                group["last_error"] = None
                group.pop("dirty", None)
                self.array._changed()
                return dict(group)

    def _send_snapshots(self, peer, group, vol_name):
        """Ship the volume's snapshots the peer does not have yet (they never change)."""
        with self.array.lock:
            vol = self.array._volume(vol_name)
            local = [
                s for s in sorted(self.array.state["snapshots"].values(),
                                  key=lambda s: s["created_at"])
                if s["volume_id"] == vol["id"]
            ]  # fmt: skip
        have = {s["name"] for s in peer.call("GET", "/snapshots", params={"volume": vol_name})}
        for snap in local:
            if snap["name"] not in have:
                self._send_volume(peer, group, snap["name"], snapshot_of=vol_name)
        return [s["name"] for s in local]

    def _send_volume(self, peer, group, vol_name, snapshot_of=None):
        with self.array.lock:
            if snapshot_of:
                obj = self.array._snapshot(vol_name)
                src = self.array.snapshot_path(obj)
            else:
                obj = self.array._volume(vol_name)
                src = self.array.volume_path(obj)
            size = obj["size_bytes"]
            fd, copy_path = tempfile.mkstemp(
                dir=os.path.join(self.array.data_dir, "staging"), suffix=".send"
            )
            os.close(fd)
            sparse_copy(src, copy_path)
        try:
            begin = {"size_bytes": size, "group": group, "source_serial": self.array.serial}
            if snapshot_of:
                begin["snapshot_of"] = snapshot_of
            peer.call("PUT", f"/replicas/{vol_name}", json=begin)
            with open(copy_path, "rb") as f:
                for start, length in data_extents(copy_path):
                    f.seek(start)
                    done = 0
                    while done < length:
                        data = f.read(min(CHUNK, length - done))
                        peer.call(
                            "POST",
                            f"/replicas/{vol_name}/data",
                            params={"offset": start + done},
                            data=data,
                            headers={"Content-Type": "application/octet-stream"},
                        )
                        done += len(data)
            peer.call("POST", f"/replicas/{vol_name}/commit")
        finally:
            os.unlink(copy_path)

    # -- receiving side -------------------------------------------------------

    def _staging(self, vol_name):
        return os.path.join(self.array.data_dir, "staging", vol_name + ".recv")

    def receive_begin(self, vol_name, body):
        _check_name("volume", vol_name)
        size = body.get("size_bytes")
        if not isinstance(size, int) or size <= 0:
            raise invalid("size_bytes must be a positive integer")
        snapshot_of = body.get("snapshot_of")
        with self.array.lock:
            if snapshot_of:
                if self.array._name_taken(vol_name):
                    raise exists("snapshot", vol_name)
                self.array._volume(snapshot_of)
            else:
                self._check_replica_target(vol_name)
            path = self._staging(vol_name)
            with open(path, "wb") as f:
                f.truncate(size)
            meta = {
                "size_bytes": size,
                "group": body.get("group"),
                "source": body.get("source_serial"),
                "snapshot_of": snapshot_of,
            }
            self._pending[vol_name] = meta
        return {"staging": vol_name}

    def _check_replica_target(self, vol_name):
        for vol in self.array.state["volumes"].values():
            if vol["name"] == vol_name and (vol.get("replication") or {}).get("role") != "replica":
                raise ArrayError(
                    409,
                    "replication.conflict",
                    f"volume {vol_name!r} exists here and is not a replica; demote it first",
                )

    def receive_data(self, vol_name, offset, data):
        path = self._staging(vol_name)
        if vol_name not in self._pending:
            raise ArrayError(409, "replication.no_transfer", f"no transfer open for {vol_name!r}")
        with open(path, "r+b") as f:
            f.seek(offset)
            f.write(data)
        return {"written": len(data)}

    def receive_commit(self, vol_name):
        with self.array.lock:
            meta = self._pending.pop(vol_name, None)
            if meta is None:
                raise ArrayError(
                    409, "replication.no_transfer", f"no transfer open for {vol_name!r}"
                )
            if meta.get("snapshot_of"):
                return self._commit_snapshot(vol_name, meta)
            self._check_replica_target(vol_name)
            vol = next(
                (v for v in self.array.state["volumes"].values() if v["name"] == vol_name), None
            )
            if vol is None:
                pool = next(iter(self.array.state["pools"]))
                vol = {
                    "id": uuid.uuid4().hex,
                    "name": vol_name,
                    "pool": pool,
                    "size_bytes": meta["size_bytes"],
                    "created_at": _now(),
                    "source": {"replica_of": meta["source"]},
                    "qos": {},
                    "serial": os.urandom(8).hex(),
                    "replication": {"group": meta["group"], "role": "replica"},
                }
                self.array.state["volumes"][vol["id"]] = vol
            os.replace(self._staging(vol_name), self.array.volume_path(vol))
            vol["size_bytes"] = meta["size_bytes"]
            vol["replication"] = {"group": meta["group"], "role": "replica"}
            self.array._changed()
            return self.array.volume_view(vol)

    def _commit_snapshot(self, snap_name, meta):
        vol = self.array._volume(meta["snapshot_of"])
        if self.array._name_taken(snap_name):
            raise exists("snapshot", snap_name)
        snap = {
            "id": uuid.uuid4().hex,
            "name": snap_name,
            "volume_id": vol["id"],
            "pool": vol["pool"],
            "size_bytes": meta["size_bytes"],
            "created_at": _now(),
            "replica_of": meta["source"],
        }
        os.replace(self._staging(snap_name), self.array.snapshot_path(snap))
        self.array.state["snapshots"][snap["id"]] = snap
        self.array._changed()
        return self.array.snapshot_view(snap)

    def _prune(self, name, volumes, snapshots):
        """Drop this group's replicas (and replica snapshots) the source no longer has."""
        state = self.array.state
        for vol in list(state["volumes"].values()):
            rep = vol.get("replication") or {}
            if rep.get("group") != name or rep.get("role") != "replica":
                continue
            snaps = [s for s in state["snapshots"].values() if s["volume_id"] == vol["id"]]
            keep = None if vol["name"] not in volumes else set(snapshots.get(vol["name"], ()))
            for snap in snaps:
                if keep is None or snap["name"] not in keep:
                    self.array._remove_file(self.array.snapshot_path(snap))
                    del state["snapshots"][snap["id"]]
            if keep is None:
                LOG.info("replication %s: %s left the group at the source; removing it", name,
                         vol["name"])  # fmt: skip
                self.array._remove_file(self.array.volume_path(vol))
                del state["volumes"][vol["id"]]

    def receive_group(self, name, body):
        with self.array.lock:
            group = self.rstate["groups"].get(name)
            if group is None:
                group = {
                    "name": name,
                    "role": "secondary",
                    "volumes": [],
                    "interval_s": 60,
                    "last_sync": None,
                    "last_error": None,
                }
                self.rstate["groups"][name] = group
            if group["role"] != "secondary":
                raise ArrayError(409, "replication.conflict", f"group {name!r} is primary here")
            group["volumes"] = list(body.get("volumes", []))
            if "snapshots" in body:
                self._prune(name, set(group["volumes"]), body["snapshots"] or {})
            group["last_sync"] = _now()
            self.array._changed()
            return dict(group)

    # -- failover / failback --------------------------------------------------

    def promote(self, name):
        """Make this side's replicas writable: the group becomes primary here."""
        with self.array.lock:
            group = self._group(name)
            for vol in self.array.state["volumes"].values():
                if vol["name"] in group["volumes"]:
                    vol["replication"] = {"group": name, "role": "source"}
            group["role"] = "primary"
            self.array._changed()
            return dict(group)

    def demote(self, name):
        """Make this side's members replicas again (before failback syncs over them)."""
        with self.array.lock:
            group = self._group(name)
            members = [
                v for v in self.array.state["volumes"].values() if v["name"] in group["volumes"]
            ]
            mapped = {m["volume_id"] for m in self.array.state["mappings"].values()}
            busy = sorted(v["name"] for v in members if v["id"] in mapped)
            if busy:
                raise ArrayError(409, "volume.mapped", f"unmap {busy} before demoting {name!r}")
            for vol in members:
                vol["replication"] = {"group": name, "role": "replica"}
            group["role"] = "secondary"
            self.array._changed()
            return dict(group)

    # -- the async loop -------------------------------------------------------

    def start(self):
        self._thread = threading.Thread(target=self._loop, name="replication", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _loop(self):
        while not self._stop.wait(1.0):
            with self.array.lock:
                due = [
                    g["name"]
                    for g in self.rstate["groups"].values()
                    if g["role"] == "primary"
                    and (g["volumes"] or g.get("dirty"))
                    and time.time() - (g.get("last_attempt") or 0) >= g["interval_s"]
                ]
            for name in due:
                try:
                    self.sync(name)
                except ArrayError as exc:
                    LOG.warning("replication of %s failed: %s", name, exc.message)
                except Exception:  # the loop must survive anything and try again later
                    LOG.exception("replication of %s failed", name)
