"""A throwaway CA and loopback certificates for ZooKeeper's TLS port.

Zuul refuses to talk to ZooKeeper without TLS. We mint a CA per work dir
with the openssl CLI (present on every Debian machine) rather than shipping
keys: nothing secret ever lands in the repo.
"""

import os
import subprocess

from ci_tools.errors import ServiceError


def _openssl(*args, cwd):
    try:
        subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError as exc:
        raise ServiceError("openssl is not installed (see bindep.txt)") from exc
    except subprocess.CalledProcessError as exc:
        raise ServiceError(f"openssl {args[0]} failed: {exc.stderr.strip()}") from exc


class LoopbackCA:
    """Files: ca.pem, <name>.key, <name>.pem (cert) and <name>.keystore.pem (key + cert)."""

    def __init__(self, directory):
        self.directory = directory
        self.ca_cert = os.path.join(directory, "ca.pem")
        self.ca_key = os.path.join(directory, "ca.key")

    def ensure(self):
        os.makedirs(self.directory, exist_ok=True)
        if not os.path.exists(self.ca_cert):
            _openssl(
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
                "-subj", "/CN=cinder-ci-kit sandbox CA",
                "-keyout", self.ca_key, "-out", self.ca_cert, cwd=self.directory,
            )  # fmt: skip
        return self

    def issue(self, name):
        """Key and cert for ``name`` valid for localhost and 127.0.0.1."""
        key = os.path.join(self.directory, f"{name}.key")
        cert = os.path.join(self.directory, f"{name}.pem")
        keystore = os.path.join(self.directory, f"{name}.keystore.pem")
        if os.path.exists(keystore):
            return key, cert, keystore
        csr = os.path.join(self.directory, f"{name}.csr")
        ext = os.path.join(self.directory, f"{name}.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", key, "-out", csr, cwd=self.directory,
        )  # fmt: skip
        _openssl(
            "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
            "-CAcreateserial", "-days", "3650", "-extfile", ext, "-out", cert,
            cwd=self.directory,
        )  # fmt: skip
        with open(keystore, "w") as out:
            for part in (key, cert):
                with open(part) as f:
                    out.write(f.read())
        os.chmod(key, 0o600)
        os.chmod(keystore, 0o600)
        return key, cert, keystore
