"""The recheck comment a person posts to make a third-party CI run again.

Every third-party CI answers upstream's plain ``recheck``; a CI that
follows the kit's convention also answers ``run-<ci name>``, which re-runs
that CI alone and leaves the others (and upstream Zuul) in peace. For our
own CI the comment is checked against the ``check`` pipeline's rendered
trigger regexes before it is posted, so a comment that would not trigger
anything is never sent.
"""

import os
import urllib.parse

from ci_tools.errors import UsageError


def recheck_comment(ci=None):
    return f"run-{ci}" if ci else "recheck"


def as_gerrit_text(comment, patchset=1):
    """The comment as Gerrit stores it and Zuul's trigger sees it."""
    return f"Patch Set {patchset}:\n\n{comment}"


def check_triggers(comment, repo_root):
    """Raise UsageError when our check pipeline would ignore ``comment``.

    Only meaningful for our CI: other CIs' triggers are not ours to read.
    Returns False when no rendered pipeline is at hand to check against.
    """
    from ci_tools.zuulconf import recheck

    if not os.path.exists(os.path.join(repo_root, recheck.PIPELINES_FILE)):
        return False
    patterns = recheck.comment_regexes(repo_root, "check")
    if not recheck.triggers(as_gerrit_text(comment), patterns):
        raise UsageError(
            f"{comment!r} does not match the check pipeline's comment triggers in "
            f"{os.path.join(repo_root, recheck.PIPELINES_FILE)}"
        )
    return True


def review_path(change, revision="current"):
    """``changes/<id>/revisions/<rev>/review``; ``<id>`` is a number or project~branch~Change-Id."""
    change = str(change).strip()
    if not change:
        raise UsageError("CHANGE is empty: give a change number or project~branch~Change-Id")
    quoted = urllib.parse.quote(change, safe="~")
    return f"changes/{quoted}/revisions/{urllib.parse.quote(str(revision), safe='')}/review"


def post_recheck(client, change, comment, revision="current"):
    """POST the review (message only, no votes); returns Gerrit's answer."""
    return client.post(review_path(change, revision), {"message": comment})
