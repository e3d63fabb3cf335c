"""Sample third-party CI comments, shared by the unit and functional tests of ci_tools.people.

``our_comment`` builds this CI's comment exactly as Zuul 14 formats it
(``zuul/reporter/__init__.py``: ``'- %s%s : %s%s%s%s'`` per job) from the
messages rendered into ``zuul.d/pipelines.yaml``, so a change to the
pipeline template is seen by the parser and gertty tests.
"""

import os

import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def check_pipeline(repo_root=REPO_ROOT):
    with open(os.path.join(repo_root, "zuul.d", "pipelines.yaml")) as f:
        for stanza in yaml.safe_load(f):
            pipeline = stanza.get("pipeline") or {}
            if pipeline.get("name") == "check":
                return pipeline
    raise LookupError("no check pipeline in zuul.d/pipelines.yaml")


def zuul_elapsed(seconds):
    """Zuul's own duration text (`` in 1h 02m 03s``)."""
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    if h:
        return " in %dh %02dm %02ds" % (h, m, s)  # noqa: UP031 (Zuul's own format)
    if m:
        return " in %dm %02ds" % (m, s)  # noqa: UP031
    return " in %ds" % s  # noqa: UP031


def zuul_job_line(name, url, result, seconds=None, voting=True, error=""):
    elapsed = zuul_elapsed(seconds) if seconds is not None else ""
    fields = (name + " ", url or name, result, error, elapsed, "" if voting else " (non-voting)")
    return "- %s%s : %s%s%s%s\n" % fields  # noqa: UP031


def our_comment(jobs, patchset=1, vote=None, item_url=None):
    """Gerrit's text of our check report; ``jobs`` is [(name, url, result, seconds)]."""
    pipeline = check_pipeline()
    ok = all(job[2] == "SUCCESS" for job in jobs)
    msg = pipeline["success-message"] if ok else pipeline["failure-message"]
    if item_url:
        msg += "\n" + item_url
    msg += "\n\n" + "".join(zuul_job_line(*job) for job in jobs)
    msg += "\n" + pipeline["footer-message"]
    head = f"Patch Set {patchset}:" + (f" Verified{vote:+d}" if vote else "")
    return f"{head}\n\n{msg}"


# Real-world forms other CIs post (names changed).
OLD_ZUUL_FAILED = """Patch Set 2: Verified-1

Build failed.

- acme-dsvm-tempest-full http://ci.acme.example/34/2/abc : FAILURE in 1h 12m 05s
- acme-dsvm-tempest-multipath http://ci.acme.example/34/2/abd : SUCCESS in 58m 10s
"""

STAR_SUCCEEDED = """Patch Set 4:

Build succeeded.

* cinder-fc-tempest http://logs.example.org/fc/1 : SUCCESS in 1h 2m
* cinder-iscsi-tempest http://logs.example.org/iscsi/1 : SUCCESS in 55m
"""

STAR_NO_HEADER = """Patch Set 1:

* widget-iscsi http://logs.example.org/w/1 : SUCCESS in 1h 2m
* widget-fc http://logs.example.org/w/2 : FAILURE in 12m (non-voting)
"""

PLAIN_SUCCESS = """Patch Set 7:

NimbleStore CI: SUCCESS http://ci.nimble.example/logs/770/7
"""

PLAIN_FAILURE = "Patch Set 7:\n\nGizmo Storage CI : FAILURE\nLogs: http://gizmo.example/7"

VOTE_ONLY = "Patch Set 3: Verified+1"

STARTED = "Patch Set 3:\n\nStarting check jobs."

UNKNOWN = "Patch Set 3:\n\nI have looked at this and it seems fine to me (tested by hand)."
