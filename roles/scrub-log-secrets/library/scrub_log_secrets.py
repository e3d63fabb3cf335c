#!/usr/bin/python3
"""Ansible module: mask credentials in a directory of logs, then prove none are left.

Runs on the executor over the collected logs, before anything is published.

1. Links, sockets, FIFOs and devices are deleted, never followed.
2. Names: a file or dir whose name holds a secret is renamed.
3. Contents, in every file, inside compressed files and archives too
   (``.gz``, ``.bz2``, ``.xz``, ``.tar*``, ``.zip``, decompressed to scan and
   compressed again), are masked:

   * every known secret value (the job's Zuul secrets, the ``secrets.txt``
     lists the node roles wrote), also when URL-encoded, JSON ``\\u``-escaped,
     HTML-escaped, with backslashes or quotes escaped (JSON, ``repr()``),
     split across two lines, or as base64 or hex;
   * values of secret options (``san_password = x``, ``'auth_password': 'x'``,
     ``--password x``, ``-n node.session.auth.password -v x``), credentials in
     URLs (a password holding ``@`` too), ``Authorization`` headers, CHAP
     triples, private key bodies and Keystone Fernet tokens.

   A compressed file that cannot be read whole (truncated, corrupt, an
   unknown format such as zstd) cannot be scanned: it is not published, and
   a ``<name>.not-published.txt`` note says why.
4. Scan: the tree is read again; anything the rules above would still
   change (in a binary file such as a subunit stream, which is scanned but
   never rewritten, say) or a link left is a leak.

A leak fails the module with ``INFRASTRUCTURE FAILURE (log scrub)`` and the
file names, never the secret: the post-run stops before publishing, and the
build reports POST_FAILURE, not a failure of the change.
"""

import base64
import binascii
import bz2
import gzip
import io
import lzma
import os
import re
import stat
import tarfile
import zipfile
import zlib

DOCUMENTATION = r"""
module: scrub_log_secrets
short_description: Mask credentials in collected logs and fail if any survive
options:
  path: {description: Directory scrubbed recursively, required: true, type: path}
  values: {description: Literal secret values, type: list, elements: str, default: []}
  secrets:
    description: The job's secret variables; every string in them is a secret value
    type: raw
    default: []
  value_files:
    description: Files listing one secret value per line (missing files are skipped)
    type: list
    elements: path
    default: []
  keys: {description: Option names whose values are masked, type: list, elements: str, default: []}
  mask: {description: Replacement text, type: str, default: "***"}
"""

# Values shorter than this are not secrets worth masking everywhere ("1", "ok").
MIN_VALUE = 3
# Encoded forms (base64, hex) of shorter values would match by chance.
MIN_ENCODED = 6
# A decompressed file larger than this is not scanned (and not published).
MAX_EXPANDED = 512 << 20
BINARY_SUFFIXES = (".subunit", ".png", ".jpg", ".jpeg", ".gif", ".sqlite", ".db", ".pyc")

# Already masked by us or by the service that logged it: left alone.
MASKED = re.compile(rb"^(?:\*{3,}|<[\w -]{1,24}>|x{3,}|X{3,}|\.{3})$")

