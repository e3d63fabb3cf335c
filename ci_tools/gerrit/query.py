"""The part of Gerrit's search language that Zuul, gertty and people use.

Terms are ANDed (``AND`` optional), ``OR`` and parentheses group, ``-term`` or
``NOT term`` negates. Operators: ``project:``
(also ``project:{name}``), ``branch:``, ``status:``/``is:`` (open, merged,
abandoned, closed, mergeable), ``change:`` (number or Change-Id), ``owner:``,
``commit:``, ``topic:``, ``message:`` (substring of the commit message),
``age:`` (``-age:30s`` = updated in the last 30 s), ``label:`` on the current
patch set (``label:Verified+1``, ``label:Code-Review>=1``, ``label:Verified=MAX``,
``MIN``, ``ANY``, ``NONE``, ``label:Verified-1,user=ci`` or ``,owner``), ``hashtag:``,
``conflicts:`` (never matches: changes here do not conflict), ``limit:``, and
a bare change number or Change-Id. Anything else is an error, as upstream.
"""

import json
import re
import time


class QueryError(Exception):
    pass


UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def tokenize(text):
    """Terms, ``(`` and ``)``; ``{...}`` and ``"..."`` quote values with spaces."""
    tokens = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(c)
            i += 1
            continue
        buf = []
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] in '{"':
                close = "}" if text[i] == "{" else '"'
                j = text.find(close, i + 1)
                if j < 0:
                    raise QueryError(f"line 1:{i} missing {close!r}")
                buf.append(text[i + 1 : j])
                i = j + 1
            else:
                buf.append(text[i])
                i += 1
        tokens.append("".join(buf))
    return tokens


def parse_age(value):
    m = re.match(r"^(\d+)\s*([a-z]*)$", value)
    if not m or (m.group(2) or "s") not in UNITS:
        raise QueryError(f"Invalid age: {value}")
    return int(m.group(1)) * UNITS[m.group(2) or "s"]


def compile_query(text):
    """A (predicate(change, svc) -> bool, limit) pair for ``text``."""
    parser = _Parser(tokenize(text))
    pred = parser.expr()
    if parser.pos != len(parser.tokens):
        raise QueryError(f"line 1:0 unexpected {parser.tokens[parser.pos]!r}")
    return pred, parser.limit


class _Parser:
    """expr := and ("OR" and)*; and := unary ("AND"? unary)*; unary := ("NOT"|-)? primary."""

    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0
        self.limit = None

    def _peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def expr(self):
        parts = [self.and_expr()]
        while self._peek() in ("OR", "or"):
            self.pos += 1
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda c, s: any(p(c, s) for p in parts)

    def and_expr(self):
        parts = []
        while self._peek() not in (None, ")", "OR", "or"):
            if self._peek() in ("AND", "and"):
                self.pos += 1
                continue
            parts.append(self.unary())
        if not parts:
            raise QueryError("line 1:0 empty query")
        return lambda c, s: all(p(c, s) for p in parts)

    def unary(self):
        token = self._peek()
        if token in ("NOT", "not"):
            self.pos += 1
            inner = self.unary()
            return lambda c, s: not inner(c, s)
        if token == "(":
            self.pos += 1
            inner = self.expr()
            if self._peek() != ")":
                raise QueryError("line 1:0 missing ')'")
            self.pos += 1
            return inner
        self.pos += 1
        neg = token.startswith("-") and len(token) > 1
        if neg:
            token = token[1:]
        op, sep, value = token.partition(":")
        if not sep:
            op, value = "change", token
        if op == "limit":
            if not value.isdigit():
                raise QueryError(f"Invalid limit: {value}")
            self.limit = int(value)
            return lambda c, s: True
        return _predicate(op, value, neg)


