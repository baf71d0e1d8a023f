#!/usr/bin/env bash
# The warm rebuild of uClibc-ng: Kiln against ccache, in one run, each from a fresh tree.
#
#   1. ccache cold: empty CCACHE_DIR, remote_storage on a Kiln node's /ccache/ (fills both).
#   2. ccache warm, local: a fresh tree, the same CCACHE_DIR (every compile a local hit).
#   3. ccache warm, remote: a fresh tree, an empty CCACHE_DIR, remote_only on the node (every compile a
#      remote hit over HTTP).
#   4. kiln cold: an empty KILN_DIR, KILN_HOSTS on a second node with an empty store (every compile remote).
#   5. kiln warm, local: a fresh tree, the same KILN_DIR (every compile a hit in kiln cc's local cache).
#   6. kiln warm node: a fresh tree, an empty KILN_DIR (every compile answered by the node: remote direct
#      mode, else by ActionKey after preprocessing).
#
#   bench/warm-rebuild.sh [--jobs N] [--output FILE] [--keep]
#
# Every build runs make -jN (default: the number of cores) with fallback off, so every compile is
# accounted for; objects are compared with a plain gcc build's. Writes its section (warm-rebuild) of
# docs/benchmarks.md. Every process listens on 127.0.0.1 and is stopped when the script exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/workloads.sh
source "$repo/bench/workloads.sh"
command_line="bench/warm-rebuild.sh $*"
jobs="$(nproc)"
output="$repo/docs/benchmarks.md"
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "warm-rebuild: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "warm-rebuild: --jobs must be a positive number" >&2; exit 2; }

