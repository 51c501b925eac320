#!/usr/bin/env bash
# The soak: CYCLES create / start / exec / delete cycles of a `sleep` container, with
# random SIGKILLs to skiff (create, start, exec, delete) and to the container's init
# along the way, each cycle ending in `delete --force`. Meanwhile one long
# `skiff events --interval` watches a container of its own. Before and after, it counts
# what a leak would leave: state dirs, cgroups, mounts, the containers' processes, skiff
# processes, systemd units (--systemd: the systemd cgroup driver) and the events
# process's open fds and RSS.
#   sudo scripts/soak.sh [--cycles N] [--seed S] [--root DIR] [--systemd]
# Exit status 0 only if every count is the same after as before (RSS within
# RSS_SLACK_KB: the allocator may keep a page or two).
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then echo "soak.sh: must be run as root" >&2; exit 1; fi
repo=$(cd "$(dirname "$0")/.." && pwd)
cycles=1000 seed=$RANDOM root=/run/skiff-soak driver=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --cycles) cycles=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --root) root=$2; shift 2 ;;
        --systemd) driver=(--systemd-cgroup); shift ;;
        *) echo "usage: $0 [--cycles N] [--seed S] [--root DIR] [--systemd]" >&2; exit 2 ;;
    esac
done
RANDOM=$seed
RSS_SLACK_KB=64            # the allocator's own slack, not growth per cycle
EVENTS_INTERVAL=10ms       # the long events run reads the cgroup's stats this often
MAX_KILL_DELAY_US=12000    # kills land anywhere in a command (create takes ~10 ms)
WARMUP_S=1                 # before the events process's first measurement

skiff=${SKIFF_BINARY:-$("$repo/scripts/build.sh")}
work=$(mktemp -d /tmp/skiff-soak.XXXXXX)
bundle=$work/bundle
"$repo/scripts/make-bundle.sh" "$bundle" >/dev/null
python3 - "$bundle/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["sleep", "1000"]
c["process"]["terminal"] = False
json.dump(c, open(sys.argv[1], "w"))
PY
prefix=soak$$-
sk() { "$skiff" --root "$root" "${driver[@]}" "$@" </dev/null >/dev/null 2>>"$work/errors"; }
cgmount=$(findmnt -n -t cgroup2 -o TARGET | head -1)
comm=$(basename "$skiff" | cut -c1-15)   # the kernel keeps 15 bytes of a command name

