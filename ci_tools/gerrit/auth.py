"""HTTP authentication as Gerrit 3.10 does it: HTTP Basic with the account's
HTTP password, and nothing else (Gerrit dropped digest long ago, so a client
configured for digest fails here as it would against review.opendev.org).

Passwords are stored as scrypt hashes (``passwords``). Checking one costs tens
of milliseconds, and Zuul sends Basic credentials on every REST call, so a
successful check is remembered under an HMAC of the credentials (keyed with a
per-process secret, never the password itself) for as long as the stored hash
does not change. Anything undecodable (bad base64, non-UTF-8 bytes, no colon)
is simply not an account: the caller answers 401, never 500.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import threading

REALM = "Gerrit Code Review"
CACHE_SIZE = 1024


class Authenticator:
    def __init__(self, store):
        self.store = store
        self._secret = secrets.token_bytes(32)
        self._cache = {}
        self._lock = threading.Lock()

    def challenge(self):
        return f'Basic realm="{REALM}"'

    def authenticate(self, header, method=None, uri=None):
        """The account for an Authorization header, or None (answer 401)."""
        if not header:
            return None
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(rest.strip().encode("ascii"), validate=True)
            user, sep, password = raw.decode("utf-8").partition(":")
        except (ValueError, UnicodeError, binascii.Error):
            return None
        if not sep or not user:
            return None
        key = hmac.new(self._secret, raw, hashlib.sha256).digest()
        account = self.store.account_by_username(user)
        if not account or not account["http_password"]:
            return None
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and hmac.compare_digest(cached, account["http_password"]):
            return account
        account = self.store.check_password(user, password)
        if account:
            with self._lock:
                if len(self._cache) >= CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = account["http_password"]
        return account
