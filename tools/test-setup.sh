#!/usr/bin/env bash
# Install what the tests and the sandbox need on a fresh Debian/Ubuntu machine, idempotently:
#   1. system packages from bindep.txt (profile: test, or sandbox with --profile sandbox)
#   2. the Zuul venv (built on the system python, outside /tmp: bubblewrap hides /tmp and
#      pyenv trees from jobs) and Zuul's Ansible venvs (zuul-manage-ansible)
#   3. side venvs other tests need (gertty, which pins SQLAlchemy<1.4 and alembic<1.5)
# Everything lands under $CI_KIT_ROOT (default /opt/cinder-ci). A second run does nothing.
#
#   tools/test-setup.sh [--profile test|sandbox] [--check]
#
# --check only verifies and says what is missing (exit 1), installing nothing.
set -euo pipefail

ROOT=${CI_KIT_ROOT:-/opt/cinder-ci}
TOP=$(cd "$(dirname "$0")/.." && pwd)
PROFILE=test
CHECK=0
ZUUL_VERSION=14.3.0
NODEPOOL_VERSION=11.0.0

while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE=$2; shift 2 ;;
        --check) CHECK=1; shift ;;
        *) echo "usage: $0 [--profile test|sandbox] [--check]" >&2; exit 2 ;;
    esac
done

# The sandbox's node users: jobs log in as zuul and sudo, as on a DevStack node.
# The test profile adds zuul-quick, the node user of the quick-job sandbox tests,
# so they run beside the full run (which owns zuul's home and DevStack-lite).
NODE_USERS=zuul
[ "$PROFILE" = test ] && NODE_USERS="zuul zuul-quick"

log() { echo "test-setup: $*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
check_path() { [ -e "$1" ] || missing+=("$2"); }

if [ "$CHECK" = 1 ]; then
    check_path "$ROOT/tools/bin/ansible-lint" "bootstrap venv ($ROOT/tools)"
    check_path "$ROOT/zuul/.installed-$ZUUL_VERSION" "Zuul $ZUUL_VERSION venv ($ROOT/zuul)"
    check_path "$ROOT/zuul-ansible/.installed-$ZUUL_VERSION" "Zuul Ansible venvs ($ROOT/zuul-ansible)"
    for user in $NODE_USERS; do
        id "$user" >/dev/null 2>&1 || missing+=("node user $user")
        getent shadow "$user" | cut -d: -f2 | grep -q '^!' && missing+=("unlocked node user $user")
    done
    if [ -x "$ROOT/tools/bin/bindep" ]; then
        if ! out=$(cd "$TOP" && "$ROOT/tools/bin/bindep" -b "$PROFILE"); then
            missing+=("system packages: $out")
        fi
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        printf 'test-setup: missing: %s\n' "${missing[@]}" >&2
        echo "test-setup: run tools/test-setup.sh to install them" >&2
        exit 1
    fi
    exit 0
fi

apt_updated=0
apt_install() {
    [ $# -gt 0 ] || return 0
    if [ "$apt_updated" = 0 ]; then
        sudo_ apt-get update -q >/dev/null
        apt_updated=1
    fi
    log "apt-get install $*"
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# 1. bootstrap: a venv with bindep and tox, on the system python
if ! /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv python3-pip
fi
sudo_ mkdir -p "$ROOT"
if [ ! -x "$ROOT/tools/bin/ansible-lint" ]; then
    log "creating $ROOT/tools (bindep, tox, yamllint, ansible-lint)"
    /usr/bin/python3 -m venv "$ROOT/tools"
    "$ROOT/tools/bin/pip" install -q -U pip
    "$ROOT/tools/bin/pip" install -q bindep tox yamllint ansible-lint
fi

# 2. system packages
mapfile -t pkgs < <(cd "$TOP" && "$ROOT/tools/bin/bindep" -b "$PROFILE" || true)
apt_install "${pkgs[@]}"

# 3. Zuul (and nodepool, for sites still on it) in one venv on the system python
if [ ! -e "$ROOT/zuul/.installed-$ZUUL_VERSION" ]; then
    log "installing zuul $ZUUL_VERSION into $ROOT/zuul"
    /usr/bin/python3 -m venv --clear "$ROOT/zuul"
    "$ROOT/zuul/bin/pip" install -q -U pip
    "$ROOT/zuul/bin/pip" install -q "zuul==$ZUUL_VERSION" zuul-client \
        "nodepool==$NODEPOOL_VERSION" cachetools
    touch "$ROOT/zuul/.installed-$ZUUL_VERSION"
fi
if [ ! -e "$ROOT/zuul-ansible/.installed-$ZUUL_VERSION" ]; then
    log "installing Zuul's Ansible venvs into $ROOT/zuul-ansible (takes a minute)"
    "$ROOT/zuul/bin/zuul-manage-ansible" -r "$ROOT/zuul-ansible" >/dev/null
    touch "$ROOT/zuul-ansible/.installed-$ZUUL_VERSION"
fi

# 4. the sandbox node's users (passwordless sudo, as on a DevStack node)
for user in $NODE_USERS; do
    if ! id "$user" >/dev/null 2>&1; then
        log "creating the node user $user (passwordless sudo) for the loopback static node"
        sudo_ useradd -m -s /bin/bash "$user"
    fi
    # sshd (without PAM) refuses keys for a locked account ('!' in shadow): '*'
    # keeps password login impossible while allowing the executor's key.
    if sudo_ getent shadow "$user" | cut -d: -f2 | grep -q '^!'; then
        sudo_ usermod -p '*' "$user"
    fi
    if [ ! -e "/etc/sudoers.d/$user-sandbox-node" ]; then
        echo "$user ALL=(ALL) NOPASSWD:ALL" | sudo_ tee "/etc/sudoers.d/$user-sandbox-node" >/dev/null
        sudo_ chmod 0440 "/etc/sudoers.d/$user-sandbox-node"
    fi
done

# 5. side venvs of individual test suites (the sandbox needs none of them)
if [ "$PROFILE" = test ]; then
    for extra in "$TOP"/tools/setup-*.sh; do
        [ -e "$extra" ] || continue
        bash "$extra"
    done
fi

# The Debian postgresql package starts a cluster on port 5432; our harness runs its own.
log "done: $ROOT"