def _predicate(op, value, neg):
    def wrap(fn):
        return (lambda c, s: not fn(c, s)) if neg else fn

    if op == "project":
        return wrap(lambda c, s: c["project"] == value)
    if op == "projects":
        return wrap(lambda c, s: c["project"].startswith(value))
    if op == "branch":
        return wrap(lambda c, s: c["branch"] == value.removeprefix("refs/heads/"))
    if op in ("status", "is"):
        states = {
            "open": ("NEW",),
            "new": ("NEW",),
            "pending": ("NEW",),
            "reviewed": ("NEW",),
            "merged": ("MERGED",),
            "abandoned": ("ABANDONED",),
            "closed": ("MERGED", "ABANDONED"),
            "mergeable": ("NEW",),
        }
        if value not in states:
            raise QueryError(f"Unrecognized value: {value}")
        return wrap(lambda c, s: c["status"] in states[value])
    if op == "change":
        if value.isdigit():
            return wrap(lambda c, s: c["number"] == int(value))
        if re.match(r"^I[0-9a-f]{4,40}$", value):
            return wrap(lambda c, s: c["change_id"].startswith(value))
        raise QueryError(f"Unsupported operator change:{value}")
    if op == "owner":
        return wrap(lambda c, s: s.owner_matches(c, value))
    if op == "commit":
        return wrap(
            lambda c, s: any(
                p["revision"].startswith(value) for p in s.store.patchsets(c["number"])
            )
        )
    if op == "topic":
        return wrap(lambda c, s: (c["topic"] or "") == value)
    if op == "age":
        seconds = parse_age(value)
        return wrap(lambda c, s: time.time() - c["updated"] >= seconds)
    if op == "message":
        return wrap(lambda c, s: value in _message(c, s))
    if op == "conflicts":
        return wrap(lambda c, s: False)
    if op == "label":
        return wrap(_label_predicate(value))
    if op in ("hashtag", "hashtags"):
        return wrap(lambda c, s: value.lstrip("#") in json.loads(c.get("hashtags") or "[]"))
    raise QueryError(f"Unsupported operator {op}:{value}")


LABEL_RE = re.compile(
    r"^(?P<label>[A-Za-z][A-Za-z0-9_-]*?)(?P<op>>=|<=|=|>|<)?"
    r"(?P<value>[+-]?\d+|MAX|MIN|ANY|NONE|max|min|any|none)?$"
)


def _label_predicate(text):
    """``label:Name[op]value[,user=who|,owner]`` as Gerrit's LabelPredicate reads it."""
    spec, _, who = text.partition(",")
    m = LABEL_RE.match(spec)
    if not m:
        raise QueryError(f"Invalid label: {text}")
    from ci_tools.gerrit.store import LABELS

    label = next((name for name in LABELS if name.lower() == m.group("label").lower()), None)
    if label is None:
        raise QueryError(f"Unknown label: {m.group('label')}")
    op, raw = m.group("op") or "=", (m.group("value") or "ANY").upper()
    values = LABELS[label]
    if raw == "MAX":
        test = lambda v: v == max(values)  # noqa: E731
    elif raw == "MIN":
        test = lambda v: v == min(values)  # noqa: E731
    elif raw == "ANY":
        test = lambda v: v != 0  # noqa: E731
    elif raw == "NONE":
        test = None
    else:
        n = int(raw)
        if n == 0 and op == "=":
            test = None  # "=0" means nobody voted, as Gerrit
        else:
            test = {
                "=": lambda v: v == n,
                ">=": lambda v: v >= n,
                "<=": lambda v: v <= n,
                ">": lambda v: v > n,
                "<": lambda v: v < n,
            }[op]
    who = who.removeprefix("user=")

    def pred(c, s):
        ps = s.current_patchset(c["number"])
        votes = [a for a in s.store.approvals(c["number"], ps["number"]) if a["label"] == label]
        if who == "owner":
            votes = [a for a in votes if a["account_id"] == c["owner_id"]]
        elif who:
            account = s.store.account_by_username(who)
            votes = [a for a in votes if account and a["account_id"] == account["id"]]
        if test is None:
            return not any(a["value"] for a in votes)
        return any(a["value"] and test(a["value"]) for a in votes)

    return pred


def _message(change, svc):
    current = svc.current_patchset(change["number"])
    return svc.commit(change["project"], current["revision"])["message"]
