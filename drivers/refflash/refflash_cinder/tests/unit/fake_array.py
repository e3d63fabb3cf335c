# Copyright 2026 The refflash CI kit authors.
#
#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""An in-memory stand-in for RefFlashClient: the array's answers, no HTTP.

Unit tests replace the REST client with this (or with a mock.Mock). It keeps
just enough state to answer the way the real array does where the driver
depends on it: 404 and 409 codes, idempotent mapping, LUN numbering, hosts
found by initiator. ``delay`` widens race windows so a missing lock shows.
"""

import threading
import time

from refflash_cinder.client import ArrayAPIError

GIB = 1024**3


class FakeArrayClient:
    def __init__(
        self, url="http://127.0.0.1:8780", username="admin", password="pw"
    ):
        self.url, self.username, self._password = url, username, password
        self.lock = threading.Lock()
        self.volumes, self.snapshots, self.hosts, self.maps = {}, {}, {}, []
        self.portals = ["127.0.0.1:3260", "127.0.0.2:3260"]
        self.target_wwns = ["5001438000000001", "5001438000000002"]
        self.delay = 0.0
        self.calls = []
        self.fail = {}  # method name -> exception to raise once

    def _enter(self, name, *args):
        self.calls.append((name, args))
        exc = self.fail.pop(name, None)
        if exc is not None:
            raise exc
        if self.delay:
            time.sleep(self.delay)

    def login(self):
        self._enter("login")
        return {"token": "t"}

    # -- volumes
    # ----------------------------------------------------------------

    def create_volume(self, name, size_gb=None, pool=None, qos=None, **source):
        self._enter("create_volume", name)
        with self.lock:
            if name in self.volumes:
                raise ArrayAPIError(409, "volume.exists", name)
            self.volumes[name] = {
                "name": name,
                "size_bytes": int((size_gb or 1) * GIB),
                "qos": qos or {},
                "source": source,
                "pool": pool,
            }
            return dict(self.volumes[name])

    def volume(self, name):
        self._enter("volume", name)
        if name not in self.volumes:
            raise ArrayAPIError(404, "volume.not_found", name)
        vol = dict(self.volumes[name])
        vol["mappings"] = [m for m in self.maps if m["volume"] == name]
        return vol

    def delete_volume(self, name):
        self._enter("delete_volume", name)
        with self.lock:
            if name not in self.volumes:
                raise ArrayAPIError(404, "volume.not_found", name)
            if any(m["volume"] == name for m in self.maps):
                raise ArrayAPIError(409, "volume.mapped", name)
            del self.volumes[name]

    # -- hosts and mappings
    # -----------------------------------------------------

    def find_host(self, iqn=None, wwpn=None):
        self._enter("find_host", iqn, wwpn)
        with self.lock:
            for host in self.hosts.values():
                if (iqn and iqn in host["iqns"]) or (
                    wwpn and wwpn in host["wwpns"]
                ):
                    return dict(host)
        return None

    def host(self, name, secrets=False):
        self._enter("host", name)
        if name not in self.hosts:
            raise ArrayAPIError(404, "host.not_found", name)
        return dict(self.hosts[name])

    def create_host(self, name, iqns=(), wwpns=(), chap=None):
        self._enter("create_host", name)
        with self.lock:
            for other in self.hosts.values():
                if set(iqns) & set(other["iqns"]) or set(wwpns) & set(
                    other["wwpns"]
                ):
                    raise ArrayAPIError(
                        409, "host.initiator_in_use", other["name"]
                    )
            self.hosts[name] = {
                "name": name,
                "iqns": list(iqns),
                "wwpns": list(wwpns),
                "chap": chap,
            }
            return dict(self.hosts[name])

    def update_host(self, host_name, **changes):
        self._enter("update_host", host_name)
        self.hosts[host_name].update(changes)

    def delete_host(self, name):
        self._enter("delete_host", name)
        with self.lock:
            if name not in self.hosts:
                raise ArrayAPIError(404, "host.not_found", name)
            if any(m["host"] == name for m in self.maps):
                raise ArrayAPIError(409, "host.mapped", name)
            del self.hosts[name]

    def mappings(self, volume=None, host=None):
        self._enter("mappings", volume, host)
        with self.lock:
            return [
                dict(m)
                for m in self.maps
                if volume in (None, m["volume"]) and host in (None, m["host"])
            ]

    def map(self, volume, host):
        self._enter("map", volume, host)
        with self.lock:
            if volume not in self.volumes:
                raise ArrayAPIError(404, "volume.not_found", volume)
            if host not in self.hosts:
                raise ArrayAPIError(404, "host.not_found", host)
            for m in self.maps:
                if m["volume"] == volume and m["host"] == host:
                    return dict(m)
            used = {m["lun"] for m in self.maps if m["host"] == host}
            mapping = {
                "volume": volume,
                "host": host,
                "lun": next(i for i in range(1, 16384) if i not in used),
            }
            self.maps.append(mapping)
            return dict(mapping)

    def unmap(self, volume, host):
        self._enter("unmap", volume, host)
        with self.lock:
            for m in self.maps:
                if m["volume"] == volume and m["host"] == host:
                    self.maps.remove(m)
                    return
        raise ArrayAPIError(404, "mapping.not_found", f"{volume} -> {host}")

    def connection(self, host):
        self._enter("connection", host)
        h = self.hosts[host]
        return {
            "host": host,
            "iscsi": {
                "target_iqn": f"iqn.2026-01.org.refflash:x.{host}",
                "portals": list(self.portals),
                "chap": h.get("chap"),
            }
            if h["iqns"]
            else None,
            "fc": {
                "target_wwns": list(self.target_wwns),
                "initiator_target_map": {
                    w: list(self.target_wwns) for w in h["wwpns"]
                },
            }
            if h["wwpns"]
            else None,
        }
