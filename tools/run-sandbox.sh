#!/usr/bin/env bash
# The README's main command: set this machine up and run the sandbox.
# Today the sandbox boots the real Zuul stack against this repo's config and proves it
# (`ci-tools config check`); extra arguments go to that command.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
bash "$TOP/tools/test-setup.sh" --profile sandbox
if [ ! -x "$ROOT/venv/bin/ci-tools" ] || [ "$TOP/pyproject.toml" -nt "$ROOT/venv/.installed" ]; then
    echo "run-sandbox: installing ci-tools into $ROOT/venv" >&2
    /usr/bin/python3 -m venv "$ROOT/venv"
    "$ROOT/venv/bin/pip" install -q -U pip
    "$ROOT/venv/bin/pip" install -q -r "$TOP/requirements.txt" -e "$TOP"
    touch "$ROOT/venv/.installed"
fi
cd "$TOP"
exec "$ROOT/venv/bin/ci-tools" config check "$@"