# Anything that looks like a Keystone Fernet token (a base64url Fernet blob).
FERNET = re.compile(rb"gAAAAA[A-Za-z0-9_-]{40,}={0,2}")
# user:password@ in URLs; the password runs to the last "@" before the host,
# so a password holding "@" is masked whole.
URL_CREDENTIALS = re.compile(rb"(://[^:/@\s'\"]+:)([^\s'\"/]+)(@)")
# Cinder's provider_auth "CHAP <user> <secret>"; tgt's incominguser/outgoinguser.
CHAP = re.compile(rb"(?i)((?:\bCHAP|\bincominguser|\boutgoinguser)\s+\S+\s+)([^\s'\",}]+)")
# iscsiadm: "-n node.session.auth.password -v x", "--value=x", list forms
# "'-n', 'node.session.auth.password', '-v', 'x'", and "name = x" listings.
ISCSI_AUTH = re.compile(
    rb"(?i)(\.auth\.password(?:_in)?['\"]?"
    rb"(?:\s*,\s*['\"]?(?:-v|--value)['\"]?\s*,\s*|\s+(?:-v|--value)(?:\s+|=)|\s*[=:]\s*)"
    rb"['\"]?)([^\s'\",)\]]+)"
)
# Command-line options naming a secret: "--password x", "--password=x",
# "'--password', 'x'" (tgtadm, mysql, openstack --os-password...).
SECRET_WORD = rb"(?:password|passwd|passphrase|secret|token|private[_-]?key|api[_-]?key)"
CLI_OPTION = re.compile(
    rb"(?i)((?<![\w.-])['\"]?--?[\w.-]*" + SECRET_WORD + rb"['\"]?(?:\s*,\s*['\"]?|=|\s+))"
    rb"(?!-)([^\s'\",)\]]+)"
)
# Authorization / Proxy-Authorization headers: "Basic x", "Bearer x", or a bare token.
AUTHORIZATION = re.compile(
    rb"(?i)(\b(?:proxy-)?authorization\\*['\"]?\s*[:=]\s*\\*['\"]?"
    rb"(?:(?:basic|bearer|digest|token|negotiate|oauth)\s+)?)([^\s'\"\\,}]+)"
)
# The body of a PEM private key (OpenSSH, RSA, EC, PKCS#8, encrypted), with
# real or JSON-escaped line breaks; a key cut before its END line is masked
# to the end of its base64.
KEY_BODY = rb"(?:[A-Za-z0-9+/=\s:,*-]|\\[nr])"
PRIVATE_KEY = re.compile(
    rb"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(" + KEY_BODY + rb"*?)"
    rb"(-----END [A-Z0-9 ]*PRIVATE KEY-----|(?!" + KEY_BODY + rb"))"
)
# key=value / key: value / 'key': 'value' anywhere in a line, for keys that
# name a secret whatever their prefix (auth_password, X-Auth-Token, ...).
# Starts at the secret word (the key's prefix stays as it is); the leading
# character class lets the regex engine skip ahead in C.
INLINE_KEY = (
    rb"[pPsStTaA](?i:(?<=p)(?:assword|asswd|assphrase|rivate[_-]?key)"
    rb"|(?<=s)ecret|(?<=t)oken|(?<=a)pi[_-]?key)"
)
INLINE_QUOTED = re.compile(rb"(" + INLINE_KEY + rb"\\*['\"]?\s*[=:]\s*)(\\*['\"])(.*?)(\2)")
INLINE_BARE = re.compile(rb"(" + INLINE_KEY + rb"\s*[=:]\s*)(?![\\'\"{\[(\s])([^\s'\"\\,}&;)\]]+)")


BINARY_HIT = "(in a binary file)"


class Unscannable(Exception):
    """A file whose contents cannot be read whole, so cannot be proven clean."""


# -- known values ---------------------------------------------------------------


def leaves(data):
    """Every string (and number) inside a secret variable, however nested."""
    if isinstance(data, dict):
        for value in data.values():
            yield from leaves(value)
    elif isinstance(data, (list, tuple)):
        for value in data:
            yield from leaves(value)
    elif isinstance(data, (str, int, float)) and not isinstance(data, bool):
        yield str(data)


def read_values(values, value_files, secrets=None):
    """All known secret values, longest first so no partial match wins."""
    found = set(values) | set(leaves(secrets or []))
    for path in value_files:
        try:
            with open(path) as f:
                found.update(line.strip() for line in f)
        except FileNotFoundError:
            continue
    expanded = set()
    for value in found:
        value = value.strip()
        expanded.add(value)
        if "\n" in value:
            # a private key or certificate: each body line on its own
            expanded.update(line.strip() for line in value.splitlines())
    return sorted((v for v in expanded if len(v) >= MIN_VALUE), key=len, reverse=True)


def _hex(digits):
    """Hex digits matched in either case."""
    return b"".join(b"[%c%c]" % (c, c - 32) if 0x61 <= c <= 0x66 else bytes([c]) for c in digits)


