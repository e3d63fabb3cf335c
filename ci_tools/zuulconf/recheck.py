"""Which Gerrit comments make a pipeline run, read from the rendered zuul.d.

Loads the ``comment`` regexes of a pipeline's ``comment-added`` triggers
from ``zuul.d/pipelines.yaml`` and matches a comment the way Zuul's Gerrit
trigger does (``GerritEventFilter``): each regex is searched, not matched,
in the full comment text as Gerrit sends it ("Patch Set 3:\\n\\nrecheck"),
and any one regex matching is enough. Zuul compiles them with RE2; the
patterns here use only syntax RE2 and Python's ``re`` agree on.
"""

import os
import re

import yaml

PIPELINES_FILE = os.path.join("zuul.d", "pipelines.yaml")


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def comment_regexes(repo_root, pipeline="check"):
    """The comment regexes (as strings) that trigger ``pipeline``."""
    with open(os.path.join(repo_root, PIPELINES_FILE)) as f:
        stanzas = yaml.safe_load(f) or []
    for stanza in stanzas:
        conf = stanza.get("pipeline")
        if not conf or conf.get("name") != pipeline:
            continue
        patterns = []
        for triggers in conf.get("trigger", {}).values():
            for trigger in _as_list(triggers):
                if "comment-added" not in _as_list(trigger.get("event")):
                    continue
                for item in _as_list(trigger.get("comment")):
                    # Zuul also accepts {regex: ..., negate: ...}; we never negate.
                    patterns.append(item["regex"] if isinstance(item, dict) else item)
        return patterns
    raise LookupError(f"no pipeline named {pipeline!r} in {PIPELINES_FILE}")


def triggers(comment, patterns):
    """True when a comment-added event with ``comment`` would enqueue the change."""
    return any(re.search(pattern, comment) for pattern in patterns)
