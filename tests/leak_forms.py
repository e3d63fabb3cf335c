"""Secrets in every form an attacker or a careless service puts them in a log.

Shared by the scrub module's unit tests and the functional test that plants
them in a real job's logs. ``LeakForms(job_secret, listed_secret)`` makes the
files (path relative to the node's collected dir -> bytes) and, per form, the
needles that must not appear anywhere in what is published: the test reads
every published file decompressed (tar and zip members too) and every path.

Three kinds of secret: the job's own Zuul secret (only the scrubber's
``secrets`` input knows it), a value in the node's ``secrets.txt`` list, and
values nobody lists (a CHAP secret the driver generated, a bearer token, a
private key, a URL password), which only the patterns can catch.
"""

import base64
import bz2
import gzip
import html
import io
import json
import lzma
import os
import re
import secrets
import subprocess
import tarfile
import tempfile
import urllib.parse
import zipfile

BENIGN = "INFO cinder.volume.manager Volume vol-1 created successfully."


def _tar(members, gz=True):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gz else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _b64_inside(prefix, value, urlsafe=False):
    enc = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return enc((prefix + value).encode()).decode()


def ssh_private_key():
    """A real OpenSSH private key (ed25519), made here and thrown away."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
        with open(path) as f:
            return f.read()


class LeakForms:
    def __init__(self, job_secret=None, listed_secret=None):
        h = secrets.token_hex
        # The job's secret holds every character that an encoding changes.
        self.job = job_secret or f"Jb@{h(5)}\\{h(3)}/&'x{h(2)}"
        self.listed = listed_secret or f"lst{h(8)}"
        self.chap = [f"chp{h(7)}{i}" for i in range(6)]
        self.bearer = base64.urlsafe_b64encode(secrets.token_bytes(30)).decode().rstrip("=")
        self.basic_pw = f"bas{h(8)}"
        self.url_pw = f"u{h(3)}@{h(5)}"
        self.fernet = base64.urlsafe_b64encode(b"\x80" + secrets.token_bytes(120)).decode()
        self.key = ssh_private_key()
        self.key_lines = [ln for ln in self.key.splitlines() if "-----" not in ln]
        self.files = {}
        self.needles = {}
        self._plant()

    @property
    def raw_secrets(self):
        """Every secret as itself: none may appear anywhere, in any form."""
        return [self.job, self.listed, *self.chap, self.bearer, self.basic_pw, self.url_pw,
                self.fernet, *self.key_lines]  # fmt: skip

    def add(self, form, path, data, needles=None):
        if isinstance(data, str):
            data = data.encode()
        self.files[path] = self.files.get(path, b"") + data
        self.needles[form] = [n for n in (needles or []) if n]

    def _text(self, line):
        return f"{BENIGN}\n{line}\n{BENIGN}\n"

    def _plant(self):
        j, lst = self.job, self.listed
        quoted = urllib.parse.quote(j, safe="")
        self.add("plain value", "logs/c-vol.log", self._text(f"DEBUG logged in with {j} ok"), [j])
        self.add("config line", "etc/cinder/backends.conf",
                 f"[refflash-1]\nsan_ip = 127.0.0.1\nsan_password = {j}\n", [j])  # fmt: skip
        dumped = json.dumps({"msg": f"array login {j}"})
        self.add("JSON, backslash doubled", "logs/c-api.log", self._text(dumped),
                 [json.dumps(j)[1:-1]])  # fmt: skip
        self.add("repr(), backslash doubled", "logs/c-sch.log",
                 self._text(repr({"msg": j})), [repr(j)[1:-1]])  # fmt: skip
        double = json.dumps(json.dumps({"m": j}))
        self.add("JSON twice, backslashes quadrupled", "logs/c-bak.log", self._text(double),
                 [json.dumps(json.dumps(j))[1:-1]])  # fmt: skip
        u_all = "".join(f"\\u{ord(c):04x}" for c in j)
        self.add("JSON \\u-escaped", "logs/events.json", self._text(f'{{"v": "{u_all}"}}'),
                 [u_all])  # fmt: skip
        u_some = "".join(f"\\u{ord(c):04X}" if c in "&'@" else c for c in j)
        self.add("JSON \\u-escaped, HTML-safe", "logs/events2.json",
                 self._text(f'{{"v": "{u_some}"}}'), [u_some])  # fmt: skip
        self.add("URL-encoded", "logs/access.log",
                 self._text(f"GET /login?user=ci&p={quoted} HTTP/1.1"), [quoted])  # fmt: skip
        lower = re.sub("%[0-9A-F]{2}", lambda m: m.group().lower(), quoted)
        self.add("URL-encoded, lower-case hex", "logs/access2.log",
                 self._text(f"POST body: u=ci&pw={lower}"), [lower])  # fmt: skip
        plus = urllib.parse.quote_plus(j + " x")
        self.add("form-encoded", "logs/access3.log", self._text(f"body p={plus}"), [plus])
        b64 = base64.b64encode(j.encode()).decode()
        self.add("base64", "logs/b64.log", self._text(f"blob {b64}"), [b64])
        inside = _b64_inside("admin:", j)
        self.add("base64 of user:password", "logs/b64b.log", self._text(f"creds {inside}"),
                 [inside])  # fmt: skip
        inside_url = _b64_inside("x", j, urlsafe=True)
        self.add("URL-safe base64 at an offset", "logs/b64c.log",
                 self._text(f"state={inside_url}"), [inside_url])  # fmt: skip
        hexed = j.encode().hex()
        self.add("hex", "logs/hex.log", self._text(f"secret bytes {hexed}"), [hexed])
        self.add(
            "HTML-escaped",
            "testr_results.html",
            f"<html><pre>{html.escape(j)}</pre><p>{BENIGN}</p></html>",
            [html.escape(j)],
        )
        split = f"{j[:6]}\n{j[6:]}"
        self.add("split across two lines", "logs/wrapped.log",
                 self._text(f"DEBUG wrapped output ... {split} more"), [split])  # fmt: skip
        esplit = f"{j[:4]}\\n{j[4:]}"
        self.add("split by an escaped line break", "logs/wrapped.json",
                 self._text(json.dumps({"out": "x"})[:-1] + f', "o": "{esplit}"}}'),
                 [esplit])  # fmt: skip
        self.add("listed value in a file name", f"logs/volume-{lst}.log", self._text("x"), [lst])
        self.add("job secret URL-encoded in a dir name", f"logs/{quoted}/c-vol.log",
                 self._text("x"), [quoted])  # fmt: skip
        self.add("env dump", "logs/env.txt", self._text(f"OS_PASSWORD={lst}"), [lst])
        self.add("CLI option", "logs/cli.log",
                 self._text(f"openstack --os-password {lst} volume list"), [lst])  # fmt: skip
        iscsiadm = (
            "iscsiadm -m node -T iqn.2026-01.org.example:vol-1 -p 127.0.0.1:3260 "
            f"--op update -n node.session.auth.password -v {self.chap[0]}"
        )
        self.add("CHAP on the iscsiadm command line", "logs/os-brick.log",
                 self._text(iscsiadm), [self.chap[0]])  # fmt: skip
        brick = (
            "Running cmd (subprocess): ('iscsiadm', '-m', 'node', '--op', 'update', '-n', "
            f"'node.session.auth.password_in', '-v', '{self.chap[1]}')"
        )
        self.add("CHAP in os-brick's argv list", "logs/os-brick2.log", self._text(brick),
                 [self.chap[1]])  # fmt: skip
        tgtadm = (
            f"tgtadm --lld iscsi --op new --mode account --user ciuser --password {self.chap[2]}"
        )
        self.add("CHAP on the tgtadm command line", "logs/tgtd.log", self._text(tgtadm),
                 [self.chap[2]])  # fmt: skip
        self.add("CHAP in tgt's targets.conf", "etc/tgt/targets.conf",
                 f"<target iqn.x>\n  incominguser ciuser {self.chap[3]}\n</target>\n",
                 [self.chap[3]])  # fmt: skip
        self.add(
            "Cinder provider_auth",
            "logs/c-vol2.log",
            self._text(f"provider_auth: CHAP ciuser {self.chap[4]}"),
            [self.chap[4]],
        )
        conn = json.dumps({"auth_method": "CHAP", "auth_password": self.chap[5]})
        self.add("CHAP in connection_info", "logs/c-vol3.log", self._text(conn), [self.chap[5]])
        basic = base64.b64encode(f"ciuser:{self.basic_pw}".encode()).decode()
        self.add("Authorization: Basic", "logs/http.log",
                 self._text(f"REQ: curl -H 'Authorization: Basic {basic}' http://x/"),
                 [basic, self.basic_pw])  # fmt: skip
        self.add("Authorization: Bearer", "logs/http2.log",
                 self._text(f"headers: {{'Authorization': 'Bearer {self.bearer}'}}"),
                 [self.bearer])  # fmt: skip
        self.add("OpenSSH private key", "logs/keys.log", self._text(self.key), self.key_lines)
        self.add("private key, JSON-escaped", "logs/keys.json",
                 self._text(json.dumps({"key": self.key})), self.key_lines)  # fmt: skip
        url = f"mysql+pymysql://cinder:{self.url_pw}@127.0.0.1/cinder?charset=utf8"
        self.add("URL password holding @", "logs/db.log", self._text(f"connecting to {url}"),
                 [self.url_pw, self.url_pw.split("@")[1]])  # fmt: skip
        self.add("job secret in a URL", "logs/db2.log",
                 self._text(f"rabbit://stack:{j}@127.0.0.1:5672/"), [j])  # fmt: skip
        self.add("Fernet token", "logs/keystone.log",
                 self._text(f"X-Subject-Token: {self.fernet}"), [self.fernet])  # fmt: skip
        gz_text = self._text(f"bootstrap password {j}").encode()
        self.add("in a .gz", "logs/keystone.log.gz", gzip.compress(gz_text), [j])
        cut = gzip.compress(self._text(f"password {j} " + "y" * 4000).encode())
        self.add("in a truncated .gz", "logs/journal.txt.gz", cut[: len(cut) * 2 // 3], [j])
        self.add("in a .bz2", "logs/c-vol.log.1.bz2", bz2.compress(gz_text), [j])
        bz = bz2.compress(self._text(f"{j} " + secrets.token_hex(3000)).encode())
        self.add("in a truncated .bz2", "logs/c-vol.log.2.bz2", bz[: len(bz) // 2], [j])
        self.add("in a .xz", "logs/c-api.log.1.xz", lzma.compress(gz_text), [j])
        xz = lzma.compress(self._text(f"{j} " + secrets.token_hex(3000)).encode())
        self.add("in a truncated .xz", "logs/c-api.log.2.xz", xz[: len(xz) // 2], [j])
        tgz = _tar({"etc/cinder.conf": f"san_password = {j}\n".encode(),
                    f"logs/{lst}.log": gz_text})  # fmt: skip
        self.add("in a .tgz (content and member name)", "logs/etc.tgz", tgz, [j, lst])
        big = _tar({"a.log": (self._text(j) + secrets.token_hex(20000)).encode()})
        self.add("in a truncated .tgz", "logs/etc2.tgz", big[: len(big) // 2], [j])
        self.add("in a .zip", "logs/bundle.zip", _zip({"x/c-vol.log": gz_text}), [j])
        self.add("in a zstd file (unreadable here)", "logs/c-sch.log.zst",
                 b"\x28\xb5\x2f\xfd" + j.encode(), [j])  # fmt: skip
        multi = gzip.compress(b"first member\n") + gzip.compress(gz_text)
        self.add("in the second member of a .gz", "logs/multi.log.gz", multi, [j])


def published_view(root):
    """{path: bytes} of everything under root, compressed files and archives opened.

    Whatever cannot be opened is kept as its raw bytes, so a needle in it is
    still found.
    """
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs:
            found[os.path.relpath(os.path.join(dirpath, name), root) + "/"] = b""
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = b"LINK -> " + os.readlink(path).encode()
                continue
            with open(path, "rb") as f:
                _open_blob(rel, f.read(), found)
    return found


def _open_blob(name, data, found):
    for opener in (gzip.decompress, bz2.decompress, lzma.decompress):
        try:
            data = opener(data)
            break
        except Exception:  # not this format, or unreadable: keep the bytes
            continue
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for member in tar:
                content = tar.extractfile(member).read() if member.isfile() else b""
                _open_blob(f"{name}!{member.name}", content, found)
            return
    except Exception:
        pass
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for info in z.infolist():
                _open_blob(f"{name}!{info.filename}", z.read(info), found)
            return
    except Exception:
        pass
    found[name] = data


def survivors(forms, root):
    """Forms whose needle is still somewhere under root (content or path)."""
    view = published_view(root)
    left = {}
    for form, needles in forms.needles.items():
        for needle in needles:
            raw = needle.encode()
            where = [p for p, data in view.items() if raw in data or needle in p]
            if where:
                left[form] = where
    for value in forms.raw_secrets:
        where = [p for p, data in view.items() if value.encode() in data or value in p]
        if where:
            left.setdefault("raw secret", []).extend(where)
    return left