CONTROL_ESCAPES = {"\n": b"n", "\r": b"r", "\t": b"t"}
HTML_NAMED = {"&": b"amp", "<": b"lt", ">": b"gt", '"': b"quot", "'": b"apos"}
# A secret split over two lines: a real or escaped line break, maybe indented.
SPLIT = rb"(?:\\?\r?\n[ \t]*|(?:\\r)?\\n)?"


def char_forms(char):
    """A regex for one character of a secret in every encoding logs use."""
    raw = char.encode()
    code = ord(char)
    forms = [
        re.escape(raw),
        b"".join(b"%" + _hex(b"%02x" % b) for b in raw),  # URL-encoded
        rb"&#0*%d;" % code,  # HTML character references
        rb"&#[xX]0*" + _hex(b"%x" % code) + b";",
    ]
    if code < 0x10000:
        forms.append(rb"\\+u" + _hex(b"%04x" % code))  # JSON \u escape
    if char == " ":
        forms.append(rb"\+")
    if char in HTML_NAMED:
        forms.append(b"&" + HTML_NAMED[char] + b";")
    if char in "\\\"'/":
        # escaped by JSON, repr() or a shell, possibly more than once
        forms.append(rb"\\+" + re.escape(raw))
    if char in CONTROL_ESCAPES:
        forms.append(rb"\\+" + CONTROL_ESCAPES[char])
    return b"(?:" + b"|".join(forms) + b")"


