# Sourced by tools/fresh-root-check.sh and tools/fresh-machine-sandbox.sh: a
# minimal Debian 12 root (mmdebstrap --variant=minbase), built once and cached
# under $CI_KIT_ROOT/fresh-root with apt's .debs and pip's wheels, unpacked
# into a new directory each time, as a new user's machine has it.
#
# Defines: fresh_root_prepare (sets chroot_dir, mounts, trap), bind, in_root.
# The caller sets KEEP (0/1) and may set FRESH_ROOT_NAMESPACED=1 when it runs
# in its own mount and PID namespaces: then the root is a mount point of its
# own (bubblewrap, which Zuul's executor runs every job in, calls pivot_root,
# which fails inside a plain chroot) and /proc is mounted fresh for the new
# PID namespace instead of bound from the host.

SUITE=bookworm
CACHE="${CI_KIT_ROOT:-/opt/cinder-ci}/fresh-root"

log() { echo "fresh-root: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

mounts=()
bind() { mkdir -p "$chroot_dir$2"; mount --bind "$1" "$chroot_dir$2"; mounts+=("$chroot_dir$2"); }

fresh_root_cleanup() {
    for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -l "${mounts[$i]}" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 0 ]; then rm -rf --one-file-system "$chroot_dir"; else log "kept $chroot_dir"; fi
}

fresh_root_prepare() {
    [ "$(id -u)" = 0 ] || fail "needs root (chroot and bind mounts)"
    command -v mmdebstrap >/dev/null || fail "mmdebstrap missing: run tools/test-setup.sh"
    mkdir -p "$CACHE/apt" "$CACHE/pip"
    local base="$CACHE/$SUITE-minbase.tar"
    if [ ! -s "$base" ]; then
        local start; start=$(date +%s)
        log "building a $SUITE minbase root (once; cached in $base)"
        # The host's mirror (its sources may point at a snapshot or a proxy).
        local mirror
        mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null \
            || true)
        # (the .tar suffix tells mmdebstrap to write a tarball, not a directory)
        mmdebstrap --variant=minbase --quiet "$SUITE" "$base.tmp.tar" \
            "${mirror:-http://deb.debian.org/debian}"
        mv "$base.tmp.tar" "$base"
        log "base root built in $(( $(date +%s) - start ))s"
    fi

    chroot_dir=$(mktemp -d /var/tmp/fresh-root.XXXXXX)
    trap fresh_root_cleanup EXIT
    if [ "${FRESH_ROOT_NAMESPACED:-0}" = 1 ]; then
        mount --bind "$chroot_dir" "$chroot_dir"
        mounts+=("$chroot_dir")
    fi
    tar -C "$chroot_dir" -xf "$base"
    if [ "${FRESH_ROOT_NAMESPACED:-0}" = 1 ]; then
        mkdir -p "$chroot_dir/proc"
        mount -t proc proc "$chroot_dir/proc"
        mounts+=("$chroot_dir/proc")
    else
        bind /proc /proc
    fi
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
    local site_ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
    cp "$site_ca" "$chroot_dir/etc/site-ca-bundle.crt"
    mkdir -p "$chroot_dir/usr/local/share/ca-certificates"
    cp "$site_ca" "$chroot_dir/usr/local/share/ca-certificates/site-ca-bundle.crt"
    # A root is not a booted system: packages must not start their services here.
    printf '#!/bin/sh\nexit 101\n' > "$chroot_dir/usr/sbin/policy-rc.d"
    chmod 0755 "$chroot_dir/usr/sbin/policy-rc.d"
}

ca=/etc/site-ca-bundle.crt
root_env=(/usr/bin/env -i HOME=/root LANG=C.UTF-8
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    CI_KIT_ROOT=/opt/cinder-ci PIP_CERT=$ca SSL_CERT_FILE=$ca REQUESTS_CA_BUNDLE=$ca
    GIT_SSL_CAINFO=$ca CURL_CA_BUNDLE=$ca)
in_root() {
    if [ "${FRESH_ROOT_NAMESPACED:-0}" != 1 ]; then
        chroot "$chroot_dir" "${root_env[@]}" "$@"
        return
    fi
    # pivot_root in a mount namespace of its own, not chroot: the kernel
    # refuses a chrooted process new user namespaces, and Zuul's executor runs
    # every job in bubblewrap with --unshare-user (its start-up check fails).
    # The host's tree is unmounted after the pivot: only the root is seen.
    unshare --mount --propagation private -- /bin/bash -c '
        cd "$1" && mkdir -p .host-root && pivot_root . .host-root || exit 125
        cd / && umount -l /.host-root || exit 125
        shift; exec /usr/sbin/chroot / "$@"' in-root "$chroot_dir" "${root_env[@]}" "$@"
}
