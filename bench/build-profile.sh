#!/usr/bin/env bash
# Where a clean uClibc-ng build's time goes, per tool: wall time, the CPU time of the whole machine
# while it ran (user, nice, system, irq, softirq jiffies from /proc/stat: the node, distccd, bwrap
# and every compiler included, which no per-process figure catches), the CPU of make's children
# (the client side) and the idle share. Builds alternate between tools so that a change in the
# machine's speed hits each alike. Prints one line per build and a median per tool; writes nothing.
#
#   bench/build-profile.sh [--jobs N] [--rounds R] [TOOL...]
#
#   TOOL      gcc, distcc, kiln (TLS), kiln-plain, kiln-nosb (plaintext, node with --sandbox off),
#             kiln-nodirect (plaintext, KILN_REMOTE_DIRECT=0). Default: distcc kiln-plain kiln-nosb
#   --jobs N  make -jN and the slots of distccd and the node (default 4)
#   --rounds R  builds per tool (default 1)
#
# Every daemon listens on 127.0.0.1 and is stopped when the script exits. Figures from this script
# are quoted in docs/benchmarks.md (overhead-analysis) with the command line that produced them.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/workloads.sh
source "$repo/bench/workloads.sh"
# shellcheck source=bench/lib/common.sh
source "$repo/bench/lib/common.sh"

jobs=4
rounds=1
tools=()
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "build-profile: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
        *) tools+=("$1"); shift ;;
    esac
done
[ ${#tools[@]} -gt 0 ] || tools=(distcc kiln-plain kiln-nosb)
[[ "$jobs" =~ ^[1-9][0-9]*$ && "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "build-profile: --jobs and --rounds take positive numbers" >&2; exit 2; }
for tool in "${tools[@]}"; do
    case "$tool" in gcc|distcc|kiln|kiln-plain|kiln-nosb|kiln-nodirect) ;; *) echo "build-profile: unknown tool '$tool'" >&2; exit 2 ;; esac
done

kiln="$repo/artifacts/bin/kiln"
[ -x "$kiln" ] || { echo "build-profile: artifacts/bin/kiln is missing (scripts/setup builds it)" >&2; exit 1; }
workload_uclibc_prepare >/dev/null || { echo "build-profile: uClibc-ng is not available" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-build-profile.XXXXXX")"
chmod 755 "$work"
daemon=""
cleanup() {
    [ -n "$daemon" ] && kill -TERM -- "-$daemon" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
idle() { awk '/^cpu /{print $5+$6}' /proc/stat; }

# start TOOL: starts the tool's daemon, sets env (the build's environment) and cc.
start() {
    local tool="$1" port log
    env=()
    case "$tool" in
        gcc) cc=gcc ;;
        distcc)
            port="$(free_port)"
            log="$work/distccd.log"; touch "$log"; chmod 666 "$log"; mkdir -p "$work/distcc-home"
            setsid distccd --daemon --no-detach --listen 127.0.0.1 --port "$port" --allow 127.0.0.1 --jobs "$jobs" \
                --log-file "$log" </dev/null >/dev/null 2>&1 &
            daemon=$!
            wait_for "distccd" 30 port_open "$port"
            env=(DISTCC_HOSTS="127.0.0.1:$port/$jobs" DISTCC_FALLBACK=0 DISTCC_DIR="$work/distcc-home" DISTCC_SKIP_LOCAL_RETRY=1)
            cc="distcc gcc" ;;
        kiln*)
            local extra=() data="$work/node-$RANDOM" endpoint fingerprint hosts
            [ "$tool" = kiln-nosb ] && extra=(--sandbox off)
            log="$data.log"
            setsid "$kiln" serve --data "$data" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots "$jobs" --name profile \
                --plaintext-loopback "${extra[@]}" </dev/null >"$log" 2>&1 &
            daemon=$!
            for _ in $(seq 150); do grep -q '^ready' "$log" && break; sleep 0.2; done
            grep -q '^ready' "$log" || { cat "$log" >&2; echo "build-profile: kiln serve did not start" >&2; exit 1; }
            endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$log" | head -n 1)"
            fingerprint="$(sed -n 's/^ *fingerprint *\([0-9a-f]\{64\}\).*/\1/p' "$log" | head -n 1)"
            hosts="$endpoint/$jobs,kiln,plain"
            [ "$tool" = kiln ] && hosts="$endpoint/$jobs,kiln,fp=$fingerprint"
            env=(KILN_HOSTS="$hosts" KILN_FALLBACK=0 KILN_DIR="$work/client-$RANDOM" KILN_CACHE_SIZE=0)
            [ "$tool" = kiln-nodirect ] && env+=(KILN_REMOTE_DIRECT=0)
            cc="$kiln cc gcc" ;;
    esac
}

stop() {
    if [ -n "$daemon" ]; then
        kill -TERM -- "-$daemon" 2>/dev/null || true
        wait "$daemon" 2>/dev/null || true
        daemon=""
    fi
}

declare -A walls
for round in $(seq "$rounds"); do
    for tool in "${tools[@]}"; do
        tree="$work/tree"
        rm -rf "$tree"
        workload_uclibc_fresh "$tree" >/dev/null
        start "$tool"
        b0="$(busy)"; i0="$(idle)"; s0="$(date +%s.%N)"
        /usr/bin/time -f "%U %S" -o "$work/time" env -u MAKEFLAGS -u DISTCC_HOSTS -u KILN_HOSTS "${env[@]}" \
            make -C "$tree" -j"$jobs" CC="$cc" </dev/null >"$work/build.log" 2>&1 \
            || { tail -n 20 "$work/build.log" >&2; echo "build-profile: the $tool build failed" >&2; exit 1; }
        s1="$(date +%s.%N)"; b1="$(busy)"; i1="$(idle)"
        stop
        read -r user sys <"$work/time"
        line="$(python3 -c "
import sys
wall, busy, idle, user, sys_ = float(sys.argv[2]) - float(sys.argv[1]), int(sys.argv[3]) / 100, int(sys.argv[4]) / 100, float(sys.argv[5]), float(sys.argv[6])
print(f'{wall:.1f} {busy:.1f} {user + sys_:.1f} {100 * idle / (idle + busy):.0f}')" "$s0" "$s1" "$((b1 - b0))" "$((i1 - i0))" "$user" "$sys")"
        read -r wall cpu client idle_share <<<"$line"
        walls[$tool]="${walls[$tool]:-} $wall"
        printf '%-14s round %d: wall %6.1f s, machine CPU %6.1f s, client CPU %6.1f s, idle %s%%\n' "$tool" "$round" "$wall" "$cpu" "$client" "$idle_share"
    done
done
for tool in "${tools[@]}"; do
    # shellcheck disable=SC2086
    printf '%-14s median wall %s s\n' "$tool" "$(printf '%s\n' ${walls[$tool]} | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
done