def encoded_cores(value):
    """base64 (standard and URL-safe, any alignment) and hex forms of a value.

    A value inside a longer base64 text ("user:password" in a Basic header)
    is encoded differently depending on its offset modulo 3; for each offset
    only the characters that depend on the value alone are kept.
    """
    raw = value.encode()
    cores = {binascii.hexlify(raw), binascii.hexlify(raw).upper()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw)
        first = -(-8 * offset // 6)
        last = (8 * (offset + len(raw))) // 6
        core = encoded[first:last]
        if len(core) >= MIN_ENCODED:
            cores.add(core)
            cores.add(core.replace(b"+", b"-").replace(b"/", b"_"))
    return cores


def values_pattern(values):
    """One regex matching every known value in every form, or None."""
    branches = []
    for value in values:
        branches.append(SPLIT.join(char_forms(c) for c in value))
        if len(value) >= MIN_ENCODED:
            branches.extend(re.escape(core) for core in encoded_cores(value))
    if not branches:
        return None
    # A first-character class lets the regex engine skip ahead in C.
    first = {b"%", b"&", b"\\"} | {v[:1].encode() for v in values}
    first |= {core[:1] for v in values if len(v) >= MIN_ENCODED for core in encoded_cores(v)}
    charset = b"".join(re.escape(c) for c in sorted(first))
    return re.compile(b"(?=[" + charset + b"])(?:" + b"|".join(branches) + b")")


def _html_char(match):
    ref = match.group(1)
    if ref.startswith((b"#x", b"#X")):
        code = int(ref[2:], 16)
    elif ref.startswith(b"#"):
        code = int(ref[1:])
    else:
        code = ord(HTML_REFS[ref])
    return chr(min(code, 0x10FFFF)).encode("utf-8", "surrogatepass")


HTML_REFS = {v: k for k, v in HTML_NAMED.items()}
NORMALIZE = (
    (re.compile(rb"%([0-9A-Fa-f]{2})"), lambda m: bytes([int(m.group(1), 16)])),
    (
        re.compile(rb"\\\\*u([0-9A-Fa-f]{4})"),
        lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"),
    ),
    (re.compile(rb"&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|amp|lt|gt|quot|apos);"), _html_char),
    (re.compile(rb"\n[ \t]*"), b""),
    (re.compile(rb"\\\\*[rn]"), b""),
    (re.compile(rb"\\\\+"), b"\\\\"),
    (re.compile(rb"\\([\"'/])"), rb"\1"),
)


def normalize(data):
    """Decode what char_forms() matches, so a plain search can tell if a value is there."""
    data = data.replace(b"\r", b"").replace(b"\\\n", b"\n")
    for pattern, repl in NORMALIZE:
        data = pattern.sub(repl, data)
    return data


class KnownValues:
    """The known-values rule: a cheap literal check first, the full regex only on a hit.

    The regex (every character in every encoding, split anywhere) runs at a
    few MB/s; most files hold no secret, and a literal search over the file
    and over its decoded form (normalize()) says so at memory speed.
    """

    def __init__(self, values):
        self.pattern = values_pattern(values)
        self.plain = [v.encode() for v in values]
        self.encoded = [core for v in values if len(v) >= MIN_ENCODED for core in encoded_cores(v)]

    def present(self, data):
        if any(n in data for n in self.plain) or any(n in data for n in self.encoded):
            return True
        decoded = normalize(data.replace(b"+", b" "))
        if any(n in decoded for n in self.plain):
            return True
        decoded = normalize(data)
        return any(n in decoded for n in self.plain)


# -- rules ------------------------------------------------------------------------


def _keep_masked(prefix_groups, value_group, mask, suffix_groups=()):
    def repl(match):
        value = match.group(value_group)
        new_value = value if MASKED.match(value.strip()) else mask
        return (
            b"".join(match.group(g) or b"" for g in prefix_groups)
            + new_value
            + b"".join(match.group(g) or b"" for g in suffix_groups)
        )

    return repl


def _mask_value(mask):
    def repl(match):
        # keep the line break of a split secret, so lines stay lines
        return mask + (b"\n" if b"\n" in match.group(0) else b"")

    return repl


class Rule:
    """One masking rule. ``hints`` (lower-case words) limit a line-local rule to
    the lines holding one of them, which keeps big logs fast; ``whole`` rules
    span lines and run on the whole text when a hint is present."""

    def __init__(self, name, pattern, repl, hints=None, whole=False):
        self.name, self.pattern, self.repl = name, pattern, repl
        self.hints, self.whole = hints, whole

    def apply(self, data, low):
        if self.hints is None:
            return self.pattern.sub(self.repl, data)
        if self.whole:
            if any(h in low for h in self.hints):
                return self.pattern.sub(self.repl, data)
            return data
        spans = _line_spans(data, low, self.hints)
        if not spans:
            return data
        out, last = [], 0
        for start, end in spans:
            out.append(data[last:start])
            out.append(self.pattern.sub(self.repl, data[start:end]))
            last = end
        out.append(data[last:])
        return b"".join(out)


class KnownValuesRule(Rule):
    def __init__(self, values, mask):
        self.known = KnownValues(values)
        super().__init__("known secret value", self.known.pattern, _mask_value(mask))

    def apply(self, data, low):
        if not self.known.present(data):
            return data
        return self.pattern.sub(self.repl, data)


def _line_spans(data, low, hints):
    """Sorted, merged (start, end) of the lines holding a hint."""
    spans = []
    for hint in hints:
        i = low.find(hint)
        while i != -1:
            start = data.rfind(b"\n", 0, i) + 1
            end = data.find(b"\n", i)
            end = len(data) if end == -1 else end + 1
            spans.append((start, end))
            i = low.find(hint, end)
    spans.sort()
    merged = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


SECRET_HINTS = (b"password", b"passwd", b"passphrase", b"secret", b"token", b"key")


def build_rules(values, keys, mask):
    """The rules in the order they are applied."""
    m = mask.encode()
    rules = []
    if values:
        rules.append(KnownValuesRule(values, m))
    rules += [
        Rule(
            "private key",
            PRIVATE_KEY,
            _keep_masked((1,), 2, m, (3,)),
            (b"private key-----",),
            whole=True,
        ),
        Rule("token", FERNET, lambda match: m, (b"gaaaaa",)),
        Rule("URL credentials", URL_CREDENTIALS, _keep_masked((1,), 2, m, (3,)), (b"://",)),
        Rule("Authorization header", AUTHORIZATION, _keep_masked((1,), 2, m), (b"authorization",)),
        Rule(
            "CHAP secret",
            CHAP,
            _keep_masked((1,), 2, m),
            (b"chap", b"incominguser", b"outgoinguser"),
        ),
        Rule("CHAP secret", ISCSI_AUTH, _keep_masked((1,), 2, m), (b".auth.password",)),
        Rule("secret option", CLI_OPTION, _keep_masked((1,), 2, m), SECRET_HINTS),
        Rule("secret option", INLINE_QUOTED, _keep_masked((1, 2), 3, m, (4,)), SECRET_HINTS),
        Rule("secret option", INLINE_BARE, _keep_masked((1,), 2, m), SECRET_HINTS),
    ]
    if keys:
        key_alt = b"|".join(re.escape(k.encode()) for k in keys)
        # config files: "key = value" on its own line, whole value masked
        rules.append(
            Rule(
                "secret option",
                re.compile(rb"(?im)^(\s*(?:" + key_alt + rb")\s*[=:][ \t]*)(\S[^\r\n]*?)(\s*)$"),
                _keep_masked((1,), 2, m, (3,)),
                tuple(k.lower().encode() for k in keys),
            )
        )
    return rules


def scrub_bytes(data, rules):
    """Return (new data, names of the rules that changed something)."""
    hits = []
    low = data.lower()
    for rule in rules:
        new = rule.apply(data, low)
        if new != data:
            hits.append(rule.name)
            data = new
            low = data.lower()
    return data, hits


# -- containers -------------------------------------------------------------------


def _decompress(obj, data, what):
    out = obj.decompress(data, MAX_EXPANDED + 1)
    if len(out) > MAX_EXPANDED:
        raise Unscannable(f"{what} expands beyond {MAX_EXPANDED >> 20} MiB")
    if not obj.eof:
        raise Unscannable(f"truncated {what} stream")
    return out, obj.unused_data


def gunzip(data):
    parts = []
    while data:
        try:
            out, data = _decompress(zlib.decompressobj(wbits=31), data, "gzip")
        except zlib.error as exc:
            raise Unscannable(f"corrupt gzip stream ({exc})") from exc
        parts.append(out)
        data = data.lstrip(b"\0")
    return b"".join(parts)


def bunzip2(data):
    parts = []
    while data:
        try:
            out, data = _decompress(bz2.BZ2Decompressor(), data, "bzip2")
        except OSError as exc:
            raise Unscannable(f"corrupt bzip2 stream ({exc})") from exc
        parts.append(out)
    return b"".join(parts)


def unxz(data):
    try:
        out, rest = _decompress(lzma.LZMADecompressor(), data, "xz")
    except lzma.LZMAError as exc:
        raise Unscannable(f"corrupt xz stream ({exc})") from exc
    if rest.strip(b"\0"):
        raise Unscannable("data after the xz stream")
    return out


COMPRESSORS = (
    (b"\x1f\x8b", gunzip, lambda d: gzip.compress(d, mtime=0)),
    (b"BZh", bunzip2, bz2.compress),
    (b"\xfd7zXZ\x00", unxz, lambda d: lzma.compress(d, format=lzma.FORMAT_XZ)),
)
# Formats Python cannot read: refused rather than published unscanned.
UNREADABLE = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x04\x22\x4d\x18", "lz4"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!", "rar"),
)


