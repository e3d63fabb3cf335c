#!/usr/bin/env bash
# Prove the README commands' install steps on a fresh Debian 12: build a minimal
# root (mmdebstrap --variant=minbase, cached), run tools/test-setup.sh in it for
# the sandbox profile and then the test profile (what a new user runs:
# tools/run-sandbox.sh, then tools/run-tests.sh), then `test-setup.sh --check`,
# and check that every program the kit runs for that profile
# (ci_tools/configcheck/executables.py) is on PATH there.
#
# CI runs on a machine where packages installed by hand earlier still exist;
# only a fresh root shows a missing install step (rsync, MariaDB and RabbitMQ
# were missed that way once).
#
#   tools/fresh-root-check.sh [--keep]    exit 0: every step and program found
#
# Caches under $CI_KIT_ROOT/fresh-root: the base tarball, apt's .debs and
# pip's wheels, so a second run downloads nothing. Needs root (chroot, mounts).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
KEEP=0
[ "${1:-}" = --keep ] && KEEP=1
# shellcheck source=tools/lib/fresh-root.sh
. "$TOP/tools/lib/fresh-root.sh"
fresh_root_prepare
# The repo as committed, as a fresh clone has it.
mkdir -p "$chroot_dir/src/kit"
git -C "$TOP" ls-files -z | (cd "$TOP" && tar --null -T - -cf -) | tar -C "$chroot_dir/src/kit" -xf -

status=0
for profile in sandbox test; do
    start=$(date +%s)
    log "tools/test-setup.sh --profile $profile in a fresh $SUITE root"
    if ! in_root bash /src/kit/tools/test-setup.sh --profile "$profile" >"$chroot_dir/setup-$profile.log" 2>&1; then
        tail -30 "$chroot_dir/setup-$profile.log" >&2
        fail "tools/test-setup.sh --profile $profile failed in a fresh root"
    fi
    log "setup for $profile took $(( $(date +%s) - start ))s"
    if ! in_root bash /src/kit/tools/test-setup.sh --profile "$profile" --check; then
        fail "tools/test-setup.sh --check --profile $profile finds something missing"
    fi
    missing=()
    while IFS=$'\t' read -r exe package caller; do
        if ! in_root sh -c "command -v '$exe'" >/dev/null; then
            missing+=("$exe (package $package, run by $caller)")
        fi
    done < <(cd "$TOP" && PYTHONPATH="$TOP" "$ROOT/tools/bin/python" -m ci_tools.configcheck.executables --profile "$profile")
    if [ ${#missing[@]} -gt 0 ]; then
        printf 'fresh-root: missing for %s: %s\n' "$profile" "${missing[@]}" >&2
        status=1
    else
        log "every program the $profile profile runs is installed"
    fi
done
[ "$status" = 0 ] || fail "programs missing after setup (see above)"
log "OK: both profiles set up from nothing"
