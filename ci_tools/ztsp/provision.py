"""Configure a discovered array for Cinder over its REST API: hosts, host group, pool.

The Cinder nodes' iSCSI initiators become hosts (``ztsp-<node>``) in one host
group (``ztsp-cinder``): the masking that lets only those nodes be mapped the
backend's volumes. Every step reads first and writes only what is missing or
different, so a repeated linkUp changes nothing (``changes`` comes back
empty). Nothing is ever deleted here: a link going down leaves the array as
it is, data included.
"""

import logging

import requests

LOG = logging.getLogger(__name__)
HOSTGROUP = "ztsp-cinder"


class ArrayError(Exception):
    """The array refused or failed a call; the message says which and why."""

    def __init__(self, message, code=None, status=None):
        super().__init__(message)
        self.code = code
        self.status = status


class ArrayAPI:
    """A logged-in session with one array's REST API (``/api/v1``)."""

    def __init__(self, url, timeout=10):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def call(self, method, path, **kwargs):
        try:
            r = self.session.request(
                method, f"{self.url}/api/v1{path}", timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise ArrayError(
                f"array {self.url} did not answer {method} {path}: {exc.__class__.__name__}"
            ) from None
        try:
            data = r.json() if r.content else {}
        except ValueError:
            data = {}
        if r.status_code >= 400:
            err = data.get("error", {}) if isinstance(data, dict) else {}
            raise ArrayError(
                f"array {self.url}: {method} {path}: HTTP {r.status_code} "
                f"{err.get('code', '?')}: {err.get('message', r.reason)}",
                code=err.get("code"),
                status=r.status_code,
            )
        return data

    def login(self, username, password):
        try:
            token = self.call(
                "POST", "/auth/login", json={"username": username, "password": password}
            )["token"]
        except ArrayError as exc:
            if exc.status in (401, 403):
                raise ArrayError(
                    f"array {self.url} refused the credentials of {username!r} from the secret "
                    f"store ({exc.code})",
                    code=exc.code,
                    status=exc.status,
                ) from None
            raise
        except (KeyError, TypeError):
            raise ArrayError(f"array {self.url}: login answered without a token") from None
        self.session.headers["X-Auth-Token"] = token


def provision(api, nodes, pool):
    """Make the array ready for the Cinder nodes; return what it found and changed.

    ``nodes``: ``[{"name", "iqn"}]``. Returns ``{"serial", "name", "pool",
    "hostgroup", "hosts", "changes"}``.
    """
    system = api.call("GET", "/system")
    pools = {p["name"] for p in api.call("GET", "/pools")}
    if pool not in pools:
        raise ArrayError(f"array {api.url}: pool {pool!r} missing (has {sorted(pools)})")
    changes = []
    hosts = []
    for node in nodes:
        found = api.call("GET", "/hosts", params={"iqn": node["iqn"]})
        if found:  # the initiator is known (maybe under a driver-made name): keep it
            hosts.append(found[0]["name"])
            continue
        name = f"ztsp-{node['name']}"
        api.call("POST", "/hosts", json={"name": name, "iqns": [node["iqn"]]})
        changes.append(f"host {name} created ({node['iqn']})")
        hosts.append(name)
    groups = {g["name"]: g for g in api.call("GET", "/hostgroups")}
    group = groups.get(HOSTGROUP)
    if group is None:
        api.call("POST", "/hostgroups", json={"name": HOSTGROUP, "hosts": hosts})
        changes.append(f"host group {HOSTGROUP} created with {', '.join(hosts)}")
    elif set(hosts) - set(group["hosts"]):
        members = sorted(set(group["hosts"]) | set(hosts))
        api.call("PATCH", f"/hostgroups/{HOSTGROUP}", json={"hosts": members})
        changes.append(f"host group {HOSTGROUP} now {', '.join(members)}")
    return {
        "serial": system.get("serial"),
        "name": system.get("name"),
        "pool": pool,
        "hostgroup": HOSTGROUP,
        "hosts": hosts,
        "changes": changes,
    }
