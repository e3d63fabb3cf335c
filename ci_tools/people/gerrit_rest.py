"""A small Gerrit REST client for reading comments and posting reviews.

Built for reading upstream's Gerrit politely: every request waits for a
minimum interval (rate limit), GET answers are cached on disk for a TTL so
repeated reports do not hit Gerrit again, and 5xx answers, timeouts and
dropped connections are retried with exponential backoff. Each retry is
recorded in ``problems`` so the caller can report it; when retries run out a
``ServiceError`` names the URL and the last error. Gerrit's XSSI guard line
``)]}'`` is stripped before JSON decoding.
"""

import datetime
import hashlib
import json
import logging
import os
import threading
import time
import urllib.parse

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

from ci_tools.errors import ServiceError, UsageError

LOG = logging.getLogger(__name__)
XSSI_GUARD = ")]}'"
RETRY_STATUS = {500, 502, 503, 504}


def gerrit_datetime(text):
    """Gerrit's timestamps, UTC ``2026-11-23 12:00:00.000000000`` (nanoseconds), as
    an aware datetime; the one place the kit parses them."""
    stamp = text.split(".")[0]
    dt = datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    return dt.replace(tzinfo=datetime.UTC)


def parse_gerrit_time(text):
    """A Gerrit timestamp as epoch seconds."""
    return gerrit_datetime(text).timestamp()


def strip_guard(text):
    """Gerrit's JSON bodies start with ``)]}'`` and a newline; drop them."""
    if text.startswith(XSSI_GUARD):
        text = text[len(XSSI_GUARD) :]
    return text.lstrip("\r\n")


def decode(text, url):
    try:
        return json.loads(strip_guard(text))
    except ValueError as exc:
        raise ServiceError(f"{url}: Gerrit answered something that is not JSON ({exc})") from exc


