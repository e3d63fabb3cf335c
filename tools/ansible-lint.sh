#!/bin/bash
# Lint the playbooks and roles as Zuul runs them: roles come from roles/ of
# this repo (Zuul adds the config project as an implicit role source), and
# test-playbooks/ (playbooks that assert what a role did) when present.
# Config: .ansible-lint. Usage: tools/ansible-lint.sh [extra ansible-lint args]
set -euo pipefail
cd "$(dirname "$0")/.."
export ANSIBLE_ROLES_PATH="$PWD/roles"
paths=(playbooks roles)
[ -d test-playbooks ] && paths+=(test-playbooks)
exec ansible-lint "$@" "${paths[@]}"