def is_tar(data):
    return len(data) >= 512 and data[257:262] == b"ustar"


class Scrubber:
    """Scrubs one tree; records what it did for the module's result."""

    def __init__(self, values, keys, mask):
        self.mask = mask
        self.rules = build_rules(values, keys, mask)

    def name(self, name):
        """A file name with any secret in it masked ("/" can never appear)."""
        raw = os.fsencode(name)
        new, _ = scrub_bytes(raw, self.rules)
        return os.fsdecode(new.replace(b"/", b"_").replace(b"\0", b"_"))

    def path(self, rel):
        """A relative path safe to print."""
        return "/".join(self.name(part) for part in rel.split("/"))

    def blob(self, name, data, rewrite=True):
        """Return (new data, hits): scrubbed contents, decompressed and recompressed.

        ``rewrite=False`` only reports what would change (the final scan).
        Raises Unscannable for what cannot be read whole.
        """
        for magic, unpack, pack in COMPRESSORS:
            if data.startswith(magic):
                inner, hits = self.blob(name, unpack(data), rewrite)
                return (pack(inner) if hits and rewrite else data), hits
        for magic, what in UNREADABLE:
            if data.startswith(magic):
                raise Unscannable(f"{what} data cannot be read here")
        if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            return self.zip(data, rewrite)
        if is_tar(data):
            return self.tar(data, rewrite)
        binary = name.endswith(BINARY_SUFFIXES) or b"\0" in data[:8192]
        new, hits = scrub_bytes(data, self.rules)
        if binary:
            # a subunit stream or image cannot be rewritten safely: scan only
            return data, [f"{h} {BINARY_HIT}" for h in hits]
        return (new if rewrite else data), hits

    def tar(self, data, rewrite):
        hits = []
        out = io.BytesIO()
        try:
            with (
                tarfile.open(fileobj=io.BytesIO(data)) as src,
                tarfile.open(fileobj=out, mode="w") as dst,
            ):
                for member in src:
                    new_name = "/".join(self.name(p) for p in member.name.split("/"))
                    if new_name != member.name:
                        hits.append("secret in a file name")
                    member.name = new_name
                    if member.isdir():
                        dst.addfile(member)
                    elif member.isfile():
                        content = src.extractfile(member).read()
                        if len(content) != member.size:
                            raise Unscannable("truncated tar archive")
                        try:
                            content, inner = self.blob(member.name, content, rewrite)
                        except Unscannable:
                            hits.append("unscannable archive member")
                            continue
                        hits += inner
                        member.size = len(content)
                        dst.addfile(member, io.BytesIO(content))
                    else:
                        hits.append("link or special file in an archive")
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise Unscannable(f"unreadable tar archive ({exc})") from exc
        return (out.getvalue() if hits and rewrite else data), hits

    def zip(self, data, rewrite):
        hits = []
        out = io.BytesIO()
        try:
            with (
                zipfile.ZipFile(io.BytesIO(data)) as src,
                zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
            ):
                for info in src.infolist():
                    new_name = "/".join(self.name(p) for p in info.filename.split("/"))
                    if new_name != info.filename:
                        hits.append("secret in a file name")
                    if info.is_dir():
                        dst.writestr(new_name, b"")
                        continue
                    if stat.S_ISLNK(info.external_attr >> 16):
                        hits.append("link or special file in an archive")
                        continue
                    try:
                        content, inner = self.blob(new_name, src.read(info), rewrite)
                    except Unscannable:
                        hits.append("unscannable archive member")
                        continue
                    hits += inner
                    dst.writestr(new_name, content)
        except (zipfile.BadZipFile, EOFError, OSError, zlib.error) as exc:
            raise Unscannable(f"unreadable zip archive ({exc})") from exc
        return (out.getvalue() if hits and rewrite else data), hits


