"""The part of Gerrit's search language that Zuul, gertty and people use.

Terms are ANDed; ``-term`` or ``NOT term`` negates. Operators: ``project:``
(also ``project:{name}``), ``branch:``, ``status:``/``is:`` (open, merged,
abandoned, closed, mergeable), ``change:`` (number or Change-Id), ``owner:``,
``commit:``, ``topic:``, ``age:`` (``-age:30s`` = updated in the last 30 s),
``conflicts:`` (never matches: changes here do not conflict), ``limit:``, and
a bare change number or Change-Id. Anything else is an error, as upstream.
"""

import re
import shlex
import time


class QueryError(Exception):
    pass


UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def tokenize(text):
    # {braces} quote project names with special characters, like Gerrit.
    text = re.sub(r"\{([^}]*)\}", lambda m: shlex.quote(m.group(1)), text)
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"line 1:0 {exc}") from exc


def parse_age(value):
    m = re.match(r"^(\d+)\s*([a-z]*)$", value)
    if not m or (m.group(2) or "s") not in UNITS:
        raise QueryError(f"Invalid age: {value}")
    return int(m.group(1)) * UNITS[m.group(2) or "s"]


def compile_query(text):
    """A (predicate(change, svc) -> bool, limit) pair for ``text``."""
    preds = []
    limit = None
    negate = False
    for token in tokenize(text):
        if token in ("AND", "and"):
            continue
        if token in ("NOT", "not"):
            negate = True
            continue
        neg = negate
        negate = False
        if token.startswith("-") and len(token) > 1:
            neg, token = True, token[1:]
        op, sep, value = token.partition(":")
        if not sep:
            op, value = "change", token
        if op == "limit":
            limit = int(value)
            continue
        pred = _predicate(op, value, neg)
        preds.append(pred)
    return (lambda change, svc: all(p(change, svc) for p in preds)), limit


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
    if op == "conflicts":
        return wrap(lambda c, s: False)
    raise QueryError(f"Unsupported operator {op}:{value}")
