#!/usr/bin/env bash
# The README's main command: set this machine up and run the sandbox.
# 1. `ci-tools config check`: a real Zuul loads this repo's config; errors as file:line.
# 2. `ci-tools sandbox up --once`: Gerrit emulator, reference array, Zuul, a node and a
#    log server; a change is pushed to openstack/cinder and the CI's comment printed.
# Extra arguments go to `sandbox up` (e.g. drop --once by passing --keep to stay up).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
bash "$TOP/tools/test-setup.sh" --profile sandbox
if [ ! -x "$ROOT/venv/bin/ci-tools" ] || [ "$TOP/pyproject.toml" -nt "$ROOT/venv/.installed" ] \
        || [ "$TOP/requirements.txt" -nt "$ROOT/venv/.installed" ]; then
    echo "run-sandbox: installing ci-tools into $ROOT/venv" >&2
    /usr/bin/python3 -m venv "$ROOT/venv"
    "$ROOT/venv/bin/pip" install -q -U pip
    "$ROOT/venv/bin/pip" install -q -r "$TOP/requirements.txt" -e "$TOP"
    touch "$ROOT/venv/.installed"
fi
cd "$TOP"
"$ROOT/venv/bin/ci-tools" config check
once=--once
for arg in "$@"; do
    if [ "$arg" = --keep ]; then once=; fi
done
args=()
for arg in "$@"; do
    [ "$arg" = --keep ] || args+=("$arg")
done
exec "$ROOT/venv/bin/ci-tools" sandbox up $once "${args[@]}"