say() { echo "warm-rebuild: $*" >&2; }
die() { echo "warm-rebuild: FAILED: $*" >&2; exit 1; }
kiln="${KILN_BIN:-$repo/artifacts/bin/kiln}"
[ -x "$kiln" ] || die "$kiln is missing (run scripts/setup)"
for tool in gcc make ccache curl jq python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup installs it)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-warm-rebuild.XXXXXX")"
pids=""
build_pid=""
cleanup() {
    local status=$?
    for pid in $build_pid $pids; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in $build_pid $pids; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    if [ "$keep" = yes ]; then say "kept $work"; else rm -rf "$work"; fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

workload_uclibc_prepare >/dev/null || die "uClibc-ng is not available (apt-get install uclibc-source, or scripts/setup)"

# start_node NAME: a node with an empty store; sets NAME_kiln, NAME_http and NAME_fp.
start_node() {
    local log="$work/$1.log"
    setsid "$kiln" serve --data "$work/$1-data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots "$jobs" --name "$1" \
        </dev/null >"$log" 2>&1 &
    pids="$pids $!"
    wait_for "node $1 to print 'ready'" 60 grep -q '^ready' "$log"
    printf -v "$1_kiln" '%s' "$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)"
    printf -v "$1_http" '%s' "$(sed -n 's|^ *http *http://\([0-9.]*:[0-9]*\)/.*|\1|p' "$log" | head -n 1)"
    printf -v "$1_fp" '%s' "$(sed -n 's/^ *fingerprint *\([0-9a-f]\{64\}\).*/\1/p' "$log" | head -n 1)"
}
start_node ccachenode
start_node kilnnode
stat_of() { curl -fsS --max-time 5 "http://$1/api/stats" | jq -r ".$2"; }

declare -A seconds identical note
# build NAME CC ENV...: a timed make -j of a fresh tree, CC given to make (uClibc-ng's Makefile sets
# its own CC, so an environment variable would not reach it), ENV words for the environment.
build() {
    local name="$1" cc="$2" dir="$work/tree-$1" start status=0
    shift 2
    rm -rf "$dir"
    workload_uclibc_fresh "$dir" >/dev/null || die "could not copy the uClibc-ng tree"
    say "$name: make -j$jobs"
    start="$(python3 -c 'import time; print(time.time())')"
    setsid env -u MAKEFLAGS -u DISTCC_HOSTS -u KILN_HOSTS -u CCACHE_PREFIX "$@" make -C "$dir" -j"$jobs" "CC=$cc" \
        </dev/null >"$work/$name.log" 2>&1 &
    build_pid=$!
    wait "$build_pid" || status=$?
    build_pid=""
    [ "$status" = 0 ] || { tail -n 30 "$work/$name.log" >&2; die "$name: make failed with status $status"; }
    seconds[$name]="$(python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$start")"
    (cd "$dir" && workload_objects . | xargs -d '\n' -r sha256sum) >"$dir.sha256"
    if [ "$name" = gcc ]; then
        identical[$name]="(reference)"
    elif cmp -s "$work/tree-gcc.sha256" "$dir.sha256"; then
        identical[$name]=yes
    else
        identical[$name]="NO: $(diff "$work/tree-gcc.sha256" "$dir.sha256" | grep -c '^>' || true) differ"
    fi
    say "  ${seconds[$name]} s, identical: ${identical[$name]}"
    [ "$keep" = yes ] || rm -rf "$dir"
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
build gcc gcc

# ccache: direct mode (its default), compression as shipped; stats from ccache --print-stats.
cc_stats() { CCACHE_DIR="$1" ccache --print-stats | awk -v k="$2" '$1 == k { print $2 }'; }
ccache_env=(CCACHE_DIR="$work/ccache-1" CCACHE_REMOTE_STORAGE="http://$ccachenode_http/ccache" CCACHE_BASEDIR="$work")
build ccache-cold "ccache gcc" "${ccache_env[@]}"
build ccache-warm-local "ccache gcc" "${ccache_env[@]}"
note[ccache-warm-local]="$(cc_stats "$work/ccache-1" direct_cache_hit) direct + $(cc_stats "$work/ccache-1" preprocessed_cache_hit) preprocessed hits in all, $(cc_stats "$work/ccache-1" cache_miss) misses in all (both builds)"
build ccache-warm-remote "ccache gcc" CCACHE_DIR="$work/ccache-2" CCACHE_REMOTE_STORAGE="http://$ccachenode_http/ccache" CCACHE_REMOTE_ONLY=1 CCACHE_BASEDIR="$work"
note[ccache-warm-remote]="$(cc_stats "$work/ccache-2" remote_storage_hit) remote hits, $(cc_stats "$work/ccache-2" remote_storage_miss) remote misses"

kiln_hosts="$kilnnode_kiln/$jobs,fp=$kilnnode_fp"
compiled0="$(stat_of "$kilnnode_http" compilesOk)"
build kiln-cold "$kiln cc gcc" KILN_HOSTS="$kiln_hosts" KILN_FALLBACK=0 KILN_DIR="$work/kiln-1" KILN_BASEDIR="$work"
compiled1="$(stat_of "$kilnnode_http" compilesOk)"
note[kiln-cold]="$((compiled1 - compiled0)) compiled on the node"
build kiln-warm-local "$kiln cc gcc" KILN_HOSTS="$kiln_hosts" KILN_FALLBACK=0 KILN_DIR="$work/kiln-1" KILN_BASEDIR="$work"
compiled2="$(stat_of "$kilnnode_http" compilesOk)"
note[kiln-warm-local]="$((compiled2 - compiled1)) compiled on the node; the rest local-cache hits"
jobs_before="$(stat_of "$kilnnode_http" kilnJobs)"
hits_before="$(curl -fsS --max-time 5 "http://$kilnnode_http/api/cache" | jq -r .kiln.hits)"
build kiln-warm-node "$kiln cc gcc" KILN_HOSTS="$kiln_hosts" KILN_FALLBACK=0 KILN_DIR="$work/kiln-2" KILN_BASEDIR="$work"
compiled3="$(stat_of "$kilnnode_http" compilesOk)"
hits_after="$(curl -fsS --max-time 5 "http://$kilnnode_http/api/cache" | jq -r .kiln.hits)"
note[kiln-warm-node]="$((hits_after - hits_before)) node cache hits, $(($(stat_of "$kilnnode_http" kilnJobs) - jobs_before)) of them by JOB (after preprocessing), the rest by remote direct mode; $((compiled3 - compiled2)) compiled"
# The same over TCP and TLS (KILN_LOCAL_SOCKET=0, as a node on another machine is reached), where kiln cc
# goes through this user's agent (kiln agent), which keeps the TLS connections between compiles.
hits_before="$hits_after"
build kiln-warm-node-tls "$kiln cc gcc" KILN_HOSTS="$kiln_hosts" KILN_FALLBACK=0 KILN_DIR="$work/kiln-3" KILN_BASEDIR="$work" KILN_LOCAL_SOCKET=0
compiled4="$(stat_of "$kilnnode_http" compilesOk)"
hits_after="$(curl -fsS --max-time 5 "http://$kilnnode_http/api/cache" | jq -r .kiln.hits)"
agents="$(grep -c 'serving' "$work/kiln-3/agent/agent.log" 2>/dev/null || true)"
note[kiln-warm-node-tls]="$((hits_after - hits_before)) node cache hits; $((compiled4 - compiled3)) compiled; agents started: ${agents:-0}"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
[ "$((compiled1 - compiled0))" -gt 0 ] || die "kiln cc compiled nothing on the node in the cold build: it did not reach the compiles"
[ "$(cc_stats "$work/ccache-1" cache_miss)" -gt 0 ] || die "ccache recorded no misses in the cold build: it did not reach the compiles"

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
report="$(cat <<MD
## Warm rebuilds of uClibc-ng: Kiln against ccache (warm-rebuild)

Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`$command_line\` (commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)),
$(nproc) cores, make -j$jobs, each build from a fresh copy of the configured tree. Load average
$load_before at the start, $load_after at the end. ccache $(ccache --version | head -n 1 | awk '{print $3}') in its default direct
mode; its remote storage and the Kiln client both talk to Kiln nodes on 127.0.0.1 (separate nodes,
each started with an empty store). Both tools are told the tree's base directory (CCACHE_BASEDIR,
KILN_BASEDIR), since every build is in a new directory.

| build | seconds | identical to gcc | what happened |
| --- | ---: | --- | --- |
| plain gcc | ${seconds[gcc]} | ${identical[gcc]} | |
| ccache, cold (fills local and remote) | ${seconds[ccache-cold]} | ${identical[ccache-cold]} | |
| ccache, warm local cache | ${seconds[ccache-warm-local]} | ${identical[ccache-warm-local]} | ${note[ccache-warm-local]} |
| ccache, empty local cache, warm remote (HTTP) | ${seconds[ccache-warm-remote]} | ${identical[ccache-warm-remote]} | ${note[ccache-warm-remote]} |
| kiln cc, cold (every compile on the node) | ${seconds[kiln-cold]} | ${identical[kiln-cold]} | ${note[kiln-cold]} |
| kiln cc, warm local cache | ${seconds[kiln-warm-local]} | ${identical[kiln-warm-local]} | ${note[kiln-warm-local]} |
| kiln cc, empty local cache, warm node (reached through its local socket once its WELCOME named it) | ${seconds[kiln-warm-node]} | ${identical[kiln-warm-node]} | ${note[kiln-warm-node]} |
| kiln cc, empty local cache, warm node over TCP and TLS (\`KILN_LOCAL_SOCKET=0\`: through this user's agent) | ${seconds[kiln-warm-node-tls]} | ${identical[kiln-warm-node-tls]} | ${note[kiln-warm-node-tls]} |

Warm local: kiln / ccache = **$(ratio "${seconds[kiln-warm-local]}" "${seconds[ccache-warm-local]}")**. Warm remote (empty local cache):
kiln / ccache = **$(ratio "${seconds[kiln-warm-node]}" "${seconds[ccache-warm-remote]}")** (local socket), **$(ratio "${seconds[kiln-warm-node-tls]}" "${seconds[ccache-warm-remote]}")**
(TCP and TLS through the agent; ccache's HTTP is unencrypted). Goal: ≤ 1.0.
MD
)"
echo "$report"
if [ "$output" != - ]; then
    printf '%s\n' "$report" | "$repo/bench/lib/section.sh" "$output" warm-rebuild
    say "wrote the warm-rebuild section of $output"
fi
