"""HTTP authentication as Gerrit does it: HTTP basic or digest with the account's
HTTP password (gertty defaults to digest, Zuul and git to basic).

The challenge offers digest (clients that speak basic send it unasked);
nonces are HMACs of a timestamp, so no server-side nonce table is needed.
"""

import base64
import hashlib
import hmac
import re
import secrets
import time

REALM = "Gerrit Code Review"
NONCE_TTL = 3600


class Authenticator:
    def __init__(self, store):
        self.store = store
        self._secret = secrets.token_bytes(32)

    def _nonce(self, ts=None):
        ts = str(int(ts or time.time()))
        mac = hmac.new(self._secret, ts.encode(), hashlib.sha256).hexdigest()[:32]
        return base64.b64encode(f"{ts}:{mac}".encode()).decode()

    def _nonce_ok(self, nonce):
        try:
            ts = base64.b64decode(nonce).decode().split(":")[0]
        except (ValueError, UnicodeDecodeError):
            return False
        return (
            ts.isdigit()
            and hmac.compare_digest(self._nonce(ts), nonce)
            and time.time() - int(ts) < NONCE_TTL
        )

    def challenge(self):
        return (
            f'Digest realm="{REALM}", domain="/", qop="auth", '
            f'nonce="{self._nonce()}", algorithm=MD5'
        )

    def authenticate(self, header, method, uri=None):
        """The account for an Authorization header, or None; a digest answer must
        be for ``uri`` (the request target), so it cannot be replayed elsewhere."""
        if not header:
            return None
        scheme, _, rest = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(rest.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            account = self.store.account_by_username(user)
            if (
                account
                and account["http_password"]
                and hmac.compare_digest(account["http_password"], password)
            ):
                return account
            return None
        if scheme.lower() == "digest":
            return self._digest(rest, method, uri)
        return None

    def _digest(self, rest, method, uri):
        fields = {
            key: quoted or bare
            for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]*))', rest)
        }
        needed = ("username", "realm", "nonce", "uri", "response")
        if not all(k in fields for k in needed) or not self._nonce_ok(fields["nonce"]):
            return None
        if uri is not None and fields["uri"] != uri:
            return None
        account = self.store.account_by_username(fields["username"])
        if not account or not account["http_password"]:
            return None

        def md5(s):
            return hashlib.md5(s.encode()).hexdigest()

        ha1 = md5(f"{fields['username']}:{fields['realm']}:{account['http_password']}")
        ha2 = md5(f"{method}:{fields['uri']}")
        if fields.get("qop"):
            expected = md5(
                f"{ha1}:{fields['nonce']}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:"
                f"{fields['qop']}:{ha2}"
            )
        else:
            expected = md5(f"{ha1}:{fields['nonce']}:{ha2}")
        return account if hmac.compare_digest(expected, fields["response"]) else None