counts() {
    local dirs cgroups mounts procs skiffs units=""
    dirs=$(find "$root" -mindepth 1 -maxdepth 1 -name "$prefix*" 2>/dev/null | wc -l)
    cgroups=$(find "$cgmount" -type d -name "*$prefix*" 2>/dev/null | wc -l)
    mounts=$(wc -l </proc/self/mountinfo)
    # Live ones: a container init reparented to this machine's pid 1 stays a zombie
    # until pid 1 reaps it (containerd's shim, a subreaper, reaps at once).
    procs=0
    for f in $(grep -ls "$prefix" /proc/[0-9]*/cgroup 2>/dev/null); do
        [[ $(awk '{print $3}' "${f%/cgroup}/stat" 2>/dev/null) =~ ^[RSDT]$ ]] && procs=$((procs + 1))
    done
    skiffs=$(pgrep -xc --runstates RSDT "$comm" || true)
    if [[ ${#driver[@]} -gt 0 ]]; then
        units=" units=$(systemctl list-units --all --no-legend "*$prefix*" | wc -l)"
    fi
    echo "state-dirs=$dirs cgroups=$cgroups mounts=$mounts container-processes=$procs skiff-processes=$skiffs$units"
}
# The fewest fds and the least RSS over EVENTS_SAMPLES looks: each round of the events
# loop holds a cgroup file open for a moment, so one look may catch one fd more.
EVENTS_SAMPLES=10
events_counts() {
    local fds rss f r i
    for ((i = 0; i < EVENTS_SAMPLES; i++)); do
        f=$(ls "/proc/$events_pid/fd" | wc -l)
        r=$(awk '/^VmRSS/ {print $2}' "/proc/$events_pid/status")
        if [[ -z ${fds:-} ]] || ((f < fds)); then fds=$f; fi
        if [[ -z ${rss:-} ]] || ((r < rss)); then rss=$r; fi
        sleep 0.003
    done
    echo "$fds $rss"
}
# Kills `$@` (a skiff command, in the background) after a random delay.
killed() {
    "$skiff" --root "$root" "${driver[@]}" "$@" </dev/null >/dev/null 2>&1 &
    local p=$!
    usleep_s=$(printf '0.%06d' $((RANDOM * MAX_KILL_DELAY_US / 32768)))
    sleep "$usleep_s"
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
# A step that must succeed: its failure fails the soak, naming the cycle.
must() {
    if ! sk "$@"; then
        echo "soak.sh: cycle $i: $1 ${*: -1} failed: $(tail -1 "$work/errors")" >&2
        failed=1
    fi
}
init_pid() { "$skiff" --root "$root" state "$1" 2>/dev/null | sed -n 's/^ *"pid": *\([0-9]*\),*/\1/p'; }

watched=${prefix}events
sk create -b "$bundle" "$watched"
sk start "$watched"
"$skiff" --root "$root" "${driver[@]}" events --interval "$EVENTS_INTERVAL" "$watched" >/dev/null 2>>"$work/errors" &
events_pid=$!
sleep "$WARMUP_S"
before=$(counts)
read -r fds0 rss0 <<<"$(events_counts)"
echo "soak.sh: $cycles cycles, seed $seed, skiff $skiff"
echo "before: $before events-fds=$fds0 events-rss-kb=$rss0"

declare -A outcomes=()
t0=$SECONDS
for ((i = 0; i < cycles; i++)); do
    id=$prefix$i
    # What dies this cycle: 0-5 nothing, 6 create, 7 start, 8 exec, 9 the init, 10 delete.
    what=$((RANDOM % 11))
    case $what in
        6) killed create -b "$bundle" "$id"; outcomes[create]=$((${outcomes[create]:-0} + 1)) ;;
        *)
            # Up to the kill every step must succeed: a soak whose containers never ran
            # would prove nothing.
            must create -b "$bundle" "$id"
            if [[ $what -eq 7 ]]; then
                killed start "$id"; outcomes[start]=$((${outcomes[start]:-0} + 1))
            else
                must start "$id"
            fi
            if [[ $what -eq 8 ]]; then
                killed exec "$id" true; outcomes[exec]=$((${outcomes[exec]:-0} + 1))
            elif [[ $what -eq 7 ]]; then
                sk exec "$id" true || true
            else
                must exec "$id" true
            fi
            if [[ $what -eq 9 ]]; then
                pid=$(init_pid "$id")
                [[ -n $pid && $pid != 0 ]] && kill -9 "$pid" 2>/dev/null || true
                outcomes[init]=$((${outcomes[init]:-0} + 1))
            fi
            if [[ $what -eq 10 ]]; then
                killed delete --force "$id"; outcomes[delete]=$((${outcomes[delete]:-0} + 1))
            fi
            [[ $what -le 5 ]] && outcomes[none]=$((${outcomes[none]:-0} + 1))
            ;;
    esac
    if ! sk delete --force "$id"; then
        echo "soak.sh: cycle $i: delete --force $id failed: $(tail -1 "$work/errors")" >&2
        failed=1
    fi
    [[ -e $root/$id ]] && { echo "soak.sh: cycle $i: state dir of $id left" >&2; failed=1; }
done
elapsed=$((SECONDS - t0))
read -r fds1 rss1 <<<"$(events_counts)"
after=$(counts)
kill "$events_pid"; wait "$events_pid" 2>/dev/null || true
sk delete --force "$watched"
echo "after:  $after events-fds=$fds1 events-rss-kb=$rss1"
echo "kills: $(for k in "${!outcomes[@]}"; do printf '%s=%s ' "$k" "${outcomes[$k]}"; done)"
echo "soak.sh: $cycles cycles in $elapsed s"
rc=${failed:-0}
[[ $before == "$after" ]] || { echo "soak.sh: counts differ" >&2; rc=1; }
[[ $fds0 == "$fds1" ]] || { echo "soak.sh: the events process's fds went from $fds0 to $fds1" >&2; rc=1; }
if ((rss1 - rss0 > RSS_SLACK_KB)); then echo "soak.sh: the events process grew from $rss0 to $rss1 kB" >&2; rc=1; fi
[[ $rc -eq 0 ]] && rm -rf "$work" || echo "soak.sh: errors in $work/errors" >&2
exit "$rc"
