#!/usr/bin/env bash
# The README's test command: set up this machine, then run every test layer.
#   tools/run-tests.sh            linters, unit, functional (real services on loopback)
#   tools/run-tests.sh -e py3     any tox env(s) instead, e.g. the quick unit env
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
ENVS=linters,py3,functional
if [ "${1:-}" = "-e" ]; then
    ENVS=$2
    shift 2
fi
start=$(date +%s)
bash "$TOP/tools/test-setup.sh" --profile test
cd "$TOP"
"$ROOT/tools/bin/tox" -e "$ENVS" "$@"
echo "run-tests: $ENVS passed in $(( $(date +%s) - start ))s"
