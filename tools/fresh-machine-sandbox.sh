#!/usr/bin/env bash
# The README's main command on a fresh Debian 12 machine, N times in a row:
# a minimal root (tools/lib/fresh-root.sh), a fresh clone of this repo in it,
# then `tools/run-sandbox.sh` run N times there, exactly as a new user types it
# (its own setup included). For each run: exit code, wall time, peak memory,
# the CI comment's job lines, and any process still running after it returned.
#
#   tools/fresh-machine-sandbox.sh [--runs N] [--keep] [-- ARGS for run-sandbox.sh]
#
# The root runs in its own mount and PID namespaces: what the sandbox leaves
# behind is seen (and reported) without the host's processes in the way, and
# nothing outlives the check. It shares the host's network (setup downloads
# from the Debian mirror and PyPI), so nothing else may run a sandbox meanwhile.
# apt's .debs and pip's wheels come from the fresh-root cache when a run of
# tools/fresh-root-check.sh left them there (downloads are not part of the
# figures then; everything else is). Results and logs: $CI_KIT_ROOT/fresh-root/runs/.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
RUNS=3
KEEP=0
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --) shift; args=("$@"); break ;;
        *) echo "usage: $0 [--runs N] [--keep] [-- run-sandbox args]" >&2; exit 2 ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]?$ ]] || { echo "--runs takes 1..99" >&2; exit 2; }

if [ "${FRESH_MACHINE_INNER:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "fresh-machine: needs root" >&2; exit 1; }
    # Peak memory of everything the runs start (cgroup v1 memory controller,
    # page cache included), beside the sampled sum of RSS below.
    cg=""
    if [ -d /sys/fs/cgroup/memory ]; then
        cg=/sys/fs/cgroup/memory/fresh-machine-sandbox.$$
        mkdir "$cg" && echo $$ > "$cg/cgroup.procs"
    fi
    rc=0
    FRESH_MACHINE_INNER=1 FRESH_MACHINE_CGROUP=$cg \
        unshare --mount --propagation private --pid --fork --mount-proc \
        bash "$0" --runs "$RUNS" $([ "$KEEP" = 1 ] && echo --keep) -- "${args[@]}" || rc=$?
    if [ -n "$cg" ]; then
        echo $$ > /sys/fs/cgroup/memory/cgroup.procs
        rmdir "$cg" 2>/dev/null || true
    fi
    exit $rc
fi

FRESH_ROOT_NAMESPACED=1
# shellcheck source=tools/lib/fresh-root.sh
. "$TOP/tools/lib/fresh-root.sh"
fresh_root_prepare
# What a booted machine has and a bare root lacks: ptys (ssh -tt) and POSIX shm
# (PostgreSQL).
bind /dev/pts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs "$chroot_dir/dev/shm"; mounts+=("$chroot_dir/dev/shm")
# A fresh clone of the repo as committed (HEAD), as a new user makes one.
git clone -q --no-local "$TOP" "$chroot_dir/src/kit"

out="$CACHE/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
peak_file=$(mktemp)
summary="$out/summary.txt"
printf '%-4s %-5s %-9s %-14s %-14s %s\n' run exit wall peak-rss peak-cgroup "jobs" > "$summary"
status=0
for i in $(seq 1 "$RUNS"); do
    log "run $i of $RUNS: tools/run-sandbox.sh ${args[*]:-}"
    [ -n "${FRESH_MACHINE_CGROUP:-}" ] && echo 0 > "$FRESH_MACHINE_CGROUP/memory.max_usage_in_bytes" || true
    echo 0 > "$peak_file"
    # Sum of every process's RSS in this PID namespace, every 2 s.
    # (processes come and go under cat: no errexit in here)
    ( set +e +o pipefail
      while sleep 2; do
          now=$(cat /proc/[0-9]*/status 2>/dev/null | awk '/^VmRSS:/ {s += $2} END {print s + 0}')
          [ "$now" -gt "$(cat "$peak_file")" ] && echo "$now" > "$peak_file"
      done ) &
    sampler=$!
    start=$(date +%s)
    rc=0
    in_root bash -c 'cd /src/kit && exec tools/run-sandbox.sh "$@"' run-sandbox "${args[@]}" \
        > "$out/run-$i.log" 2>&1 || rc=$?
    wall=$(( $(date +%s) - start ))
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    rss_mib=$(( $(cat "$peak_file") / 1024 ))
    cg_mib=-
    if [ -n "${FRESH_MACHINE_CGROUP:-}" ]; then
        cg_mib=$(( $(cat "$FRESH_MACHINE_CGROUP/memory.max_usage_in_bytes") / 1048576 ))
    fi
    # The comment's job lines, as the CI posted them.
    jobs=$(grep -E '^- [a-z0-9-]+ .* : [A-Z_]+' "$out/run-$i.log" | sed -E 's/^- ([^ ]+) .* : ([A-Z_]+).*/\1=\2/' | tr '\n' ' ' || true)
    printf '%-4s %-5s %-9s %-14s %-14s %s\n' "$i" "$rc" "${wall}s" "${rss_mib}MiB" "${cg_mib}MiB" "${jobs:-none}" >> "$summary"
    log "run $i: exit $rc in ${wall}s, peak RSS ${rss_mib} MiB; ${jobs:-no job lines}"
    [ "$rc" = 0 ] || { status=1; tail -25 "$out/run-$i.log" >&2; }
    # Everything the run started must be gone once it returned: every
    # process of this PID namespace but this script (its init, pid 1), read
    # from /proc in this shell (a ps pipeline would list itself). The
    # sampler's last sleep ends first.
    sleep 3
    left=""
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        [ "$pid" = 1 ] && continue
        # (not "args": that holds run-sandbox.sh's arguments for the next run)
        cmd=$(tr '\0' ' ' < "$proc/cmdline" 2>/dev/null) || continue
        [ -n "$cmd" ] && left+="  $pid $cmd"$'\n'
    done
    if [ -n "$left" ]; then
        log "run $i left processes running:"; printf '%s' "$left" | tee "$out/run-$i.leftovers" >&2
        status=1
    fi
done
rm -f "$peak_file"
cat "$summary" >&2
log "logs in $out"
[ "$status" = 0 ] && log "OK: $RUNS runs of tools/run-sandbox.sh, each exit 0, nothing left running"
exit $status
