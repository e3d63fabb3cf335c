"""Array credentials for the controller: a file store by default, HashiCorp Vault ready.

Both stores answer ``get("arrays/<data port MAC>")`` with ``{"username",
"password"}``, so the controller never knows where the secret lives. The file
store (JSON ``{"arrays": {"<mac>": {...}}}``) refuses a file that group or
others can read. :class:`VaultStore` reads the same path from a KV version 2
engine (``GET <addr>/v1/<mount>/data/<path>``, ``X-Vault-Token``); it is
written to Vault's documented API and not exercised by this kit's tests.
Messages name the path, never a value.
"""

import json
import os
import stat

import requests


class SecretError(Exception):
    """The store cannot answer (missing, unreadable, badly formed, or no such secret)."""


class SecretStore:
    def get(self, path):
        """The secret at ``path`` as a dict; raises SecretError."""
        raise NotImplementedError


def _check(path, secret):
    if not isinstance(secret, dict) or not secret.get("username") or not secret.get("password"):
        raise SecretError(f"secret {path}: needs a username and a password")
    return {"username": str(secret["username"]), "password": str(secret["password"])}


class FileStore(SecretStore):
    def __init__(self, path):
        self.path = path

    def get(self, path):
        try:
            mode = os.stat(self.path).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise SecretError(
                    f"{self.path}: readable by group or others (mode {stat.S_IMODE(mode):o}); "
                    "chmod 600 it"
                )
            with open(self.path) as f:
                data = json.load(f)
        except OSError as exc:
            raise SecretError(f"secret store {self.path}: {exc.strerror}") from None
        except ValueError as exc:
            raise SecretError(f"secret store {self.path}: not JSON ({exc.msg})") from None
        node = data
        for part in path.split("/"):
            if not isinstance(node, dict) or part not in node:
                raise SecretError(f"no secret {path} in {self.path}")
            node = node[part]
        return _check(path, node)


class VaultStore(SecretStore):
    def __init__(self, address, token, mount="secret", timeout=10):
        self.address = address.rstrip("/")
        self.token = token
        self.mount = mount
        self.timeout = timeout

    def get(self, path):
        url = f"{self.address}/v1/{self.mount}/data/{path}"
        try:
            r = requests.get(url, headers={"X-Vault-Token": self.token}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise SecretError(f"vault {self.address}: {exc.__class__.__name__}") from None
        if r.status_code == 404:
            raise SecretError(f"no secret {path} in vault {self.address} ({self.mount})")
        if r.status_code != 200:
            raise SecretError(f"vault {self.address}: {path}: HTTP {r.status_code}")
        try:
            return _check(path, r.json()["data"]["data"])
        except (ValueError, KeyError, TypeError):
            raise SecretError(f"vault {self.address}: {path}: not a KV v2 answer") from None


def make_store(config):
    """The store a controller config's ``secrets`` section names."""
    kind = config.get("backend", "file")
    if kind == "file":
        return FileStore(config["path"])
    if kind == "vault":
        token = os.environ.get(config.get("token_env", "VAULT_TOKEN"))
        if not token:
            raise SecretError(f"vault: ${config.get('token_env', 'VAULT_TOKEN')} is not set")
        return VaultStore(config["address"], token, config.get("mount", "secret"))
    raise SecretError(f"secrets backend {kind!r}: expected file or vault")