# -- the tree ---------------------------------------------------------------------


def _regular(path):
    mode = os.lstat(path).st_mode
    return stat.S_ISREG(mode) or stat.S_ISDIR(mode)


def drop_not_regular(root):
    """Remove links, sockets, FIFOs and devices under root; return their relative paths.

    A link planted on the node (``c-api.log.1 -> ../../../scrub-secrets/x``)
    would be resolved on the executor by whatever copies the logs next: only
    regular files and dirs are ever published. os.walk does not follow links
    to dirs; they show up in its dir list and are dropped like the others.
    """
    dropped = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if not _regular(path):
                os.unlink(path)
                dropped.append(os.path.relpath(path, root))
        dirs[:] = [d for d in dirs if os.path.isdir(os.path.join(dirpath, d))]
    return sorted(dropped)


def _free_name(dirpath, name):
    candidate, n = name, 1
    while os.path.lexists(os.path.join(dirpath, candidate)):
        candidate, n = f"{name}.{n}", n + 1
    return candidate


def rename_secret_names(root, scrubber):
    """Rename files and dirs whose names hold a secret; return how many."""
    renamed = 0
    for dirpath, dirs, files in os.walk(root):
        for names in (dirs, files):
            for i, name in enumerate(names):
                new = scrubber.name(name)
                if new != name:
                    new = _free_name(dirpath, new)
                    os.rename(os.path.join(dirpath, name), os.path.join(dirpath, new))
                    names[i] = new
                    renamed += 1
    return renamed


