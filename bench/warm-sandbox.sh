#!/usr/bin/env bash
# Times one small remote compile on a node with warm sandboxes (the default) against the same on a
# node started with `--warm-sandboxes off`, beside plain gcc and distcc with a local distccd, in one
# run, and writes the "warm-sandbox" section of docs/benchmarks.md. Both nodes run with their result
# cache off and kiln cc's local cache and remote preprocessing are off, so every kiln run is an
# ordinary remote compile of preprocessed input, as every distcc run is; the sandbox (bubblewrap, as
# by default) is the only difference between the two kiln rows.
#
#   bench/warm-sandbox.sh [--runs N] [--output FILE]
#
#   --runs N        interleaved rounds, each command once per round (default 40, after 5 warm-up rounds)
#   --output FILE   where to write the section (default docs/benchmarks.md; "-" = stdout only)
#
# KILN_BIN overrides the program (default artifacts/bin/kiln, the Native AOT build of scripts/setup).
# Every process this script starts listens on 127.0.0.1 only and is stopped when it exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs=40
output="$repo/docs/benchmarks.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        -h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "warm-sandbox: unknown option $1" >&2; exit 2 ;;
    esac
done

die() { echo "warm-sandbox: $*" >&2; exit 1; }
# shellcheck source=lib/common.sh
. "$repo/bench/lib/common.sh"

kiln="${KILN_BIN:-$repo/artifacts/bin/kiln}"
[ -x "$kiln" ] || "$repo/scripts/setup" >&2
for tool in distcc distccd bwrap python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (scripts/setup installs it)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-warm-sandbox.XXXXXX")"
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# start_node NAME [OPTIONS...]: a node on an ephemeral loopback port; sets endpoint_NAME.
start_node() {
    local name="$1" log="$work/$1.log"
    shift
    "$kiln" serve --data "$work/$name" --listen 127.0.0.1:0 --http off --slots 2 --plaintext-loopback --result-cache off "$@" >"$log" 2>&1 &
    pids+=("$!")
    wait_for "kiln serve ($name) to print 'ready'" 60 grep -q '^ready:' "$log"
    [ "$name" = bare ] || grep -q 'bubblewrap' "$log" || die "the node runs jobs without bubblewrap: install it (scripts/setup)"
    printf -v "endpoint_$name" '%s' "$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)"
}
start_node warm
start_node cold --warm-sandboxes off
# No sandbox at all (--sandbox off), as distccd runs its compilers: what the sandbox itself costs.
start_node bare --sandbox off

distcc_port="$(free_port)"
distccd --daemon --no-detach --listen 127.0.0.1 --port "$distcc_port" --allow 127.0.0.1 --jobs 2 --log-stderr 2>"$work/distccd.log" &
pids+=("$!")
wait_for "distccd on port $distcc_port" 20 port_open "$distcc_port"

cat > "$work/tiny.c" <<'C'
#include <stdio.h>
int a(int x) { return x * 3; }
int b(int x) { printf("%d\n", a(x)); return 0; }
int c(void) { return b(2); }
C
# gcc's start alone (the driver, cc1, as) on an empty preprocessed file: what a JOB ahead overlaps.
: > "$work/empty.i"

kiln_env="cd $work && env -u DISTCC_HOSTS KILN_FALLBACK=0 KILN_CACHE_SIZE=0 KILN_REMOTE_PREPROCESS=0 KILN_DIR=$work/client"
# TCP on loopback, as distcc's (KILN_LOCAL_SOCKET=0): loopback stands in for a network here. The
# "local" row is the same node through its local socket, as kiln cc reaches a node on its own machine.
tcp="KILN_LOCAL_SOCKET=0"
# Interleaved rounds (bench/lib/interleave.py): every command once per round, in a shuffled order,
# so the machine's drift from minute to minute lands on all of them alike.
python3 "$repo/bench/lib/interleave.py" --warmup 5 --runs "$runs" --export-json "$work/warm.json" \
    "gcc=sh -c 'cd $work && gcc -O2 -c tiny.c -o gcc.o'" \
    "start=sh -c 'cd $work && gcc -O2 -c empty.i -o empty.o'" \
    "distcc=sh -c 'cd $work && env -u KILN_HOSTS DISTCC_HOSTS=127.0.0.1:$distcc_port DISTCC_FALLBACK=0 distcc gcc -O2 -c tiny.c -o distcc.o'" \
    "warm=sh -c '$kiln_env $tcp KILN_HOSTS=$endpoint_warm,plain $kiln cc gcc -O2 -c tiny.c -o warm.o'" \
    "cold=sh -c '$kiln_env $tcp KILN_HOSTS=$endpoint_cold,plain $kiln cc gcc -O2 -c tiny.c -o cold.o'" \
    "local=sh -c '$kiln_env KILN_HOSTS=$endpoint_warm,plain $kiln cc gcc -O2 -c tiny.c -o local.o'" \
    "bare=sh -c '$kiln_env $tcp KILN_HOSTS=$endpoint_bare,plain $kiln cc gcc -O2 -c tiny.c -o bare.o'" \
    "whole=sh -c '$kiln_env $tcp KILN_JOB_AHEAD=0 KILN_HOSTS=$endpoint_warm,plain $kiln cc gcc -O2 -c tiny.c -o whole.o'"
