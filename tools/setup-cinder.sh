#!/usr/bin/env bash
# Build the Cinder venv the refflash driver's tests run in: cinder 29 from PyPI
# on the system python, kept apart from Zuul's venv and from the tox envs (its
# pins would clash with both). Lands in $CI_KIT_ROOT/cinder-venv; a second run
# does nothing. tools/test-setup.sh runs every tools/setup-*.sh.
#
#   tools/setup-cinder.sh [--check]
set -euo pipefail

ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
VENV=$ROOT/cinder-venv
CINDER_SPEC=${CINDER_SPEC:-cinder==29.*}
MARK=$VENV/.installed-cinder-29

if [ "${1:-}" = --check ]; then
    if [ -e "$MARK" ]; then exit 0; fi
    echo "setup-cinder: missing: cinder venv ($VENV); run tools/setup-cinder.sh" >&2
    exit 1
fi

if [ -e "$MARK" ]; then
    exit 0
fi
echo "setup-cinder: installing $CINDER_SPEC into $VENV" >&2
mkdir -p "$ROOT"
/usr/bin/python3 -m venv --clear "$VENV"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q "$CINDER_SPEC"
touch "$MARK"