def walk(root):
    for dirpath, _dirs, files in os.walk(root):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                yield path


def refuse(path, root, reason):
    """Replace a file that cannot be scanned with a note saying why."""
    os.unlink(path)
    note = path + ".not-published.txt"
    with open(note, "w") as f:
        f.write(
            f"{os.path.basename(path)} was not published: {reason}, so it could not "
            "be scanned for secrets.\n"
        )
    return os.path.relpath(path, root)


def scrub_tree(root, values, keys, mask):
    """Scrub every file under root in place, then scan.

    Returns a dict: scrubbed {file: [rules]}, dropped [links...], refused
    {file: reason}, renamed (count) and leaks {file: [kinds]}.
    """
    scrubber = Scrubber(values, keys, mask)
    result = {"dropped": drop_not_regular(root), "scrubbed": {}, "refused": {}, "leaks": {}}
    result["renamed"] = rename_secret_names(root, scrubber)
    for path in list(walk(root)):
        rel = os.path.relpath(path, root)
        with open(path, "rb") as f:
            data = f.read()
        try:
            new, hits = scrubber.blob(path, data)
        except Unscannable as exc:
            result["refused"][rel] = str(exc)
            refuse(path, root, str(exc))
            continue
        if new != data:
            mode = os.stat(path).st_mode
            with open(path, "wb") as f:
                f.write(new)
            os.chmod(path, mode)
        hits = [h for h in hits if not h.endswith(BINARY_HIT)]
        if hits:
            result["scrubbed"][rel] = sorted(set(hits))
    result["leaks"] = scan_tree(root, scrubber)
    return result


def scan_tree(root, scrubber):
    """What would still change: every file, byte for byte, and every name."""
    leaks = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if scrubber.name(name) != name:
                # never print the name itself: it holds the secret
                leaks[scrubber.path(rel)] = ["secret in a file name"]
            if not _regular(path):
                leaks[rel] = ["not a regular file"]
    for path in walk(root):
        rel = os.path.relpath(path, root)
        with open(path, "rb") as f:
            data = f.read()
        try:
            _, hits = scrubber.blob(path, data, rewrite=False)
        except Unscannable as exc:
            hits = [f"unscannable: {exc}"]
        if hits:
            leaks.setdefault(scrubber.path(rel), []).extend(sorted(set(hits)))
    return leaks


# values are secrets: Ansible masks no_log parameters in everything it prints.
ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    values=dict(type="list", elements="str", default=[], no_log=True),
    secrets=dict(type="raw", default=[], no_log=True),
    value_files=dict(type="list", elements="path", default=[]),
    keys=dict(type="list", elements="str", default=[], no_log=False),
    mask=dict(type="str", default="***"),
)


def main():
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=False)
    p = module.params
    if not os.path.isdir(p["path"]):
        module.fail_json(msg=f"INFRASTRUCTURE FAILURE (log scrub): no log dir {p['path']}")
    values = read_values(p["values"], p["value_files"], p["secrets"])
    result = scrub_tree(p["path"], values, p["keys"], p["mask"])
    result.update(
        changed=bool(result["scrubbed"] or result["dropped"] or result["refused"]),
        known_values=len(values),
    )
    if result["leaks"]:
        module.fail_json(
            msg="INFRASTRUCTURE FAILURE (log scrub): secrets left after scrubbing in "
            + ", ".join(sorted(result["leaks"]))
            + "; the logs are not published",
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