class GerritRest:
    """Read (and, for recheck, post to) a Gerrit REST API.

    ``rate`` is the most requests per second; ``cache_dir`` with
    ``cache_ttl`` seconds enables the disk cache for GETs; ``retries``
    retries follow the first try, waiting ``backoff * 2**n`` seconds.
    """

    def __init__(
        self,
        url,
        user=None,
        password=None,
        auth="basic",
        timeout=30.0,
        rate=2.0,
        retries=4,
        backoff=1.0,
        cache_dir=None,
        cache_ttl=600,
        session=None,
    ):
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"Gerrit URL must start with http:// or https://: {url!r}")
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self.interval = 1.0 / rate if rate else 0.0
        self.retries = retries
        self.backoff = backoff
        self.cache_dir = cache_dir
        self.cache_ttl = cache_ttl
        self.session = session or requests.Session()
        self.session.headers.setdefault("Accept", "application/json")
        self.auth = None
        if user:
            if password is None:
                raise UsageError("a Gerrit user needs a password (HTTP password from Settings)")
            self.auth = (HTTPDigestAuth if auth == "digest" else HTTPBasicAuth)(user, password)
        self.problems = []  # human-readable record of retried failures
        self.requests = 0  # requests actually sent (cache hits excluded)
        self.cache_hits = 0
        self._last = 0.0
        self._lock = threading.Lock()

    # -- plumbing -------------------------------------------------------------

    def endpoint(self, path):
        """Authenticated calls go under ``/a/``, as Gerrit requires."""
        path = path.lstrip("/")
        if self.auth and not path.startswith("a/"):
            path = "a/" + path
        return self.url + path

    def _throttle(self):
        with self._lock:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()

    def _cache_path(self, url):
        key = hashlib.sha256(url.encode()).hexdigest()
        return os.path.join(self.cache_dir, key[:2], key + ".json")

    def _cache_get(self, url):
        if not self.cache_dir or self.cache_ttl <= 0:
            return None
        path = self._cache_path(url)
        try:
            if time.time() - os.path.getmtime(path) > self.cache_ttl:
                return None
            with open(path) as f:
                return f.read()
        except OSError:
            return None

    def _cache_put(self, url, text):
        if not self.cache_dir:
            return
        path = self._cache_path(url)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)  # readers never see half a file

    def _send(self, method, url, retry, **kwargs):
        attempts = 1 + (self.retries if retry else 0)
        last = None
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                self.problems.append(f"{method} {url}: {last}; retry {attempt} in {delay:g}s")
                LOG.debug("%s", self.problems[-1])
                time.sleep(delay)
            self._throttle()
            self.requests += 1
            try:
                resp = self.session.request(
                    method, url, auth=self.auth, timeout=self.timeout, **kwargs
                )
            except requests.Timeout:
                last = f"timed out after {self.timeout:g}s"
                continue
            except requests.ConnectionError as exc:
                last = f"connection failed ({exc.__class__.__name__})"
                continue
            if resp.status_code in RETRY_STATUS:
                last = f"HTTP {resp.status_code}"
                continue
            if resp.status_code in (401, 403):
                raise ServiceError(
                    f"{method} {url}: HTTP {resp.status_code}: Gerrit refused the credentials "
                    "(use the HTTP password from Gerrit's Settings page)"
                )
            if resp.status_code >= 400:
                body = resp.text.strip().splitlines()[:1]
                raise ServiceError(
                    f"{method} {url}: HTTP {resp.status_code}{': ' + body[0] if body else ''}"
                )
            return resp.text
        raise ServiceError(f"{method} {url}: gave up after {attempts} tries: {last}")

    # -- API --------------------------------------------------------------------

    def get(self, path, params=None):
        """GET a JSON resource; ``params`` is a list of pairs (Gerrit repeats ``o=``)."""
        url = self.endpoint(path)
        if params:
            url += "?" + urllib.parse.urlencode(params)
        cached = self._cache_get(url)
        if cached is not None:
            self.cache_hits += 1
            return decode(cached, url)
        text = self._send("GET", url, retry=True)
        data = decode(text, url)
        self._cache_put(url, text)
        return data

    def post(self, path, body):
        """POST JSON. Retried only when no answer came back as a server error
        before Gerrit could act (connection refused); a timeout may have
        posted already, and a doubled review comment would confuse people."""
        url = self.endpoint(path)
        challenge = getattr(getattr(self.auth, "_thread_local", None), "chal", None)
        if isinstance(self.auth, HTTPDigestAuth) and not challenge:
            # Get the digest challenge with a GET first: the POST then goes out
            # authenticated once, instead of being sent, refused with 401 and
            # sent again (some servers do not drain the refused body).
            self._send("GET", self.endpoint("accounts/self"), retry=True)
        return decode(self._post_once(url, body), url)

    def _post_once(self, url, body):
        attempts = 1 + self.retries
        last = None
        for attempt in range(attempts):
            if attempt:
                delay = self.backoff * 2 ** (attempt - 1)
                self.problems.append(f"POST {url}: {last}; retry {attempt} in {delay:g}s")
                time.sleep(delay)
            try:
                return self._send("POST", url, retry=False, json=body)
            except ServiceError as exc:
                if "connection failed" not in exc.message and "HTTP 503" not in exc.message:
                    raise
                last = exc.message.rsplit(": ", 1)[-1]
        raise ServiceError(f"POST {url}: gave up after {attempts} tries: {last}")

    def query_changes(self, query, options=(), page_size=100, limit=None):
        """Yield changes matching ``query``, paging with ``S=``/``n=`` while
        Gerrit marks the last change of a page with ``_more_changes``."""
        start = 0
        seen = 0
        while True:
            params = [("q", query), ("n", page_size), ("S", start)]
            params += [("o", opt) for opt in options]
            page = self.get("changes/", params)
            if not isinstance(page, list):
                raise ServiceError(f"changes query {query!r}: expected a list, got {type(page)}")
            for change in page:
                yield change
                seen += 1
                if limit and seen >= limit:
                    return
            if not page or not page[-1].get("_more_changes"):
                return
            start += len(page)
