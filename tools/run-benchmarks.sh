#!/usr/bin/env bash
# Run every benchmark in benchmarks/ (or those named) and print their tables.
#   tools/run-benchmarks.sh [bench_stack bench_gerrit ...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
    set -- $(cd benchmarks && ls bench_*.py | sed 's/\.py$//')
fi
for bench in "$@"; do
    echo "== $bench"
    python -m "benchmarks.$bench"
done
