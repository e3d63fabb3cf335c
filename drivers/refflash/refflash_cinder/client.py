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

"""REST client for the refflash array: login, re-login on expiry, errors with
codes.

No cinder imports here (oslo.log only), so the client is usable (and testable)
on its own.
Credentials are never logged: requests are logged by method and path only.
"""

import time

from oslo_log import log as logging
import requests

LOG = logging.getLogger(__name__)


class ArrayAPIError(Exception):
    """The array answered with an error: HTTP status plus its stable code."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ArrayUnreachable(Exception):
    """No answer: connection refused or dropped, or the call timed out."""


class RefFlashClient:
    def __init__(
        self, url, username, password, timeout=30, retries=2, verify=True
    ):
        self.url = url.rstrip("/")
        self.username = username
        self._password = password
        self.timeout = timeout
        self.retries = retries
        self.verify = verify
        self.session = requests.Session()
        self._token = None

    def __repr__(self):
        return f"RefFlashClient({self.url!r}, user={self.username!r})"

    def login(self):
        r = self._send(
            "POST",
            "/auth/login",
            json={"username": self.username, "password": self._password},
            authed=False,
        )
        self._token = r["token"]
        return r

    def _send(self, method, path, authed=True, **kwargs):
        headers = kwargs.pop("headers", {})
        if authed:
            headers["X-Auth-Token"] = self._token or ""
        # GETs are safe to repeat; a write that got no answer may have
        # happened,
        # so it is not blindly repeated (the caller checks and cleans up).
        attempts = 1 + (self.retries if method == "GET" else 0)
        for attempt in range(attempts):
            try:
                r = self.session.request(
                    method,
                    f"{self.url}/api/v1{path}",
                    headers=headers,
                    timeout=self.timeout,
                    verify=self.verify,
                    **kwargs,
                )
                break
            except requests.RequestException as exc:
                LOG.warning(
                    "refflash %s %s: no answer (%s)",
                    method,
                    path,
                    type(exc).__name__,
                )
                if attempt + 1 == attempts:
                    raise ArrayUnreachable(
                        f"array {self.url} did not answer {method} {path}: "
                        f"{type(exc).__name__}"
                    ) from exc
                time.sleep(0.5 * (attempt + 1))
        LOG.debug("refflash %s %s -> %s", method, path, r.status_code)
        try:
            data = r.json() if r.content else {}
        except ValueError:
            data = {
                "error": {"code": "api.bad_response", "message": r.text[:200]}
            }
        if r.status_code >= 400:
            err = data.get("error") or {}
            raise ArrayAPIError(
                r.status_code,
                err.get("code", "unknown"),
                err.get("message", ""),
            )
        return data

    def call(self, method, path, **kwargs):
        if self._token is None:
            self.login()
        try:
            return self._send(method, path, **kwargs)
        except ArrayAPIError as exc:
            if exc.status != 401 or exc.code not in (
                "auth.expired",
                "auth.required",
            ):
                raise
            # the session expired (or the array restarted): once more
            self.login()
            return self._send(method, path, **kwargs)

    # -- thin helpers, one per array call the driver makes --------------------

    def system(self):
        return self.call("GET", "/system")

    def pool(self, name):
        return self.call("GET", f"/pools/{name}")

    def volume(self, name):
        return self.call("GET", f"/volumes/{name}")

    def create_volume(self, name, size_gb=None, pool=None, qos=None, **source):
        body = {
            "name": name,
            "pool": pool,
            **{k: v for k, v in source.items() if v},
        }
        if size_gb is not None:
            body["size_gb"] = size_gb
        if qos:
            body["qos"] = qos
        return self.call("POST", "/volumes", json=body)

    def update_volume(self, volume_name, **changes):
        """Extend (size_gb), rename (name) or set qos."""
        return self.call("PATCH", f"/volumes/{volume_name}", json=changes)

    def volumes(self, prefix=None):
        return self.call(
            "GET", "/volumes", params={"prefix": prefix} if prefix else {}
        )

    def delete_volume(self, name, cascade=False):
        return self.call(
            "DELETE",
            f"/volumes/{name}",
            params={"cascade": "true"} if cascade else {},
        )

    def revert_volume(self, name, snapshot):
        return self.call(
            "POST", f"/volumes/{name}/revert", json={"snapshot": snapshot}
        )

    def snapshot(self, name):
        return self.call("GET", f"/snapshots/{name}")

    def snapshots(self, volume=None):
        return self.call(
            "GET", "/snapshots", params={"volume": volume} if volume else {}
        )

    def create_snapshot(self, name, volume):
        return self.call(
            "POST", "/snapshots", json={"name": name, "volume": volume}
        )

    def rename_snapshot(self, name, new):
        return self.call("PATCH", f"/snapshots/{name}", json={"name": new})

    def delete_snapshot(self, name):
        return self.call("DELETE", f"/snapshots/{name}")

    def find_host(self, iqn=None, wwpn=None):
        params = {"iqn": iqn} if iqn else {"wwpn": wwpn}
        hosts = self.call("GET", "/hosts", params=params)
        return hosts[0] if hosts else None

    def host(self, name, secrets=False):
        return self.call(
            "GET",
            f"/hosts/{name}",
            params={"secrets": "true"} if secrets else {},
        )

    def create_host(self, name, iqns=(), wwpns=(), chap=None):
        return self.call(
            "POST",
            "/hosts",
            json={
                "name": name,
                "iqns": list(iqns),
                "wwpns": list(wwpns),
                "chap": chap,
            },
        )

    def update_host(self, host_name, **changes):
        return self.call("PATCH", f"/hosts/{host_name}", json=changes)

    def delete_host(self, name):
        return self.call("DELETE", f"/hosts/{name}")

    def connection(self, host):
        return self.call("GET", f"/hosts/{host}/connection")

    def mappings(self, volume=None, host=None):
        params = {k: v for k, v in (("volume", volume), ("host", host)) if v}
        return self.call("GET", "/mappings", params=params)

    def map(self, volume, host):
        return self.call(
            "POST", "/mappings", json={"volume": volume, "host": host}
        )

    def unmap(self, volume, host):
        return self.call(
            "DELETE", "/mappings", params={"volume": volume, "host": host}
        )

    def set_peer(self, url, username, password):
        return self.call(
            "PUT",
            "/replication/peer",
            json={"url": url, "username": username, "password": password},
        )

    def replication_group(self, name):
        return self.call("GET", f"/replication/groups/{name}")

    def create_replication_group(self, name, interval_s):
        return self.call(
            "POST",
            "/replication/groups",
            json={"name": name, "interval_s": interval_s},
        )

    def add_to_group(self, group, volume):
        return self.call(
            "POST",
            f"/replication/groups/{group}/volumes",
            json={"volume": volume},
        )

    def remove_from_group(self, group, volume):
        return self.call(
            "DELETE", f"/replication/groups/{group}/volumes/{volume}"
        )

    def group_action(self, group, action):
        return self.call("POST", f"/replication/groups/{group}/{action}")
