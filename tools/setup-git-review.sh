#!/usr/bin/env bash
# Build the venv with git-review 2.5.0 from PyPI that the Gerrit emulator's
# git-review test drives next to Debian's git-review 2.3.1 (bindep, [test]):
# patch authors use both, and they differ in how they fetch the commit-msg
# hook and query changes. A second run does nothing; tools/test-setup.sh runs
# every tools/setup-*.sh.
#
#   tools/setup-git-review.sh [--check]
set -euo pipefail

ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
VERSION=2.5.0
VENV=$ROOT/git-review-$VERSION
MARK=$VENV/.installed

if [ "${1:-}" = --check ]; then
    if [ -e "$MARK" ]; then exit 0; fi
    echo "setup-git-review: missing: git-review $VERSION venv ($VENV); run tools/setup-git-review.sh" >&2
    exit 1
fi

if [ -e "$MARK" ]; then
    exit 0
fi
echo "setup-git-review: installing git-review $VERSION into $VENV" >&2
mkdir -p "$ROOT"
/usr/bin/python3 -m venv --clear "$VENV"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q "git-review==$VERSION"
"$VENV/bin/git-review" --version
touch "$MARK"
