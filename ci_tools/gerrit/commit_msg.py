"""The commit-msg hook the emulator hands out (HTTP /tools/hooks/commit-msg, scp
and SFTP ``hooks/commit-msg``), as Gerrit hands out its own.

Written for the emulator, not copied from Gerrit: it adds a ``Change-Id:
I<40 hex>`` trailer with ``git interpret-trailers`` unless the message already
has one, is empty once comments are stripped, or ``gerrit.createChangeId`` is
false. The id hashes the tree, parent, author, committer and message, as
Gerrit's hook does, so two commits do not share one by chance.
"""

COMMIT_MSG_HOOK = r"""#!/bin/sh
# Gerrit emulator commit-msg hook: add a Change-Id trailer to each new commit.
set -u
msg="$1"

if [ "$(git config --bool --get gerrit.createChangeId)" = "false" ]; then
    exit 0
fi
# An empty message (only comments and blank lines) aborts the commit anyway.
if ! sed -e '/^#/d' -e '/^[[:space:]]*$/d' "$msg" | grep -q .; then
    exit 0
fi
if git interpret-trailers --parse < "$msg" | grep -q '^Change-Id: I[0-9a-f]\{8,\}'; then
    exit 0
fi
seed=$( {
    git write-tree 2>/dev/null
    git rev-parse HEAD 2>/dev/null
    git var GIT_AUTHOR_IDENT
    git var GIT_COMMITTER_IDENT
    cat "$msg"
} | git hash-object --stdin)
git interpret-trailers --in-place --where end --if-exists doNothing \
    --trailer "Change-Id: I$seed" "$msg"
"""
