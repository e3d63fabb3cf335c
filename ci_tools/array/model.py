"""The array's objects and rules, persisted in a data dir.

Everything an array knows lives in ``<data-dir>/state.json`` (written
atomically after every change) and the blocks live in sparse files under
``<data-dir>/volumes`` and ``<data-dir>/snapshots``, so an array restarted on
the same data dir comes back with its volumes, data, hosts and mappings.
Volumes are addressed by name in the API and by an internal id on disk, so a
rename (Cinder's manage/unmanage) never touches the blocks.

Every public method takes the one lock: the array is a serialising
controller, which keeps its rules (LUN ids, capacity) simple and true.
"""

import copy
import hashlib
import json
import math
import os
import re
import secrets
import subprocess
import threading
import time
import uuid

from ci_tools.array.errors import ArrayError, exists, invalid, not_found

GIB = 1024**3
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
IQN_RE = re.compile(r"^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16})$")
WWPN_RE = re.compile(r"^[0-9a-f]{16}$")
CONTROLLERS = ("ct0", "ct1")
QOS_KEYS = ("max_iops", "max_mbps")
# Like a real array's limits: a volume is at most 64 TiB (thin, so a pool may
# hold more than it has), at least 1 MiB.
MAX_VOLUME_GB = 64 * 1024
MIN_VOLUME_GB = 1 / 1024
# What one checksum call may read: enough for a data-path test's pattern,
# small enough that an admin's call never reads a 64 TiB volume end to end.
MAX_CHECKSUM_BYTES = 256 * 1024 * 1024


def _now():
    return time.time()


def _check_name(kind, name):
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise invalid(f"{kind} name {name!r} must match {NAME_RE.pattern}")
    return name


def normalize_wwpn(wwpn):
    """``50:01:43:80:12:34:56:78`` or ``5001438012345678`` -> ``5001438012345678``."""
    if not isinstance(wwpn, str):
        raise invalid(f"WWPN {wwpn!r} must be a string")
    value = wwpn.replace(":", "").lower()
    if not WWPN_RE.match(value):
        raise invalid(f"WWPN {wwpn!r} is not 16 hex digits")
    return value


def size_from_gb(size_gb):
    """Bytes of a size in GiB: a finite number from 1 MiB to MAX_VOLUME_GB, else 400."""
    if (
        isinstance(size_gb, bool)
        or not isinstance(size_gb, (int, float))
        or not math.isfinite(size_gb)
        or not MIN_VOLUME_GB <= size_gb <= MAX_VOLUME_GB
    ):
        raise ArrayError(
            400,
            "volume.invalid_size",
            f"size_gb must be a number from {MIN_VOLUME_GB} to {MAX_VOLUME_GB}, got {size_gb!r}",
        )
    return int(size_gb * GIB) // 512 * 512


def sparse_copy(src, dst):
    """Point-in-time copy: shares blocks where the filesystem can, keeps holes."""
    subprocess.run(
        ["cp", "--reflink=auto", "--sparse=always", src, dst],
        check=True,
        capture_output=True,
    )


def allocated_bytes(path):
    try:
        return os.stat(path).st_blocks * 512
    except FileNotFoundError:
        return 0


