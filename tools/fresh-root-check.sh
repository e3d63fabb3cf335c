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
CACHE="$ROOT/fresh-root"
SUITE=bookworm
KEEP=0
[ "${1:-}" = --keep ] && KEEP=1

log() { echo "fresh-root: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (chroot and bind mounts)"
command -v mmdebstrap >/dev/null || fail "mmdebstrap missing: run tools/test-setup.sh"

mkdir -p "$CACHE/apt" "$CACHE/pip"
base="$CACHE/$SUITE-minbase.tar"
if [ ! -s "$base" ]; then
    start=$(date +%s)
    log "building a $SUITE minbase root (once; cached in $base)"
    # The host's mirror (its sources may point at a snapshot or a proxy).
    mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
        || true)
    # (the .tar suffix tells mmdebstrap to write a tarball, not a directory)
    mmdebstrap --variant=minbase --quiet "$SUITE" "$base.tmp.tar" \
        "${mirror:-http://deb.debian.org/debian}"
    mv "$base.tmp.tar" "$base"
    log "base root built in $(( $(date +%s) - start ))s"
fi

chroot_dir=$(mktemp -d /var/tmp/fresh-root.XXXXXX)
mounts=()
cleanup() {
    for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    if [ "$KEEP" = 0 ]; then rm -rf --one-file-system "$chroot_dir"; else log "kept $chroot_dir"; fi
}
trap cleanup EXIT
bind() { mkdir -p "$chroot_dir$2"; mount --bind "$1" "$chroot_dir$2"; mounts+=("$chroot_dir$2"); }

tar -C "$chroot_dir" -xf "$base"
bind /proc /proc
bind /sys /sys
bind /dev /dev
bind "$CACHE/apt" /var/cache/apt/archives
bind "$CACHE/pip" /root/.cache/pip
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
# Keep what the host's apt is told about its mirror (snapshot dates, proxies).
cp /etc/apt/apt.conf.d/* "$chroot_dir/etc/apt/apt.conf.d/" 2>/dev/null || true
rm -f "$chroot_dir/etc/apt/apt.conf.d/docker-clean"
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' \
    > "$chroot_dir/etc/apt/apt.conf.d/90keep-debs"
cp /etc/pip.conf "$chroot_dir/etc/pip.conf" 2>/dev/null || true
# The site's network trust (a proxy's CA in this machine's bundle, as a machine
# at the same site would have it): the root's own bundle is rebuilt by its
# ca-certificates package, so the host's goes beside it and the env names it.
# ca-certificates adds /usr/local/share/ca-certificates to the root's bundle when
# test-setup installs it, so the node's own pip (run by the jobs) trusts it too.
site_ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
cp "$site_ca" "$chroot_dir/etc/site-ca-bundle.crt"
mkdir -p "$chroot_dir/usr/local/share/ca-certificates"
cp "$site_ca" "$chroot_dir/usr/local/share/ca-certificates/site-ca-bundle.crt"
# A root is not a booted system: packages must not start their services here.
printf '#!/bin/sh\nexit 101\n' > "$chroot_dir/usr/sbin/policy-rc.d"
chmod 0755 "$chroot_dir/usr/sbin/policy-rc.d"
# The repo as committed, as a fresh clone has it.
mkdir -p "$chroot_dir/src/kit"
git -C "$TOP" ls-files -z | (cd "$TOP" && tar --null -T - -cf -) | tar -C "$chroot_dir/src/kit" -xf -

ca=/etc/site-ca-bundle.crt
in_root() {
    chroot "$chroot_dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        CI_KIT_ROOT=/opt/cinder-ci PIP_CERT=$ca SSL_CERT_FILE=$ca REQUESTS_CA_BUNDLE=$ca \
        GIT_SSL_CAINFO=$ca CURL_CA_BUNDLE=$ca "$@"
}

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
