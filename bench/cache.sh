#!/usr/bin/env bash
# Cache hit latency and small-blob serving, Kiln against its peers, in one run on loopback:
#   - a `kiln cc` local cache hit (direct mode) against a ccache local hit (direct mode), same file;
#   - a `kiln cc` remote hit (local cache off, node warm) against ccache with only an HTTP
#     remote_storage pointing at the same node's /ccache/ (remote_only=true, node warm);
#   - small-blob GETs per second: the node's /ccache/ against nginx serving the same bytes from disk (wrk).
# Writes its own section (cache) of docs/benchmarks.md through bench/lib/section.sh.
#
#   bench/cache.sh [--runs N] [--output FILE] [--keep]
#
# KILN_BIN picks the kiln program (default artifacts/bin/kiln). Every process listens on 127.0.0.1
# only and is stopped when the script exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=30
output="$repo/docs/benchmarks.md"
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "cache.sh: unknown option '$1'" >&2; exit 2 ;;
    esac
done

say() { echo "cache.sh: $*" >&2; }
die() { say "$*"; exit 1; }
kiln="${KILN_BIN:-$repo/artifacts/bin/kiln}"
[ -x "$kiln" ] || die "$kiln is missing (run scripts/setup, or set KILN_BIN)"
for tool in gcc ccache hyperfine wrk nginx curl jq python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup installs it)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-bench-cache.XXXXXX")"
node_pid=""
nginx_pid=""
cleanup() {
    local status=$?
    for pid in $node_pid $nginx_pid; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in $node_pid $nginx_pid; do
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

# --- the node -------------------------------------------------------------------------------------
node_log="$work/kiln-serve.log"
setsid "$kiln" serve --data "$work/kiln-data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots 2 --name bench-cache \
    </dev/null >"$node_log" 2>&1 &
node_pid=$!
node_ready() { grep -q '^ready' "$node_log" || ! kill -0 "$node_pid"; }
wait_for "kiln serve to print 'ready'" 60 node_ready
kill -0 "$node_pid" 2>/dev/null || { cat "$node_log" >&2; die "kiln serve exited"; }
kiln_endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$node_log" | head -n 1)"
http_endpoint="$(sed -n 's|^ *http *http://\([0-9.]*:[0-9]*\)/.*|\1|p' "$node_log" | head -n 1)"
[ -n "$kiln_endpoint" ] && [ -n "$http_endpoint" ] || { cat "$node_log" >&2; die "could not read the node's ports"; }
say "node: kiln $kiln_endpoint, http $http_endpoint"

# --- one small project file, aged so both direct modes may record it ---------------------------------
src="$work/src"
mkdir -p "$src/include"
printf '#define WIDTH 7\nstatic inline int twice(int x) { return 2 * x; }\n' > "$src/include/w.h"
printf '#include <stdio.h>\n#include "w.h"\nint w(void) { printf("%%d\\n", twice(WIDTH)); return WIDTH; }\n' > "$src/w.c"
touch -d '1 hour ago' "$src/w.c" "$src/include/w.h"
cd "$src"

kiln_local=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-local" KILN_FALLBACK=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
kiln_remote=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-remote" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
ccache_local=(env CCACHE_DIR="$work/ccache-local" CCACHE_NOREMOTE_STORAGE=1 ccache gcc -Iinclude -O2 -c w.c -o ccache.o)
ccache_remote=(env CCACHE_DIR="$work/ccache-remote" CCACHE_REMOTE_STORAGE="http://$http_endpoint/ccache" CCACHE_REMOTE_ONLY=1 ccache gcc -Iinclude -O2 -c w.c -o ccache.o)

# Warm everything: two runs each (the first fills, the second records direct-mode manifests).
for cmd in kiln_local kiln_remote ccache_local ccache_remote; do
    declare -n c="$cmd"
    "${c[@]}" >/dev/null && "${c[@]}" >/dev/null || die "$cmd failed"
done
cmp -s kiln.o ccache.o || say "note: kiln.o and ccache.o differ"
compiles_before="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"

q() { printf '%q ' "$@"; }
hyperfine --style basic --warmup 3 --runs "$runs" --export-json "$work/hits.json" \
    -n "kiln local hit" "$(q "${kiln_local[@]}")" \
    -n "ccache local hit" "$(q "${ccache_local[@]}")" \
    -n "kiln remote hit" "$(q "${kiln_remote[@]}")" \
    -n "ccache remote hit (http)" "$(q "${ccache_remote[@]}")" >&2
compiles_after="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean * 1000' "$work/hits.json"; }
kl="$(mean "kiln local hit")"; cl="$(mean "ccache local hit")"; kr="$(mean "kiln remote hit")"; cr="$(mean "ccache remote hit (http)")"

# --- small blobs: the node's /ccache/ against nginx on the same files --------------------------------
blobs="$work/blobs"
mkdir -p "$blobs/ab"
head -c 1024 /dev/urandom > "$blobs/ab/blob"
key="ab$(printf 'c%.0s' $(seq 31))"
curl -fsS -X PUT --data-binary "@$blobs/ab/blob" "http://$http_endpoint/ccache/${key:0:2}/${key:2}" >/dev/null
mkdir -p "$blobs/${key:0:2}" && cp "$blobs/ab/blob" "$blobs/${key:0:2}/${key:2}"
nginx_port="$(free_port)"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    server { listen 127.0.0.1:$nginx_port; root $blobs; }
}
CONF
setsid nginx -c "$work/nginx.conf" -p "$work" </dev/null >"$work/nginx.out" 2>&1 &
nginx_pid=$!
wait_for "nginx" 20 curl -fsS -o /dev/null "http://127.0.0.1:$nginx_port/${key:0:2}/${key:2}"
rps() { wrk -t1 -c16 -d5s "$1" | awk '/Requests\/sec/ { print $2 }'; }
node_rps="$(rps "http://$http_endpoint/ccache/${key:0:2}/${key:2}")"
nginx_rps="$(rps "http://127.0.0.1:$nginx_port/${key:0:2}/${key:2}")"

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
report="$(cat <<MD
## Cache hits and small blobs (bench/cache.sh)

\`$(basename "$0") --runs $runs\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores. The machine is shared
with other jobs while this runs (load average $(cut -d' ' -f1-3 /proc/loadavg)): read the ratios,
which compare tools measured in the same run, not the absolute times.

| what (one small C file, gcc -O2) | Kiln | peer | Kiln / peer (goal ≤ 1.0) |
| --- | ---: | ---: | ---: |
| local hit: \`kiln cc\` direct mode vs ccache direct mode | $(printf '%.1f' "$kl") ms | $(printf '%.1f' "$cl") ms | $(ratio "$kl" "$cl") |
| remote hit: \`kiln cc\` (hash-first, local cache off) vs ccache \`remote_only\` over HTTP to the same node | $(printf '%.1f' "$kr") ms | $(printf '%.1f' "$cr") ms | $(ratio "$kr" "$cr") |

The node compiled nothing during the timed runs (compilesOk $compiles_before before, $compiles_after after).

| small-blob GETs (1 KiB, wrk -t1 -c16 -d5s, keep-alive) | requests/s | ratio to nginx (goal ≥ 0.8) |
| --- | ---: | ---: |
| node \`/ccache/\` | $node_rps | $(ratio "$node_rps" "$nginx_rps") |
| nginx, same bytes from disk | $nginx_rps | 1.00 |
MD
)"
echo "$report"
if [ "$output" != "-" ]; then
    printf '%s\n' "$report" | "$repo/bench/lib/section.sh" "$output" cache
    say "wrote the cache section of $output"
fi
