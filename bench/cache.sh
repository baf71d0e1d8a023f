#!/usr/bin/env bash
# Cache hit latency and small-blob serving, Kiln against its peers, in one run on loopback:
#   - a `kiln cc` local cache hit (direct mode) against a ccache local hit (direct mode), same file;
#   - a `kiln cc` remote hit (local cache off, node warm) against ccache with only an HTTP
#     remote_storage pointing at the same node's /ccache/ (remote_only=true, node warm);
#   - small-blob GETs per second: the node's /ccache/ against nginx serving the same bytes from disk (wrk);
#   - at a round-trip time of --rtt-ms between client and node (a delaying relay, bench/lib/delay-relay.py,
#     stands in for tc netem, which this kernel lacks): what a remote hit costs in round trips, and a
#     remote miss against a remote compile on a node with --result-cache off (and the same miss with
#     KILN_REMOTE_DIRECT=0, which separates remote direct mode's share from the node's cache).
# Writes its own section (cache) of docs/benchmarks.md through bench/lib/section.sh.
#
#   bench/cache.sh [--runs N] [--rtt-ms MS] [--output FILE] [--keep]
#
#   --runs N     interleaved rounds for the hits, hyperfine runs for the round trips (default 30)
#   --rtt-ms MS  round-trip time for the latency part (default 4; 0 skips it)
#
# KILN_BIN picks the kiln program (default artifacts/bin/kiln). Every process listens on 127.0.0.1
# only and is stopped when the script exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=30
rtt_ms=4
output="$repo/docs/benchmarks.md"
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --rtt-ms) rtt_ms="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# nginx's worker drops root privileges: it must be able to walk into the work directory.
chmod 755 "$work"
node_pid=""
nginx_pid=""
extra_pids=""
cleanup() {
    local status=$?
    for pid in $node_pid $nginx_pid $extra_pids; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in $node_pid $nginx_pid $extra_pids; do
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
    --plaintext-loopback </dev/null >"$node_log" 2>&1 &
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
# The same hit with the digest cache off (docs/cache.md): every header read and hashed again.
kiln_local_hashing=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-local" KILN_FALLBACK=0 KILN_DIGEST_CACHE=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
# The node is on this machine: kiln cc reaches it through its local socket once a WELCOME named it
# (docs/protocol.md, "The local socket"); KILN_LOCAL_SOCKET=0 keeps it on TCP and TLS.
kiln_remote=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-remote" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
# Over TCP, a TLS node whose fingerprint is known is reached through this user's agent (kiln agent), which
# holds handshaken connections; KILN_AGENT=0 makes every process load TLS and shake hands itself.
kiln_remote_tls=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-remote" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 KILN_LOCAL_SOCKET=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
kiln_remote_tls_alone=(env -u DISTCC_HOSTS KILN_HOSTS="$kiln_endpoint" KILN_DIR="$work/kiln-remote" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 KILN_LOCAL_SOCKET=0 KILN_AGENT=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o kiln.o)
ccache_local=(env CCACHE_DIR="$work/ccache-local" CCACHE_REMOTE_STORAGE= ccache gcc -Iinclude -O2 -c w.c -o ccache.o)
ccache_remote=(env CCACHE_DIR="$work/ccache-remote" CCACHE_REMOTE_STORAGE="http://$http_endpoint/ccache" CCACHE_REMOTE_ONLY=1 ccache gcc -Iinclude -O2 -c w.c -o ccache.o)

# Warm everything: two runs each (the first fills, the second records direct-mode manifests).
for cmd in kiln_local kiln_remote kiln_remote_tls kiln_remote_tls_alone ccache_local ccache_remote; do
    declare -n c="$cmd"
    "${c[@]}" >/dev/null && "${c[@]}" >/dev/null || die "$cmd failed"
done
sleep 1 # the agent the first TLS run started is listening by now
cmp -s kiln.o ccache.o || say "note: kiln.o and ccache.o differ"
compiles_before="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"

q() { printf '%q ' "$@"; }
# Interleaved rounds (bench/lib/interleave.py): every command once per round, in a shuffled order, so
# this machine's drift (20-30 % from minute to minute) slows them alike. Medians.
python3 "$repo/bench/lib/interleave.py" --warmup 3 --runs "$runs" --export-json "$work/hits.json" \
    "kiln local hit=$(q "${kiln_local[@]}")" \
    "ccache local hit=$(q "${ccache_local[@]}")" \
    "kiln local hit, digest cache off=$(q "${kiln_local_hashing[@]}")" \
    "kiln remote hit=$(q "${kiln_remote[@]}")" \
    "kiln remote hit, TLS over TCP=$(q "${kiln_remote_tls[@]}")" \
    "kiln remote hit, TLS over TCP, no agent=$(q "${kiln_remote_tls_alone[@]}")" \
    "ccache remote hit (http)=$(q "${ccache_remote[@]}")" >&2
compiles_after="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$work/hits.json"; }
kl="$(mean "kiln local hit")"; cl="$(mean "ccache local hit")"; kh="$(mean "kiln local hit, digest cache off")"; kr="$(mean "kiln remote hit")"; cr="$(mean "ccache remote hit (http)")"
kt="$(mean "kiln remote hit, TLS over TCP")"; ka="$(mean "kiln remote hit, TLS over TCP, no agent")"

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
# The same program with its socket I/O through the thread pool, as before kiln serve ran it inline
# (docs/architecture.md): what the inline way is worth, in the same run.
pooled_log="$work/kiln-serve-pooled.log"
DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 setsid "$kiln" serve --data "$work/kiln-data-pooled" --listen 127.0.0.1:0 \
    --http 127.0.0.1:0 --slots 1 --name bench-pooled </dev/null >"$pooled_log" 2>&1 &
