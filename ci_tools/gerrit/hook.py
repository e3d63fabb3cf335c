"""The pre-receive hook of every project: refuse what upstream Gerrit refuses.

Runs inside ``git receive-pack`` (SSH or HTTP), before any ref moves, with the
pushed objects in quarantine. What it prints reaches the pusher as
``remote: ...`` lines, as Gerrit's own rejections do. ``GERRIT_EMULATOR_ADMIN``
(set by the server for the pushing account) allows direct branch pushes.
"""

import os
import re
import subprocess
import sys

from ci_tools.gerrit.repos import change_id_of

ZERO = "0" * 40


def _git(*args):
    return subprocess.run(["git", *args], capture_output=True, text=True)


def _branch_exists(branch):
    return _git("rev-parse", "--verify", "-q", f"refs/heads/{branch}").returncode == 0


def check_update(old, new, ref, admin):
    """An error message for one ref update, or None if Gerrit would take it."""
    if ref.startswith("refs/for/"):
        branch = re.split(r"%", ref[len("refs/for/") :], maxsplit=1)[0]
        if new == ZERO:
            return f"cannot delete {ref}"
        if not _branch_exists(branch):
            return f"branch {branch} not found"
        # Commits already on a branch or uploaded as a patch set are not new.
        commits = _git(
            "rev-list", new, "--not", "--branches", "--glob=refs/changes/*"
        ).stdout.split()
        if not commits:
            return "no new changes"
        for sha in commits:
            message = _git("cat-file", "commit", sha).stdout.partition("\n\n")[2]
            if not change_id_of(message):
                return (
                    f"commit {sha[:7]}: missing Change-Id in message footer\n\n"
                    "Hint: to automatically insert a Change-Id, install the hook:\n"
                    "  gitdir=$(git rev-parse --git-dir); curl -o ${gitdir}/hooks/commit-msg "
                    "<gerrit>/tools/hooks/commit-msg; chmod +x ${gitdir}/hooks/commit-msg"
                )
        return None
    if ref.startswith("refs/changes/"):
        return "cannot push to refs/changes: use refs/for/<branch>"
    if ref.startswith("refs/heads/") or ref.startswith("refs/tags/"):
        return None if admin else f"prohibited by Gerrit: not permitted: update {ref}"
    return f"prohibited by Gerrit: not permitted: create {ref}"


def pre_receive(lines, admin):
    errors = []
    for line in lines:
        fields = line.split()
        if len(fields) != 3:
            continue
        error = check_update(*fields, admin=admin)
        if error:
            errors.append(f"error: {fields[2]}: {error}")
    return errors


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] != ["pre-receive"]:
        print("usage: python -m ci_tools.gerrit.hook pre-receive", file=sys.stderr)
        return 2
    admin = os.environ.get("GERRIT_EMULATOR_ADMIN") == "1"
    errors = pre_receive(sys.stdin.read().splitlines(), admin)
    for error in errors:
        print(error)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
