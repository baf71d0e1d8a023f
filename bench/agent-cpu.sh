#!/usr/bin/env bash
# CPU per remote cache hit for kiln cc's two ways to a node on this machine: through the agent over TCP
# and TLS (KILN_LOCAL_SOCKET=0, as a node on another machine is reached) and through the node's local
# socket. Counts the CPU time the agent and the node spend (from /proc/PID/stat) over N hits in a row,
# and the hit's own time in kiln cc (KILN_TRACE, main to remote-direct, median). docs/benchmarks.md's
# overhead-analysis section (session 11) cites its output.
#
#   bench/agent-cpu.sh [--hits N]     (default 200)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kiln="$repo/artifacts/bin/kiln"
hits=200
while [ $# -gt 0 ]; do
    case "$1" in
        --hits) hits="$2"; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "agent-cpu.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
[ -x "$kiln" ] || { echo "agent-cpu.sh: $kiln is missing: run scripts/setup" >&2; exit 2; }
work="$(mktemp -d /tmp/kiln-agent-cpu.XXXXXX)"
node_pid=""
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=lib/common.sh
. "$repo/bench/lib/common.sh"

setsid "$kiln" serve --data "$work/data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots 2 --name agent-cpu </dev/null >"$work/node.log" 2>&1 &
node_pid=$!
wait_for "kiln serve" 60 grep -q '^ready' "$work/node.log"
endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$work/node.log" | head -n 1)"
node="$(pgrep -f "serve --data $work/data" | head -n 1)"
printf 'int f(int x) { return x * 3; }\n' > "$work/w.c"
cd "$work"
cc() { env -u DISTCC_HOSTS KILN_HOSTS="$endpoint" KILN_DIR="$work/state" KILN_CACHE_SIZE=0 KILN_FALLBACK=0 "$@" "$kiln" cc gcc -O2 -c w.c -o w.o; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ms_per_hit() { python3 -c "import os, sys; print(f'{(int(sys.argv[2]) - int(sys.argv[1])) * 1000 / os.sysconf(\"SC_CLK_TCK\") / int(sys.argv[3]):.2f}')" "$1" "$2" "$hits"; }
trace_median() { # VAR=VALUE... : the median KILN_TRACE time from main to remote-direct over 60 hits
    for _ in $(seq 60); do cc KILN_TRACE=1 "$@" 2>&1 | awk '$3 == "remote-direct" { sub(/^\+/, "", $4); print $4 }'; done |
        sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}

# Warm: the first contact records the node and starts the agent; the second hits.
cc KILN_LOCAL_SOCKET=0 2>/dev/null && sleep 1 && cc KILN_LOCAL_SOCKET=0 && cc
agent="$(pgrep -f "agent --socket $work/state/agent/agent.sock" | head -n 1)"
[ -n "$agent" ] || { echo "agent-cpu.sh: no agent started" >&2; exit 1; }

a0="$(ticks "$agent")"; n0="$(ticks "$node")"
for _ in $(seq "$hits"); do cc KILN_LOCAL_SOCKET=0; done
a1="$(ticks "$agent")"; n1="$(ticks "$node")"
for _ in $(seq "$hits"); do cc; done
n2="$(ticks "$node")"
echo "| way to the node | agent CPU per hit (ms) | node CPU per hit (ms) | kiln cc main to remote-direct (ms, median of 60) |"
echo "| --- | ---: | ---: | ---: |"
echo "| TCP and TLS through the agent | $(ms_per_hit "$a0" "$a1") | $(ms_per_hit "$n0" "$n1") | $(trace_median KILN_LOCAL_SOCKET=0) |"
echo "| the node's local socket | - | $(ms_per_hit "$n1" "$n2") | $(trace_median) |"
"$kiln" agent --stop --socket "$work/state/agent/agent.sock" >/dev/null