for o in distcc warm cold local bare whole; do
    cmp "$work/gcc.o" "$work/$o.o" || die "$o.o differs from gcc's object"
done

read -r g d w c l b h e gs ds ws cs ls bs hs es < <(python3 - "$work/warm.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
names = ["gcc", "distcc", "warm", "cold", "local", "bare", "whole", "start"]
print(*[r[n]["median"] * 1000 for n in names], *[r[n]["stddev"] * 1000 for n in names])
PY
)
fmt() { printf '%.1f' "$1"; }
over() { python3 -c "print(f'{$1 - $g:.1f}')"; }
ratio() { python3 -c "print(f'{($1 - $g) / ($d - $g):.2f}')"; }

section="$(cat <<MD
## Warm sandboxes (warm-sandbox)

\`bench/warm-sandbox.sh --runs $runs\`, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$repo" rev-parse --short HEAD),
$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg). One small C file (tiny.c, includes stdio.h) compiled with
\`gcc -O2 -c\`: plain gcc; distcc with a local distccd; \`kiln cc\` (plaintext, local cache and remote
preprocessing off, so the client preprocesses as distcc's does) against a node with warm sandboxes
and against one started with \`--warm-sandboxes off\`, both with bubblewrap and their result cache
off. \`bench/lib/interleave.py\`: $runs rounds, each running every command once in a shuffled order
(hyperfine would run all of one command's runs before the next's, and this machine's speed drifts);
every object identical to gcc's.

| command | median (ms) | σ (ms) | over gcc (ms) | overhead / distcc's |
| --- | ---: | ---: | ---: | ---: |
| gcc | $(fmt "$g") | $(fmt "$gs") | | |
| gcc's start alone: \`gcc -O2 -c\` of an empty preprocessed file | $(fmt "$e") | $(fmt "$es") | | |
| distcc | $(fmt "$d") | $(fmt "$ds") | $(over "$d") | 1.00 |
| kiln cc, warm sandboxes (default) | $(fmt "$w") | $(fmt "$ws") | $(over "$w") | $(ratio "$w") |
| kiln cc, \`--warm-sandboxes off\` | $(fmt "$c") | $(fmt "$cs") | $(over "$c") | $(ratio "$c") |
| kiln cc, warm sandboxes, through the node's local socket | $(fmt "$l") | $(fmt "$ls") | $(over "$l") | $(ratio "$l") |
| kiln cc, a node with \`--sandbox off\` (compilers run bare, as distccd runs them) | $(fmt "$b") | $(fmt "$bs") | $(over "$b") | $(ratio "$b") |
| kiln cc, warm sandboxes, \`KILN_JOB_AHEAD=0\` (the JOB sent whole after preprocessing, as distcc sends its job) | $(fmt "$h") | $(fmt "$hs") | $(over "$h") | $(ratio "$h") |

All but the local-socket row go by TCP on loopback, as distcc does (\`KILN_LOCAL_SOCKET=0\`: loopback stands in for
a network). The last is how \`kiln cc\` reaches a node on its own machine by default: the node's Unix
socket, named in its WELCOME (docs/protocol.md, "The local socket").

A warm sandbox takes bubblewrap's setup (namespaces, mounts, dash's start) off the job's critical
path: it is done before the job arrives (docs/ssh-and-sandbox.md). Every kiln row but the last sends
its JOB ahead of its input (docs/protocol.md, "JOB ahead"): the node starts gcc (the driver, cc1 and
as, with \`-pipe\`) when the JOB comes, while \`kiln cc\` still preprocesses, and feeds it the input
as it arrives; the last row sends the JOB whole after preprocessing, as before, to the warm node.
MD
)"
if [ "$output" = "-" ]; then
    printf '%s\n' "$section"
else
    printf '%s\n' "$section" | "$repo/bench/lib/section.sh" "$output" warm-sandbox
    echo "warm-sandbox: wrote the warm-sandbox section of $output" >&2
fi