extra_pids="$extra_pids $!"
wait_for "the pooled node" 60 grep -q '^ready' "$pooled_log"
grep -q 'socket i/o *through the thread pool' "$pooled_log" || die "the pooled node runs its socket I/O inline"
pooled_http="$(sed -n 's|^ *http *http://\([0-9.]*:[0-9]*\)/.*|\1|p' "$pooled_log" | head -n 1)"
curl -fsS -X PUT --data-binary "@$blobs/ab/blob" "http://$pooled_http/ccache/${key:0:2}/${key:2}" >/dev/null
rps() { wrk -t1 -c16 -d2s "$1" | awk '/Requests\/sec/ { print $2 }'; }
# Five 2-second runs of each, alternating, and the median of each: this machine's speed drifts from
# minute to minute, and one 5-second run of each put the drift between the two.
node_runs=(); pooled_runs=(); nginx_runs=()
for _ in 1 2 3 4 5; do
    node_runs+=("$(rps "http://$http_endpoint/ccache/${key:0:2}/${key:2}")")
    pooled_runs+=("$(rps "http://$pooled_http/ccache/${key:0:2}/${key:2}")")
    nginx_runs+=("$(rps "http://127.0.0.1:$nginx_port/${key:0:2}/${key:2}")")
done
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
node_rps="$(median "${node_runs[@]}")"
pooled_rps="$(median "${pooled_runs[@]}")"
nginx_rps="$(median "${nginx_runs[@]}")"

# CPU per local hit, where perf is installed (scripts/setup does not install it): beside the wall
# times above, what each hit costs the machine.
cpu_md="perf is not installed here, so the CPU per local hit was not measured."
if command -v perf >/dev/null && perf stat -e task-clock true >/dev/null 2>&1; then
    cpu() { # command... -> "CPU-ms CPUs-utilised" over 100 runs
        perf stat -x, -e task-clock -r 100 "$@" 2>&1 >/dev/null | awk -F, '/task-clock/ { printf "%.2f %.2f", $1, $7 }'
    }
    read -r kcpu kuse <<<"$(cpu "${kiln_local[@]}")"
    read -r ccpu cuse <<<"$(cpu "${ccache_local[@]}")"
    cpu_md="CPU per local hit (\`perf stat -r 100\`, one command after the other): \`kiln cc\` $kcpu ms of CPU, $kuse
of a CPU over its wall time; ccache $ccpu ms, $cuse of a CPU. The less of a CPU a hit uses, the more of its wall
time it waits (for exec, page faults, the disk)."
fi

ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# --- round trips: a delaying relay in front of the node, and of a node without the result cache ------------
latency_md=""
if [ "$rtt_ms" != 0 ]; then
    one_way="$(python3 -c "print($rtt_ms / 2)")"
    start_relay() { # VARIABLE TARGET: starts a relay to TARGET and sets VARIABLE to its endpoint
        local log="$work/relay-$1.log"
        setsid python3 "$repo/bench/lib/delay-relay.py" --target "$2" --delay-ms "$one_way" --lifetime 3600 </dev/null >"$log" 2>&1 &
        extra_pids="$extra_pids $!"
        wait_for "the delay relay" 20 grep -q '^listening' "$log"
        printf -v "$1" '%s' "$(sed -n 's/^listening //p' "$log")"
    }
    # The baseline node: the same program with --result-cache off, so every job is a compile.
    plain_log="$work/kiln-serve-nocache.log"
    setsid "$kiln" serve --data "$work/kiln-data-nocache" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots 2 --name bench-nocache \
        --plaintext-loopback --result-cache off </dev/null >"$plain_log" 2>&1 &
    extra_pids="$extra_pids $!"
    wait_for "the no-cache node" 60 grep -q '^ready' "$plain_log"
    nocache_endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$plain_log" | head -n 1)"
    start_relay relay_kiln "$kiln_endpoint"
    start_relay relay_nocache "$nocache_endpoint"
    start_relay relay_http "$http_endpoint"
    start_relay relay_nginx "127.0.0.1:$nginx_port"
    say "relays ($rtt_ms ms round trip): node $relay_kiln, no-cache node $relay_nocache, http $relay_http, nginx $relay_nginx"

    # The relay's real round trip: a fresh connection and one GET through it (two round trips)
    # against the same on loopback, 200 times each; asyncio's timers make it a little over --rtt-ms.
    measured_rtt="$(python3 - "127.0.0.1:$nginx_port" "$relay_nginx" "/${key:0:2}/${key:2}" <<'PY'
import socket, sys, time
def once(endpoint, path):
    host, port = endpoint.rsplit(":", 1)
    start = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while s.recv(65536):
            pass
    return time.perf_counter() - start
def median(endpoint):
    times = sorted(once(endpoint, sys.argv[3]) for _ in range(200))
    return times[len(times) // 2]
print(f"{(median(sys.argv[2]) - median(sys.argv[1])) / 2 * 1000:.2f}")
PY
)"
    say "measured round trip through the relay: $measured_rtt ms"

    # A second source for misses: unique.h changes before every run, so each run is a new action.
    printf '#include <stdio.h>\n#include "w.h"\n#include "unique.h"\nint m(void) { printf("%%d\\n", twice(WIDTH)); return WIDTH; }\n' > m.c
    echo 'int unique_0;' > unique.h
    kc() { # host, state dir, source [VAR=VALUE...] -> a kiln cc command line without the local cache
        # TCP on loopback too (KILN_LOCAL_SOCKET=0), so loopback and relay differ by the relay alone.
        q env -u DISTCC_HOSTS KILN_HOSTS="$1" KILN_DIR="$work/$2" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 KILN_LOCAL_SOCKET=0 "${@:4}" "$kiln" cc gcc -Iinclude -O2 -c "$3" -o "$2.o"
    }
    # Each state directory's first TLS contact records the node and starts its agent: done here, untimed.
    for pair in "lat $kiln_endpoint" "lat $relay_kiln" "lat-alone $relay_kiln" "miss-relay $relay_kiln" "nocache-relay $relay_nocache" \
        "miss-loopback $kiln_endpoint" "nocache-loopback $nocache_endpoint" "nodirect-relay $relay_kiln" "nodirect-loopback $kiln_endpoint"; do
        read -r d h <<< "$pair"
        env -u DISTCC_HOSTS KILN_HOSTS="$h" KILN_DIR="$work/$d" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 KILN_LOCAL_SOCKET=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o warm.o ||
            die "kiln cc through $h failed"
    done
    sleep 1
    # Warm: the hit commands once each (TLS first contact records the node in known_hosts).
    for h in "$kiln_endpoint" "$kiln_endpoint,plain" "$relay_kiln" "$relay_kiln,plain"; do
        env -u DISTCC_HOSTS KILN_HOSTS="$h" KILN_DIR="$work/warm" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o warm.o || die "kiln cc through $h failed"
    done
    for h in "$relay_nocache" "$nocache_endpoint"; do
        env -u DISTCC_HOSTS KILN_HOSTS="$h" KILN_DIR="$work/warm" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 "$kiln" cc gcc -Iinclude -O2 -c w.c -o warm.o || die "kiln cc through $h failed"
    done
    ccache_relay=(env CCACHE_DIR="$work/ccache-relay" CCACHE_REMOTE_STORAGE="http://$relay_http/ccache" CCACHE_REMOTE_ONLY=1 ccache gcc -Iinclude -O2 -c w.c -o ccache.o)
    "${ccache_relay[@]}" >/dev/null || die "ccache through the relay failed"
    hits_before="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"
    # Interleaved rounds (bench/lib/interleave.py), as the hits above: hyperfine's consecutive groups
    # put this machine's drift (20-30 % from minute to minute) between the rows compared.
    python3 "$repo/bench/lib/interleave.py" --warmup 3 --runs "$runs" --export-json "$work/latency.json" \
        "hit, loopback, TLS=$(kc "$kiln_endpoint" lat w.c)" \
        "hit, loopback, plain=$(kc "$kiln_endpoint,plain" lat w.c)" \
        "hit, relay, TLS=$(kc "$relay_kiln" lat w.c)" \
        "hit, relay, TLS, no agent=$(kc "$relay_kiln" lat-alone w.c KILN_AGENT=0)" \
        "hit, relay, plain=$(kc "$relay_kiln,plain" lat w.c)" \
        "ccache hit, loopback=$(q "${ccache_remote[@]}")" \
        "ccache hit, relay=$(q "${ccache_relay[@]}")" >&2
    hits_after="$(curl -fsS "http://$http_endpoint/api/stats" | jq -r .compilesOk)"
    # Misses: a new unique.h before every command; each client state directory is its own, so one
    # row's outcomes do not steer another's remote direct history (docs/cache.md).
    python3 "$repo/bench/lib/interleave.py" --warmup 3 --runs "$runs" --prepare "echo \"int unique_\$(date +%s%N);\" > unique.h" \
        --export-json "$work/misses.json" \
        "miss, relay, TLS=$(kc "$relay_kiln" miss-relay m.c)" \
        "no cache, relay, TLS=$(kc "$relay_nocache" nocache-relay m.c)" \
        "miss, loopback, TLS=$(kc "$kiln_endpoint" miss-loopback m.c)" \
        "no cache, loopback, TLS=$(kc "$nocache_endpoint" nocache-loopback m.c)" \
        "miss, relay, TLS, no remote direct=$(kc "$relay_kiln" nodirect-relay m.c KILN_REMOTE_DIRECT=0)" \
        "miss, loopback, TLS, no remote direct=$(kc "$kiln_endpoint" nodirect-loopback m.c KILN_REMOTE_DIRECT=0)" >&2
    lm() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean * 1000' "$work/$1.json"; }
    lmed() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median * 1000' "$work/$1.json"; }
    rt() { python3 -c "print(f'{($1 - $2) / $measured_rtt:.1f}')"; }
    f1() { printf '%.1f' "$1"; }
    hlt="$(lmed latency "hit, loopback, TLS")"; hlp="$(lmed latency "hit, loopback, plain")"
    hrt="$(lmed latency "hit, relay, TLS")"; hrp="$(lmed latency "hit, relay, plain")"; hra="$(lmed latency "hit, relay, TLS, no agent")"
    chl="$(lmed latency "ccache hit, loopback")"; chr="$(lmed latency "ccache hit, relay")"
    mr="$(lmed misses "miss, relay, TLS")"; nr="$(lmed misses "no cache, relay, TLS")"
    ml="$(lmed misses "miss, loopback, TLS")"; nl="$(lmed misses "no cache, loopback, TLS")"
    dr="$(lmed misses "miss, relay, TLS, no remote direct")"; dl="$(lmed misses "miss, loopback, TLS, no remote direct")"
    plain_row="| remote hit, both unencrypted: \`kiln cc\` \`,plain\` vs ccache over HTTP (loopback medians of the round-trip runs below) | $(f1 "$hlp") ms | $(f1 "$chl") ms | $(ratio "$hlp" "$chl") |"
    latency_md="$(cat <<MD

### At $rtt_ms ms round trip (a delaying relay standing in for tc netem)

\`tc netem\` is missing from this kernel, so \`bench/lib/delay-relay.py\` sits between client and node
and holds every chunk $one_way ms each way (a connect pays a round trip too). Measured through it: $measured_rtt ms
per round trip (a fresh connection plus one GET, against the same on loopback, median of 200).
Medians of $runs interleaved rounds (\`bench/lib/interleave.py\`), milliseconds; every process starts
afresh, as under make, so each pays for its own connection; \`kiln cc\` goes by TCP on loopback too
(\`KILN_LOCAL_SOCKET=0\`). Round trips = (through the relay − on loopback) / $measured_rtt ms.

| what | loopback | through the relay | added round trips |
| --- | ---: | ---: | ---: |
| \`kiln cc\` remote hit, TLS 1.3, through the agent (the default) | $(f1 "$hlt") | $(f1 "$hrt") | $(rt "$hrt" "$hlt") |
| \`kiln cc\` remote hit, TLS 1.3, \`KILN_AGENT=0\` (a handshake per process) | $(f1 "$hlt") (agent) | $(f1 "$hra") | $(rt "$hra" "$hlt") |
| \`kiln cc\` remote hit, plaintext (\`,plain\`) | $(f1 "$hlp") | $(f1 "$hrp") | $(rt "$hrp" "$hlp") |
| ccache remote hit (HTTP, \`remote_only\`) | $(f1 "$chl") | $(f1 "$chr") | $(rt "$chr" "$chl") |

A plaintext hit is the TCP connect plus one round trip in remote direct mode (HELLO and LOOKUP go in
one write; the MANIFEST comes back with the newest entry's RESULT behind it, so an unchanged tree
needs no FETCH), where no preprocessor runs; ccache's is the connect plus two GETs (manifest, then
result). Through the agent, TLS adds no round trip: the agent shook hands before the compile came. Without
it (\`KILN_AGENT=0\`), TLS adds its handshake's round trip, and the delaying relay holds each write of the
handshake, so it pays a little more. The node compiled nothing in these runs
(compilesOk $hits_before before, $hits_after after).

| remote compile of a new action (unique header each run) | loopback | through the relay |
| --- | ---: | ---: |
| miss on a node with the result cache (hash-first) | $(f1 "$ml") | $(f1 "$mr") |
| compile on a node with \`--result-cache off\` | $(f1 "$nl") | $(f1 "$nr") |
| miss / no cache (goal ≤ 1.0 + noise) | $(ratio "$ml" "$nl") | $(ratio "$mr" "$nr") |
| the same miss with \`KILN_REMOTE_DIRECT=0\` (no manifest LOOKUP, no RECORD: the node's cache alone) | $(f1 "$dl") | $(f1 "$dr") |
| that miss / no cache | $(ratio "$dl" "$nl") | $(ratio "$dr" "$nr") |
MD
)"
fi

# --- the node's stop: SIGTERM while this user's agent keeps TLS connections to it ------------------
kept="$(ss -tnH state established "( sport = :${kiln_endpoint##*:} )" | wc -l)"
stop_start="$(date +%s%N)"
kill -TERM "$node_pid"
for _ in $(seq 600); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$node_pid" 2>/dev/null && die "kiln serve did not stop within 30 s of SIGTERM"
stop_ms="$(( ($(date +%s%N) - stop_start) / 1000000 ))"
wait "$node_pid" 2>/dev/null || true
kill -TERM -- "-$node_pid" 2>/dev/null || true
node_pid=""
stop_md="The node's stop: SIGTERM with $kept connection(s) kept open to its Kiln protocol listener (this user's
agent's) took $stop_ms ms until the process was gone (it closes connections kept between jobs at once)."

report="$(cat <<MD
## Cache hits and small blobs (bench/cache.sh)

\`$(basename "$0") --runs $runs\`, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, commit $(git -C "$repo" rev-parse --short HEAD). The machine is shared
with other jobs while this runs (load average $(cut -d' ' -f1-3 /proc/loadavg)): read the ratios,
which compare tools measured in the same run, not the absolute times. The hit rows are medians of
$runs interleaved rounds (\`bench/lib/interleave.py\`: each round runs every command once, in a
shuffled order; times include starting the process, as make would).

| what (one small C file, gcc -O2) | Kiln | peer | Kiln / peer (goal ≤ 1.0) |
| --- | ---: | ---: | ---: |
| local hit: \`kiln cc\` direct mode vs ccache direct mode | $(printf '%.1f' "$kl") ms | $(printf '%.1f' "$cl") ms | $(ratio "$kl" "$cl") |
| the same with \`KILN_DIGEST_CACHE=0\` (every header hashed again) | $(printf '%.1f' "$kh") ms | $(printf '%.1f' "$cl") ms | $(ratio "$kh" "$cl") |
| remote hit: \`kiln cc\` (remote direct mode, local cache off) to the node on this machine, which it reaches through the node's local socket, vs ccache \`remote_only\` over HTTP to the same node | $(printf '%.1f' "$kr") ms | $(printf '%.1f' "$cr") ms | $(ratio "$kr" "$cr") |
| the same remote hit over TCP and TLS 1.3 (\`KILN_LOCAL_SOCKET=0\`: what a node on another machine costs, less the network), through this user's agent (\`kiln agent\`, the default), which holds handshaken TLS connections | $(printf '%.1f' "$kt") ms | $(printf '%.1f' "$cr") ms | $(ratio "$kt" "$cr") |
| the same with \`KILN_AGENT=0\` (each process loads TLS and shakes hands itself) | $(printf '%.1f' "$ka") ms | $(printf '%.1f' "$cr") ms | $(ratio "$ka" "$cr") |
${plain_row:-}

The node compiled nothing during the timed runs (compilesOk $compiles_before before, $compiles_after after).

| small-blob GETs (1 KiB, wrk -t1 -c16 -d2s, keep-alive; median of 5 runs each, alternating) | requests/s | ratio to nginx (goal ≥ 0.8) |
| --- | ---: | ---: |
| node \`/ccache/\` | $node_rps | $(ratio "$node_rps" "$nginx_rps") |
| the same node with its socket I/O through the thread pool (\`DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0\`) | $pooled_rps | $(ratio "$pooled_rps" "$nginx_rps") |
| nginx, same bytes from disk | $nginx_rps | 1.00 |

$cpu_md

$stop_md
$latency_md
MD
)"
echo "$report"
if [ "$output" != "-" ]; then
    printf '%s\n' "$report" | "$repo/bench/lib/section.sh" "$output" cache
    say "wrote the cache section of $output"
fi
