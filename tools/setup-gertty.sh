#!/usr/bin/env bash
# Build the gertty venv the Gerrit emulator's gertty test drives: gertty 1.6.0
# (its last release) from PyPI on the system python, with the SQLAlchemy and
# alembic of its time: with alembic>=1.5 ``alembic.migration`` is no longer
# imported by ``import alembic`` and gertty dies creating its database
# (``--help`` still works, which hides it); alembic 1.4 wants SQLAlchemy<1.4.
# Those pins clash with Zuul's, so gertty gets its own venv in $CI_KIT_ROOT/gertty;
# a second run does nothing. tools/test-setup.sh runs every
# tools/setup-*.sh.
#
#   tools/setup-gertty.sh [--check]
set -euo pipefail

ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
VENV=$ROOT/gertty
MARK=$VENV/.installed-gertty-1.6.0-sqla13

if [ "${1:-}" = --check ]; then
    if [ -e "$MARK" ]; then exit 0; fi
    echo "setup-gertty: missing: gertty venv ($VENV); run tools/setup-gertty.sh" >&2
    exit 1
fi

if [ -e "$MARK" ]; then
    exit 0
fi
echo "setup-gertty: installing gertty 1.6.0 into $VENV" >&2
mkdir -p "$ROOT"
/usr/bin/python3 -m venv --clear "$VENV"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q "gertty==1.6.0" "SQLAlchemy<1.4" "alembic<1.5"
"$VENV/bin/python" -c "import gertty.app, alembic; alembic.migration.MigrationContext"
touch "$MARK"