class Array:
    """One array: state, files and the rules between them."""

    def __init__(self, data_dir, name="refflash", pools=None, exporter=None):
        self.data_dir = os.path.abspath(data_dir)
        self.lock = threading.RLock()
        self.exporter = exporter
        for sub in ("volumes", "snapshots", "staging"):
            os.makedirs(os.path.join(self.data_dir, sub), exist_ok=True)
        self.state_path = os.path.join(self.data_dir, "state.json")
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)
        else:
            self.state = self._new_state(name, pools or {"pool-a": 100})
            self._save()

    # -- persistence ---------------------------------------------------------

    @staticmethod
    def _new_state(name, pools):
        serial = secrets.token_hex(4).upper()
        return {
            "name": name,
            "serial": serial,
            "created_at": _now(),
            "pools": {
                p: {"name": p, "capacity_bytes": int(gb * GIB)} for p, gb in sorted(pools.items())
            },
            "volumes": {},
            "snapshots": {},
            "hosts": {},
            "hostgroups": {},
            "mappings": {},
            "controllers": {c: {"name": c, "state": "online"} for c in CONTROLLERS},
            "fabric": {},
            "replication": {"peer": None, "groups": {}},
        }

    def _save(self):
        tmp = self.state_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.state, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_path)

    def _changed(self, export=False):
        self._save()
        if export:
            self.export()

    def export(self):
        """Hand the exporter (tgtd) the current host -> LUN view."""
        if self.exporter is not None:
            self.exporter.apply(self.export_view())

    # -- paths and lookups ---------------------------------------------------

    @property
    def serial(self):
        return self.state["serial"]

    def volume_path(self, vol):
        return os.path.join(self.data_dir, "volumes", vol["id"] + ".img")

    def snapshot_path(self, snap):
        return os.path.join(self.data_dir, "snapshots", snap["id"] + ".img")

    def _volume(self, name):
        for vol in self.state["volumes"].values():
            if vol["name"] == name:
                return vol
        raise not_found("volume", name)

    def _snapshot(self, name):
        for snap in self.state["snapshots"].values():
            if snap["name"] == name:
                return snap
        raise not_found("snapshot", name)

    def _pool(self, name):
        pool = self.state["pools"].get(name)
        if pool is None:
            raise not_found("pool", name)
        return pool

    def _host(self, name):
        host = self.state["hosts"].get(name)
        if host is None:
            raise not_found("host", name)
        return host

    def _hostgroup(self, name):
        group = self.state["hostgroups"].get(name)
        if group is None:
            raise not_found("hostgroup", name)
        return group

    def _name_taken(self, name):
        return any(v["name"] == name for v in self.state["volumes"].values()) or any(
            s["name"] == name for s in self.state["snapshots"].values()
        )

    # -- system and pools ----------------------------------------------------

    def system(self):
        with self.lock:
            s = self.state
            return {
                "name": s["name"],
                "serial": s["serial"],
                "model": "refflash-sim",
                "api_versions": ["v1"],
                "controllers": [dict(c) for c in s["controllers"].values()],
            }

    def pool_view(self, pool):
        vols = [v for v in self.state["volumes"].values() if v["pool"] == pool["name"]]
        snaps = [s for s in self.state["snapshots"].values() if s["pool"] == pool["name"]]
        used = sum(allocated_bytes(self.volume_path(v)) for v in vols)
        used += sum(allocated_bytes(self.snapshot_path(s)) for s in snaps)
        provisioned = sum(v["size_bytes"] for v in vols)
        capacity = pool["capacity_bytes"]
        return {
            "name": pool["name"],
            "capacity_bytes": capacity,
            "used_bytes": used,
            "free_bytes": max(capacity - used, 0),
            "provisioned_bytes": provisioned,
            "volume_count": len(vols),
            "snapshot_count": len(snaps),
            "thin_provisioning": True,
        }

    def list_pools(self):
        with self.lock:
            return [self.pool_view(p) for p in self.state["pools"].values()]

    def get_pool(self, name):
        with self.lock:
            return self.pool_view(self._pool(name))

    def _reserve(self, pool, needed, what):
        view = self.pool_view(pool)
        if needed > view["free_bytes"]:
            raise ArrayError(
                507,
                "pool.out_of_space",
                f"pool {pool['name']!r} has {view['free_bytes']} bytes free, {what} needs {needed}",
            )

    # -- volumes -------------------------------------------------------------

    def volume_view(self, vol):
        view = copy.deepcopy(vol)
        view["size_gb"] = vol["size_bytes"] / GIB
        view["used_bytes"] = allocated_bytes(self.volume_path(vol))
        view["mappings"] = [
            m for m in self.state["mappings"].values() if m["volume_id"] == vol["id"]
        ]
        view["snapshots"] = sorted(
            s["name"] for s in self.state["snapshots"].values() if s["volume_id"] == vol["id"]
        )
        return view

    def list_volumes(self, prefix=None):
        with self.lock:
            return [
                self.volume_view(v)
                for v in sorted(self.state["volumes"].values(), key=lambda v: v["created_at"])
                if prefix is None or v["name"].startswith(prefix)
            ]

    def get_volume(self, name):
        with self.lock:
            return self.volume_view(self._volume(name))

    def create_volume(self, body):
        with self.lock:
            name = _check_name("volume", body.get("name"))
            if self._name_taken(name):
                raise exists("volume", name)
            source_snap = body.get("source_snapshot")
            source_vol = body.get("source_volume")
            if source_snap and source_vol:
                raise invalid("give source_snapshot or source_volume, not both")
            qos = self._check_qos(body.get("qos") or {})
            if source_snap:
                src = self._snapshot(source_snap)
                src_path, src_size = self.snapshot_path(src), src["size_bytes"]
                pool = self._pool(body.get("pool") or src["pool"])
            elif source_vol:
                src = self._volume(source_vol)
                self._writable(src, "clone")
                src_path, src_size = self.volume_path(src), src["size_bytes"]
                pool = self._pool(body.get("pool") or src["pool"])
            else:
                src_path, src_size = None, 0
                pool = self._pool(body.get("pool") or next(iter(self.state["pools"])))
            size = size_from_gb(body["size_gb"]) if "size_gb" in body else src_size
            if not size:
                raise invalid("size_gb is required for a new volume")
            if size < src_size:
                raise ArrayError(
                    400, "volume.size_too_small", f"size {size} is below the source's {src_size}"
                )
            vol = {
                "id": uuid.uuid4().hex,
                "name": name,
                "pool": pool["name"],
                "size_bytes": size,
                "created_at": _now(),
                "source": {"snapshot": source_snap, "volume": source_vol},
                "qos": qos,
                "serial": secrets.token_hex(8),
                "replication": None,
            }
            path = self.volume_path(vol)
            if src_path:
                self._reserve(
                    pool, allocated_bytes(src_path), f"copy of {source_snap or source_vol}"
                )
            try:
                if src_path:
                    sparse_copy(src_path, path)
                with open(path, "ab") as f:
                    f.truncate(size)
            except BaseException:
                self._remove_file(path)  # a failed create leaves no file behind
                raise
            self.state["volumes"][vol["id"]] = vol
            self._changed()
            return self.volume_view(vol)

    def _check_qos(self, qos):
        if not isinstance(qos, dict):
            raise invalid("qos must be an object")
        out = {}
        for key, value in qos.items():
            if key not in QOS_KEYS:
                raise ArrayError(400, "qos.invalid", f"unknown QoS key {key!r}; known: {QOS_KEYS}")
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ArrayError(400, "qos.invalid", f"QoS {key} must be a positive integer")
            out[key] = value
        return out

    @staticmethod
    def _writable(vol, action):
        rep = vol.get("replication") or {}
        if rep.get("role") == "replica":
            raise ArrayError(
                409,
                "volume.is_replica",
                f"volume {vol['name']!r} is a replication target; promote its group to {action} it",
            )

    def update_volume(self, name, body):
        """Extend (``size_gb``), rename (``name``), set ``qos``."""
        with self.lock:
            vol = self._volume(name)
            export = False
            if "size_gb" in body:
                self._writable(vol, "extend")
                size = size_from_gb(body["size_gb"])
                if size < vol["size_bytes"]:
                    raise ArrayError(400, "volume.shrink_not_allowed", "volumes can only grow")
                with open(self.volume_path(vol), "ab") as f:
                    f.truncate(size)
                vol["size_bytes"] = size
                export = True
            if "qos" in body:
                vol["qos"] = self._check_qos(body["qos"] or {})
            if "name" in body and body["name"] != vol["name"]:
                new = _check_name("volume", body["name"])
                if self._name_taken(new):
                    raise exists("volume", new)
                vol["name"] = new
            self._changed(export=export)
            return self.volume_view(vol)

    def delete_volume(self, name, cascade=False):
        with self.lock:
            vol = self._volume(name)
            if any(m["volume_id"] == vol["id"] for m in self.state["mappings"].values()):
                raise ArrayError(409, "volume.mapped", f"volume {name!r} is mapped; unmap it first")
            snaps = [s for s in self.state["snapshots"].values() if s["volume_id"] == vol["id"]]
            if snaps and not cascade:
                raise ArrayError(
                    409,
                    "volume.has_snapshots",
                    f"volume {name!r} has snapshots {sorted(s['name'] for s in snaps)}",
                )
            for group in self.state["replication"]["groups"].values():
                if vol["name"] in group["volumes"]:
                    group["volumes"].remove(vol["name"])
                    group["dirty"] = True  # the next sync drops the replica on the peer
            for snap in snaps:
                self._remove_file(self.snapshot_path(snap))
                del self.state["snapshots"][snap["id"]]
            self._remove_file(self.volume_path(vol))
            del self.state["volumes"][vol["id"]]
            self._changed()

    def checksum_volume(self, name, offset, length):
        """SHA-256 of ``length`` bytes of the volume's blocks from ``offset``.

        Read from the backing store, the bytes tgtd serves: a test compares
        what an initiator wrote with what the array holds. ``length`` is at
        most MAX_CHECKSUM_BYTES and the range lies inside the volume.
        """
        for what, value in (("offset", offset), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise invalid(f"{what} must be a whole number of bytes, got {value!r}")
        if not 0 < length <= MAX_CHECKSUM_BYTES:
            raise ArrayError(
                400, "checksum.invalid_length",
                f"length must be from 1 to {MAX_CHECKSUM_BYTES} bytes, got {length}",
            )  # fmt: skip
        with self.lock:
            vol = self._volume(name)
            size, path = vol["size_bytes"], self.volume_path(vol)
        if offset + length > size:
            raise ArrayError(
                400, "checksum.out_of_range",
                f"bytes {offset}..{offset + length} lie past the end of volume {name!r} "
                f"({size} bytes)",
            )  # fmt: skip
        # Read outside the lock: a big range must not stall the array's other
        # calls. The file is sparse: holes read as zeros, as the LUN does.
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                left = length
                while left:
                    chunk = f.read(min(left, 1024 * 1024))
                    if not chunk:  # a file shorter than its volume reads zeros
                        chunk = bytes(min(left, 1024 * 1024))
                    digest.update(chunk)
                    left -= len(chunk)
        except FileNotFoundError:
            raise not_found("volume", name) from None  # deleted meanwhile
        return {"volume": name, "offset": offset, "length": length,
                "algorithm": "sha256", "sha256": digest.hexdigest()}  # fmt: skip

    @staticmethod
    def _remove_file(path):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    # -- snapshots -----------------------------------------------------------

    def snapshot_view(self, snap):
        view = dict(snap)
        view["size_gb"] = snap["size_bytes"] / GIB
        view["used_bytes"] = allocated_bytes(self.snapshot_path(snap))
        vol = self.state["volumes"].get(snap["volume_id"])
        view["volume"] = vol["name"] if vol else None
        return view

    def list_snapshots(self, volume=None, prefix=None):
        with self.lock:
            vol_id = self._volume(volume)["id"] if volume else None
            return [
                self.snapshot_view(s)
                for s in sorted(self.state["snapshots"].values(), key=lambda s: s["created_at"])
                if (vol_id is None or s["volume_id"] == vol_id)
                and (prefix is None or s["name"].startswith(prefix))
            ]

    def get_snapshot(self, name):
        with self.lock:
            return self.snapshot_view(self._snapshot(name))

    def create_snapshot(self, body):
        with self.lock:
            name = _check_name("snapshot", body.get("name"))
            vol = self._volume(body.get("volume"))
            if self._name_taken(name):
                raise exists("snapshot", name)
            pool = self._pool(vol["pool"])
            src = self.volume_path(vol)
            self._reserve(pool, allocated_bytes(src), f"snapshot of {vol['name']}")
            snap = {
                "id": uuid.uuid4().hex,
                "name": name,
                "volume_id": vol["id"],
                "pool": vol["pool"],
                "size_bytes": vol["size_bytes"],
                "created_at": _now(),
            }
            sparse_copy(src, self.snapshot_path(snap))
            self.state["snapshots"][snap["id"]] = snap
            self._changed()
            return self.snapshot_view(snap)

    def update_snapshot(self, name, body):
        with self.lock:
            snap = self._snapshot(name)
            if "name" in body and body["name"] != snap["name"]:
                new = _check_name("snapshot", body["name"])
                if self._name_taken(new):
                    raise exists("snapshot", new)
                snap["name"] = new
            self._changed()
            return self.snapshot_view(snap)

    def delete_snapshot(self, name):
        with self.lock:
            snap = self._snapshot(name)
            self._remove_file(self.snapshot_path(snap))
            del self.state["snapshots"][snap["id"]]
            self._changed()

    def revert_volume(self, name, body):
        """Put the snapshot's blocks (and size) back into the volume, in place."""
        with self.lock:
            vol = self._volume(name)
            self._writable(vol, "revert")
            snap = self._snapshot(body.get("snapshot"))
            if snap["volume_id"] != vol["id"]:
                raise ArrayError(
                    400,
                    "snapshot.wrong_volume",
                    f"snapshot {snap['name']!r} is not of volume {name!r}",
                )
            # cp onto the existing file keeps its inode, so tgtd's open LUN sees the change.
            sparse_copy(self.snapshot_path(snap), self.volume_path(vol))
            with open(self.volume_path(vol), "ab") as f:
                f.truncate(snap["size_bytes"])
            vol["size_bytes"] = snap["size_bytes"]
            self._changed(export=True)
            return self.volume_view(vol)

    # -- hosts, host groups, masking ----------------------------------------

    def _check_initiators(self, host_name, iqns, wwpns):
        if not isinstance(iqns, list) or not isinstance(wwpns, list):
            raise invalid("iqns and wwpns must be lists")
        for iqn in iqns:
            if not isinstance(iqn, str) or not IQN_RE.match(iqn):
                raise invalid(f"{iqn!r} is not an iSCSI qualified name")
        wwpns = [normalize_wwpn(w) for w in wwpns]
        for other in self.state["hosts"].values():
            if other["name"] == host_name:
                continue
            clash = set(iqns) & set(other["iqns"]) or set(wwpns) & set(other["wwpns"])
            if clash:
                raise ArrayError(
                    409,
                    "host.initiator_in_use",
                    f"initiator {sorted(clash)[0]} already belongs to host {other['name']!r}",
                )
        return list(iqns), wwpns

    def _check_chap(self, chap):
        if chap is None:
            return None
        if not isinstance(chap, dict) or set(chap) != {"username", "secret"}:
            raise invalid("chap must be {username, secret}")
        if not (12 <= len(chap["secret"]) <= 16) or not chap["username"]:
            # The iSCSI spec (and tgtd, Windows, most arrays) wants 12-16 bytes.
            raise ArrayError(400, "chap.invalid", "CHAP secret must be 12 to 16 characters")
        return {"username": chap["username"], "secret": chap["secret"]}

    def host_view(self, host, secrets_too=False):
        view = copy.deepcopy(host)
        if view.get("chap") and not secrets_too:
            view["chap"] = {"username": view["chap"]["username"], "secret": "***"}
        view["target_iqn"] = self.target_iqn(host["name"])
        view["groups"] = sorted(
            g["name"] for g in self.state["hostgroups"].values() if host["name"] in g["hosts"]
        )
        return view

    def list_hosts(self):
        with self.lock:
            return [self.host_view(h) for h in self.state["hosts"].values()]

    def get_host(self, name, secrets_too=False):
        with self.lock:
            return self.host_view(self._host(name), secrets_too)

    def find_host(self, iqn=None, wwpn=None):
        with self.lock:
            wwpn = normalize_wwpn(wwpn) if wwpn else None
            for host in self.state["hosts"].values():
                if (iqn and iqn in host["iqns"]) or (wwpn and wwpn in host["wwpns"]):
                    return self.host_view(host)
            raise not_found("host", iqn or wwpn)

    def create_host(self, body):
        with self.lock:
            name = _check_name("host", body.get("name"))
            if name in self.state["hosts"]:
                raise exists("host", name)
            iqns, wwpns = self._check_initiators(name, body.get("iqns", []), body.get("wwpns", []))
            host = {
                "name": name,
                "iqns": iqns,
                "wwpns": wwpns,
                "chap": self._check_chap(body.get("chap")),
                "created_at": _now(),
            }
            self.state["hosts"][name] = host
            self._changed(export=True)
            return self.host_view(host)

    def update_host(self, name, body):
        with self.lock:
            host = self._host(name)
            iqns = body.get("iqns", host["iqns"])
            wwpns = body.get("wwpns", host["wwpns"])
            host["iqns"], host["wwpns"] = self._check_initiators(name, iqns, wwpns)
            if "chap" in body:
                host["chap"] = self._check_chap(body["chap"])
            self._changed(export=True)
            return self.host_view(host)

    def delete_host(self, name):
        with self.lock:
            self._host(name)
            if any(m.get("host") == name for m in self.state["mappings"].values()):
                raise ArrayError(409, "host.mapped", f"host {name!r} still has volumes mapped")
            for group in self.state["hostgroups"].values():
                if name in group["hosts"]:
                    group["hosts"].remove(name)
            del self.state["hosts"][name]
            self._changed(export=True)

    def list_hostgroups(self):
        with self.lock:
            return [dict(g) for g in self.state["hostgroups"].values()]

    def create_hostgroup(self, body):
        with self.lock:
            name = _check_name("hostgroup", body.get("name"))
            if name in self.state["hostgroups"]:
                raise exists("hostgroup", name)
            hosts = body.get("hosts", [])
            for h in hosts:
                self._host(h)
            group = {"name": name, "hosts": list(hosts)}
            self.state["hostgroups"][name] = group
            self._changed()
            return dict(group)

    def update_hostgroup(self, name, body):
        with self.lock:
            group = self._hostgroup(name)
            hosts = body.get("hosts", group["hosts"])
            for h in hosts:
                self._host(h)
            group["hosts"] = list(hosts)
            self._changed(export=True)
            return dict(group)

    def delete_hostgroup(self, name):
        with self.lock:
            self._hostgroup(name)
            if any(m.get("hostgroup") == name for m in self.state["mappings"].values()):
                raise ArrayError(409, "hostgroup.mapped", f"host group {name!r} has volumes mapped")
            del self.state["hostgroups"][name]
            self._changed()

    def _hosts_of(self, mapping):
        if mapping.get("host"):
            return [mapping["host"]]
        return list(self.state["hostgroups"].get(mapping["hostgroup"], {}).get("hosts", []))

    def _luns_of_host(self, host_name):
        return {
            m["lun"]: m for m in self.state["mappings"].values() if host_name in self._hosts_of(m)
        }

    def mapping_view(self, mapping):
        view = dict(mapping)
        vol = self.state["volumes"].get(mapping["volume_id"])
        view["volume"] = vol["name"] if vol else None
        return view

    def list_mappings(self, volume=None, host=None):
        with self.lock:
            out = []
            for m in self.state["mappings"].values():
                if volume and self.state["volumes"][m["volume_id"]]["name"] != volume:
                    continue
                if host and host not in self._hosts_of(m):
                    continue
                out.append(self.mapping_view(m))
            return sorted(out, key=lambda m: (m.get("host") or m.get("hostgroup"), m["lun"]))

    def create_mapping(self, body):
        """Map a volume to a host or host group; idempotent for the same pair."""
        with self.lock:
            vol = self._volume(body.get("volume"))
            self._writable(vol, "map")
            host, group = body.get("host"), body.get("hostgroup")
            if bool(host) == bool(group):
                raise invalid("give exactly one of host or hostgroup")
            if host:
                self._host(host)
            else:
                self._hostgroup(group)
            for m in self.state["mappings"].values():
                if (
                    m["volume_id"] == vol["id"]
                    and m.get("host") == host
                    and m.get("hostgroup") == group
                ):
                    return self.mapping_view(m)
            probe = {"host": host, "hostgroup": group}
            used = set()
            for h in self._hosts_of(probe):
                used |= set(self._luns_of_host(h))
            lun = body.get("lun")
            if lun is not None:
                if isinstance(lun, bool) or not isinstance(lun, int) or not 1 <= lun <= 16383:
                    raise invalid("lun must be an integer from 1 to 16383")
                if lun in used:
                    raise ArrayError(409, "mapping.lun_in_use", f"LUN {lun} is already used")
            else:
                lun = next(i for i in range(1, 16384) if i not in used)
            mapping = {
                "id": uuid.uuid4().hex,
                "volume_id": vol["id"],
                "host": host,
                "hostgroup": group,
                "lun": lun,
                "created_at": _now(),
            }
            self.state["mappings"][mapping["id"]] = mapping
            self._changed(export=True)
            return self.mapping_view(mapping)

    def delete_mapping(self, volume, host=None, hostgroup=None):
        with self.lock:
            vol = self._volume(volume)
            for mid, m in list(self.state["mappings"].items()):
                if m["volume_id"] == vol["id"] and (
                    (host and m.get("host") == host)
                    or (hostgroup and m.get("hostgroup") == hostgroup)
                ):
                    del self.state["mappings"][mid]
                    self._changed(export=True)
                    return
            raise not_found("mapping", f"{volume} -> {host or hostgroup}")

    # -- iSCSI view ----------------------------------------------------------

    def target_iqn(self, host_name):
        return f"iqn.2026-01.org.refflash:{self.serial.lower()}.{host_name.lower()}"

    def export_view(self):
        """One iSCSI target per iSCSI host with volumes mapped: its LUNs, ACL and CHAP."""
        view = {}
        for host in self.state["hosts"].values():
            if not host["iqns"]:
                continue
            luns = {}
            for lun, m in self._luns_of_host(host["name"]).items():
                vol = self.state["volumes"].get(m["volume_id"])
                if vol:
                    luns[lun] = {"path": self.volume_path(vol), "size": vol["size_bytes"]}
            if not luns:
                continue  # like a real array: nothing mapped, nothing to discover
            view[self.target_iqn(host["name"])] = {
                "luns": luns,
                "acl": sorted(host["iqns"]),
                "chap": dict(host["chap"]) if host.get("chap") else None,
            }
        return view

    def online_controllers(self):
        return [c for c, v in self.state["controllers"].items() if v["state"] == "online"]

    def set_controller(self, name, state):
        with self.lock:
            if name not in self.state["controllers"]:
                raise not_found("controller", name)
            if state not in ("online", "offline"):
                raise invalid("controller state is online or offline")
            self.state["controllers"][name]["state"] = state
            self._changed()
            return dict(self.state["controllers"][name])
