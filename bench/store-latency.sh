#!/usr/bin/env bash
# What the node's storage costs a compile's latency: RUNS serial `kiln cc gcc -c` of a small file, each a
# new action (a header rewritten before each run), through a local node (plaintext, remote
# preprocessing off, kiln cc's local cache off, so every run is a remote compile that the node stores),
# with the node's data directory on the disk (TMPDIR), on tmpfs (/dev/shm), and on the disk with only
# the job directories on tmpfs. Alternates the three, ROUNDS times; prints per-run wall time and the
# node's CPU per job. Writes nothing; docs/benchmarks.md (overhead-analysis) quotes it.
#
#   bench/store-latency.sh [RUNS] [ROUNDS]     (defaults 100 and 2)
#
# Every node listens on 127.0.0.1 and is stopped when the script exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-100}"
rounds="${2:-2}"
[[ "$runs" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "store-latency: RUNS and ROUNDS are positive numbers" >&2; exit 2; }
kiln="$repo/artifacts/bin/kiln"
[ -x "$kiln" ] || { echo "store-latency: artifacts/bin/kiln is missing (scripts/setup builds it)" >&2; exit 1; }
[ -d /dev/shm ] && [ -w /dev/shm ] || { echo "store-latency: /dev/shm (tmpfs) is not writable" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-store-latency.XXXXXX")"
shm="$(mktemp -d /dev/shm/kiln-store-latency.XXXXXX)"
node=""
cleanup() {
    [ -n "$node" ] && kill "$node" 2>/dev/null && wait "$node" 2>/dev/null
    rm -rf "$work" "$shm"
}
trap cleanup EXIT

cd "$work"
printf '#include <stdio.h>\n#include "unique.h"\nint f(int n) { int t = 0; for (int i = 0; i < n; i++) t += i * i; return t; }\nvoid p(void) { printf("%%d\\n", f(9)); }\n' > tiny.c

# run MODE: one series through a fresh node; prints its line.
run() {
    local mode="$1" data
    case "$mode" in
        disk) data="$work/data-disk" ;;
        tmpfs) data="$shm/data" ;;
        jobs-on-tmpfs) data="$work/data-jobs"; mkdir -p "$data" "$shm/jobs"; ln -s "$shm/jobs" "$data/jobs" ;;
    esac
    "$kiln" serve --data "$data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots 2 --plaintext-loopback >"$work/node.log" 2>&1 &
    node=$!
    for _ in $(seq 150); do grep -q '^ready' "$work/node.log" && break; sleep 0.2; done
    local endpoint
    endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$work/node.log" | head -n 1)"
    [ -n "$endpoint" ] || { cat "$work/node.log" >&2; echo "store-latency: the node did not start" >&2; exit 1; }
    # kiln execs kiln-full in the same process, so $node is the node itself.
    local cpu0 cpu1 start end
    cpu0="$(awk '{print $14+$15}' "/proc/$node/stat")"
    start="$(date +%s%N)"
    for i in $(seq "$runs"); do
        echo "int unique_${mode//-/_}_${i}_$RANDOM$RANDOM;" > unique.h
        env -u DISTCC_HOSTS KILN_HOSTS="$endpoint/2,kiln,plain" KILN_DIR="$work/client" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 \
            KILN_REMOTE_PREPROCESS=0 "$kiln" cc gcc -c tiny.c -o tiny.o
    done
    end="$(date +%s%N)"
    cpu1="$(awk '{print $14+$15}' "/proc/$node/stat")"
    kill "$node"; wait "$node" 2>/dev/null || true
    node=""
    rm -rf "$data" "$shm/jobs"
    printf '%-14s %6.1f ms per compile, node itself %5.1f ms CPU per job\n' "$mode" \
        "$(echo "($end - $start) / $runs / 1000000" | bc -l)" "$(echo "($cpu1 - $cpu0) * 10 / $runs" | bc -l)"
}

echo "store-latency: $runs serial compiles per series, $rounds rounds; load $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$rounds"); do
    for mode in disk tmpfs jobs-on-tmpfs; do
        run "$mode"
    done
done
