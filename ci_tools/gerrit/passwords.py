"""Salted HTTP password hashes with hashlib's scrypt (a well-kept KDF).

A stored value reads ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``; the cost
parameters travel with the hash so they can be raised without breaking
existing accounts. Verification compares in constant time.
"""

import base64
import hashlib
import hmac
import secrets

PREFIX = "scrypt"
N, R, P = 2**14, 8, 1  # ~16 MiB and some tens of ms per check: Authenticator caches
KEY_LEN = 32


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=KEY_LEN, maxmem=64 * 1024 * 1024
    )


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, N, R, P)
    b64 = base64.b64encode
    return f"{PREFIX}${N}${R}${P}${b64(salt).decode()}${b64(digest).decode()}"


def is_hash(value):
    return isinstance(value, str) and value.startswith(PREFIX + "$") and value.count("$") == 5


def verify(password, stored):
    """Whether ``password`` matches ``stored`` (a value from ``hash_password``)."""
    if not is_hash(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    try:
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(expected, actual)
