#!/usr/bin/env bash
# Times plain gcc, distcc (with a local distccd) and `kiln cc` (with a local `kiln serve` node) side by
# side on loopback, on the same builds, in one run, and writes docs/benchmarks.md.
#
#   bench/compile-farm.sh [--jobs N] [--workloads uclibc,googletest] [--repeat R] [--runs N]
#                         [--googletest-scope full|samples] [--output FILE] [--keep]
#
#   --jobs N        make -jN for every tool, and the slots of distccd and the node (default: nproc)
#   --workloads L   comma-separated, from uclibc and googletest (default: both); "none" times only the
#                   per-compile overhead
#   --repeat R      builds per tool and workload, interleaved gcc, distcc, kiln (default 1); the table
#                   shows the median and every run
#   --googletest-scope S   full: googletest's own tests and samples, 99 C++ compiles (default);
#                   samples: the libraries and samples only, 18 compiles (for a busy machine)
#   --runs N        hyperfine runs for the per-compile overhead (default 30, 3 warm-up runs)
#   --output FILE   where to write the report (default docs/benchmarks.md, its compile-farm section; "-" = stdout only)
#   --keep          keep the work directory (build trees, daemon logs) for inspection
#
# Checks, reported in the table: every distcc compile ran on the local distccd (its log's COMPILE_OK
# lines; DISTCC_FALLBACK=0, so a job distcc could not send fails the build), every distributable
# compile ran on the Kiln node (its /api/stats kilnJobs against distcc's count; KILN_FALLBACK=0), and
# each tool's objects are byte-identical to plain gcc's. KILN_BENCH_STRICT=1 makes a failed check end
# the script with status 3 (after writing the report).
#
# Every process this script starts listens on 127.0.0.1 only and is stopped when it exits.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/workloads.sh
source "$repo/bench/workloads.sh"

command_line="bench/compile-farm.sh $*"
jobs="$(nproc)"
workloads="uclibc,googletest"
repeat=1
runs=30
output="$repo/docs/benchmarks.md"
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs="$2"; shift 2 ;;
        --workloads) workloads="$2"; shift 2 ;;
        --repeat) repeat="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --googletest-scope) export KILN_GOOGLETEST_SCOPE="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        --keep) keep=yes; shift ;;
        -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "compile-farm: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "compile-farm: --jobs must be a positive number" >&2; exit 2; }
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || { echo "compile-farm: --repeat must be a positive number" >&2; exit 2; }
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "compile-farm: --runs must be a positive number" >&2; exit 2; }

say() { echo "compile-farm: $*" >&2; }
die() { echo "compile-farm: FAILED: $*" >&2; exit 1; }

kiln="$repo/artifacts/bin/kiln"
[ -x "$kiln" ] || { say "artifacts/bin/kiln is missing; running scripts/setup"; "$repo/scripts/setup" >&2; }
for tool in gcc g++ make cmake distcc distccd hyperfine curl jq python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup installs it)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-compile-farm.XXXXXX")"
# distccd drops root privileges to the 'distcc' user: it must read the work tree and write its log.
chmod 755 "$work"
distccd_pid=""
node_pid=""
build_pid=""
failed_checks=()

cleanup() {
    local status=$?
    # Each daemon runs in its own session (setsid), so its process group holds it and its children.
    for pid in $build_pid $node_pid $distccd_pid; do
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    for pid in $build_pid $node_pid $distccd_pid; do
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    if [ "$keep" = yes ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# --- distccd on loopback ------------------------------------------------------------------------
distcc_port="$(free_port)"
distcc_log="$work/distccd.log"
touch "$distcc_log"
chmod 666 "$distcc_log"
setsid distccd --daemon --no-detach --listen 127.0.0.1 --port "$distcc_port" --allow 127.0.0.1 \
    --jobs "$jobs" --log-file "$distcc_log" --log-level info </dev/null >"$work/distccd.out" 2>&1 &
distccd_pid=$!
wait_for "distccd on 127.0.0.1:$distcc_port" 30 port_open "$distcc_port"
say "distccd on 127.0.0.1:$distcc_port (pid $distccd_pid, --jobs $jobs)"

# --- a Kiln node on loopback --------------------------------------------------------------------
node_stat() { curl -fsS --max-time 5 "http://$http_endpoint/api/stats" | jq -r ".$1"; }
distcc_ok_count() { grep -c 'COMPILE_OK' "$distcc_log" || true; }
distcc_failed_count() { grep -cE 'COMPILE_ERR|failed to|crashed' "$distcc_log" || true; }

# start_node: a node with an empty store, so that no kiln build is answered from an earlier one's
# results (distccd has no cache; the comparison is of distributed compiling, bench/cache.sh measures hits).
node_count=0
start_node() {
    if [ -n "${node_pid:-}" ]; then
        kill "$node_pid" 2>/dev/null || true
        wait "$node_pid" 2>/dev/null || true
    fi
    node_count=$((node_count + 1))
    node_log="$work/kiln-serve-$node_count.log"
    setsid "$kiln" serve --data "$work/kiln-data-$node_count" --listen 127.0.0.1:0 --http 127.0.0.1:0 --slots "$jobs" \
        --name compile-farm --plaintext-loopback </dev/null >"$node_log" 2>&1 &
    node_pid=$!
    wait_for "kiln serve to print 'ready'" 60 node_ready
    kill -0 "$node_pid" 2>/dev/null || { cat "$node_log" >&2; die "kiln serve exited"; }
    kiln_endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$node_log" | head -n 1)"
    kiln_fingerprint="$(sed -n 's/^ *fingerprint *\([0-9a-f]\{64\}\).*/\1/p' "$node_log" | head -n 1)"
    http_endpoint="$(sed -n 's|^ *http *http://\([0-9.]*:[0-9]*\)/.*|\1|p' "$node_log" | head -n 1)"
    [ -n "$kiln_endpoint" ] && [ -n "$http_endpoint" ] || { cat "$node_log" >&2; die "could not read the node's ports from its log"; }
    node_stat kilnJobs >/dev/null || die "GET http://$http_endpoint/api/stats failed"
    # A fresh local cache too; KILN_CACHE_SIZE=0 keeps kiln cc's own cache off for the builds.
    # KILN_LOCAL_SOCKET=0: by TCP on loopback, as distcc's, which stands in for a network here (a node
    # on the client's own machine is otherwise reached through its Unix socket, docs/protocol.md).
    kiln_env=(env -u DISTCC_HOSTS -u MAKEFLAGS KILN_HOSTS="$kiln_endpoint/$jobs,kiln,fp=$kiln_fingerprint" KILN_FALLBACK=0
        KILN_DIR="$work/kiln-client-$node_count" KILN_CACHE_SIZE=0 KILN_LOCAL_SOCKET=0)
    # The same node without TLS (loopback only, --plaintext-loopback): distcc's TCP is plaintext too.
    kiln_plain_env=(env -u DISTCC_HOSTS -u MAKEFLAGS KILN_HOSTS="$kiln_endpoint/$jobs,kiln,plain" KILN_FALLBACK=0
        KILN_DIR="$work/kiln-client-$node_count" KILN_CACHE_SIZE=0 KILN_LOCAL_SOCKET=0)
    say "kiln serve: kiln protocol $kiln_endpoint, http $http_endpoint (pid $node_pid, --slots $jobs, empty store)"
}
node_ready() { grep -q '^ready' "$node_log" || ! kill -0 "$node_pid"; }
start_node

# The environment each tool runs with: nothing routes gcc's compiles, distcc may only use the local
# distccd and never compile locally instead, kiln may only use the local node and never fall back.
mkdir -p "$work/distcc-home"
gcc_env=(env -u DISTCC_HOSTS -u KILN_HOSTS -u CCACHE_PREFIX -u MAKEFLAGS)
distcc_env=(env -u KILN_HOSTS -u MAKEFLAGS DISTCC_HOSTS="127.0.0.1:$distcc_port/$jobs" DISTCC_FALLBACK=0
    DISTCC_DIR="$work/distcc-home" DISTCC_SKIP_LOCAL_RETRY=1)

seconds_since() { python3 -c "import sys, time; print(f'{time.time() - float(sys.argv[1]):.1f}')" "$1"; }
now() { python3 -c 'import time; print(time.time())'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

declare -A times remote objects identical
record_build() { # workload tool seconds remote-count object-count identical
    times["$1/$2"]="${times["$1/$2"]:-}${times["$1/$2"]:+ }$3"
    remote["$1/$2"]="$4"
    objects["$1/$2"]="$5"
    identical["$1/$2"]="$6"
}

# build WORKLOAD TOOL RUN: one clean, timed build; prints nothing, records the figures.
build() {
    local workload="$1" tool="$2" run="$3" dir="$work/$1-$2-$3" start elapsed
    local before_distcc before_kiln count ident="(reference)" log="$work/$1-$2-$3.log"
    local -a tool_env make_args=()
    case "$tool" in
        gcc) tool_env=("${gcc_env[@]}") ;;
        distcc) tool_env=("${distcc_env[@]}") ;;
        kiln) start_node; tool_env=("${kiln_env[@]}") ;;
        kiln-plain) start_node; tool_env=("${kiln_plain_env[@]}") ;;
    esac
    case "$workload" in
        uclibc)
            workload_uclibc_fresh "$dir" >/dev/null || die "could not copy the uClibc-ng tree"
            case "$tool" in
                gcc) make_args=(CC=gcc) ;;
                distcc) make_args=("CC=distcc gcc") ;;
                kiln|kiln-plain) make_args=("CC=$kiln cc gcc") ;;
            esac
            ;;
        googletest)
            local -a launcher=()
            case "$tool" in
                distcc) launcher=(-DCMAKE_C_COMPILER_LAUNCHER=distcc -DCMAKE_CXX_COMPILER_LAUNCHER=distcc) ;;
                kiln|kiln-plain) launcher=("-DCMAKE_C_COMPILER_LAUNCHER=$kiln;cc" "-DCMAKE_CXX_COMPILER_LAUNCHER=$kiln;cc") ;;
            esac
            # Configuring is not timed; it runs the compilers directly (CC/CXX unset: gcc and g++).
            "${gcc_env[@]}" -u CC -u CXX bash -c 'source "$1"; shift; workload_googletest_fresh "$@"' _ \
                "$repo/bench/workloads.sh" "$dir" "${launcher[@]}" >/dev/null || die "cmake configure failed in $dir"
            ;;
    esac
    before_distcc="$(distcc_ok_count)"
    before_kiln="$(node_stat kilnJobs)"
    say "$workload with $tool, make -j$jobs (run $run)"
    start="$(now)"
    # make runs in its own session so that cleanup stops the whole build on Ctrl-C or TERM;
    # waiting on it (not running it in the foreground) lets the signal traps run at once.
    setsid "${tool_env[@]}" make -C "$dir" -j"$jobs" "${make_args[@]}" </dev/null >"$log" 2>&1 &
    build_pid=$!
    local status=0
    wait "$build_pid" || status=$?
    build_pid=""
    if [ "$status" != 0 ]; then
        tail -n 30 "$log" >&2
        die "$workload with $tool: the build failed with status $status (log above)"
    fi
    elapsed="$(seconds_since "$start")"
    case "$tool" in
        gcc) count="-" ;;
        distcc) count=$(($(distcc_ok_count) - before_distcc)) ;;
        kiln|kiln-plain) count=$(($(node_stat kilnJobs) - before_kiln)) ;;
    esac
    workload_objects "$dir" >"$dir.objects"
    (cd "$dir" && xargs -d '\n' -r sha256sum <"$dir.objects") >"$dir.sha256"
    if [ "$tool" != gcc ]; then
        if cmp -s "$work/$workload-gcc-1.sha256" "$dir.sha256"; then
            ident=yes
        else
            ident="NO: $(diff "$work/$workload-gcc-1.sha256" "$dir.sha256" | grep -c '^>' || true) differ"
        fi
    fi
    record_build "$workload" "$tool" "$elapsed" "$count" "$(wc -l <"$dir.objects")" "$ident"
    say "  $elapsed s, $(wc -l <"$dir.objects") objects, remote compiles: $count, identical to gcc: $ident"
    # Keep the gcc tree's digests only; the trees themselves are large.
    [ "$keep" = yes ] || rm -rf "$dir"
}

IFS=',' read -r -a workload_list <<<"$workloads"
[ "$workloads" = none ] && workload_list=()
for workload in "${workload_list[@]}"; do
    case "$workload" in
        uclibc) workload_uclibc_prepare >/dev/null || die "uClibc-ng is not available" ;;
        googletest) workload_googletest_prepare >/dev/null || die "googletest is not available" ;;
        *) die "unknown workload '$workload' (uclibc, googletest)" ;;
    esac
done

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
for workload in "${workload_list[@]}"; do
    for run in $(seq "$repeat"); do
        for tool in gcc distcc kiln kiln-plain; do
            build "$workload" "$tool" "$run"
        done
    done
done

# --- per-compile overhead on a tiny C file --------------------------------------------------------
tiny="$work/tiny"
mkdir -p "$tiny"
# Every run compiles a new input (unique.h, rewritten before each run, declares a fresh name), so
# each kiln run is a real remote compile as each distcc run is, not an answer from kiln's caches;
# bench/cache.sh measures hits.
echo 'int unique_0;' >"$tiny/unique.h"
cat >"$tiny/tiny.c" <<'EOF'
#include <stdio.h>
#include "unique.h"

static int square(int x) { return x * x; }

int sum_of_squares(int n)
{
    int total = 0;
    for (int i = 1; i <= n; i++)
        total += square(i);
    return total;
}

void print_sum(int n) { printf("%d\n", sum_of_squares(n)); }
EOF
say "per-compile overhead: hyperfine -N --warmup 3 --runs $runs"
before_distcc="$(distcc_ok_count)"
before_kiln="$(node_stat kilnJobs)"
before_here="$(node_stat preprocessedHere)"
(
    cd "$tiny"
    env -u MAKEFLAGS DISTCC_HOSTS="127.0.0.1:$distcc_port/$jobs" DISTCC_FALLBACK=0 DISTCC_DIR="$work/distcc-home" \
        KILN_HOSTS="$kiln_endpoint/$jobs,kiln,fp=$kiln_fingerprint" KILN_FALLBACK=0 KILN_DIR="$work/kiln-client-tiny" \
        KILN_CACHE_SIZE=0 \
        hyperfine -N --warmup 3 --runs "$runs" --export-json "$tiny/hyperfine.json" --style basic \
        --prepare "sh -c 'echo \"int unique_\$(date +%s%N);\" > unique.h'" \
        -n gcc "gcc -c tiny.c -o gcc.o" \
        -n distcc "distcc gcc -c tiny.c -o distcc.o" \
        -n kiln "$kiln cc gcc -c tiny.c -o kiln.o" >&2
    # The same node and client without TLS: a second invocation, as hyperfine cannot vary the environment per command.
    env -u MAKEFLAGS KILN_HOSTS="$kiln_endpoint/$jobs,kiln,plain" KILN_FALLBACK=0 KILN_DIR="$work/kiln-client-tiny" KILN_CACHE_SIZE=0 \
        hyperfine -N --warmup 3 --runs "$runs" --export-json "$tiny/hyperfine-plain.json" --style basic \
        --prepare "sh -c 'echo \"int unique_\$(date +%s%N);\" > unique.h'" \
        -n kiln-plain "$kiln cc gcc -c tiny.c -o kiln.o" >&2
    # The same without remote preprocessing: the client preprocesses every run, as distcc's does.
    env -u MAKEFLAGS KILN_HOSTS="$kiln_endpoint/$jobs,kiln,plain" KILN_FALLBACK=0 KILN_DIR="$work/kiln-client-tiny" KILN_CACHE_SIZE=0 \
        KILN_REMOTE_PREPROCESS=0 \
        hyperfine -N --warmup 3 --runs "$runs" --export-json "$tiny/hyperfine-cpp.json" --style basic \
        --prepare "sh -c 'echo \"int unique_\$(date +%s%N);\" > unique.h'" \
        -n kiln-plain-cpp "$kiln cc gcc -c tiny.c -o kiln.o" >&2
    jq -s '{results: (.[0].results + .[1].results + .[2].results)}' hyperfine.json hyperfine-plain.json hyperfine-cpp.json >hyperfine-all.json
) || die "hyperfine failed"
tiny_distcc=$(($(distcc_ok_count) - before_distcc))
tiny_kiln=$(($(node_stat kilnJobs) - before_kiln))
tiny_here=$(($(node_stat preprocessedHere) - before_here))
tiny_expected=$((3 * (runs + 3)))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

ms() { jq -r --arg n "$1" --arg f "$2" '.results[] | select(.command == $n) | .[$f] * 1000' "$tiny/hyperfine-all.json"; }
fmt() { printf '%.1f' "$1"; }
for tool in gcc distcc kiln kiln-plain kiln-plain-cpp; do
    for field in mean median min stddev; do
        printf -v "tiny_${tool//-/_}_${field}" '%s' "$(ms "$tool" "$field")"
    done
done
overhead() { python3 -c "import sys; print(f'{float(sys.argv[1]) - float(sys.argv[2]):.1f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; b = float(sys.argv[2]); print(f'{float(sys.argv[1]) / b:.2f}' if abs(b) > 1e-9 else 'n/a')" "$1" "$2"; }
distcc_overhead_mean="$(overhead "$tiny_distcc_mean" "$tiny_gcc_mean")"
distcc_overhead_median="$(overhead "$tiny_distcc_median" "$tiny_gcc_median")"
kiln_overhead_mean="$(overhead "$tiny_kiln_mean" "$tiny_gcc_mean")"
kiln_overhead_median="$(overhead "$tiny_kiln_median" "$tiny_gcc_median")"
plain_overhead_mean="$(overhead "$tiny_kiln_plain_mean" "$tiny_gcc_mean")"
plain_overhead_median="$(overhead "$tiny_kiln_plain_median" "$tiny_gcc_median")"
cpp_overhead_mean="$(overhead "$tiny_kiln_plain_cpp_mean" "$tiny_gcc_mean")"
cpp_overhead_median="$(overhead "$tiny_kiln_plain_cpp_median" "$tiny_gcc_median")"

# --- checks -------------------------------------------------------------------------------------
check() { # description, ok(yes/no)
    if [ "$2" = yes ]; then
        checks+=("- [x] $1")
    else
        checks+=("- [ ] **$1**")
        failed_checks+=("$1")
    fi
}
checks=()
for workload in "${workload_list[@]}"; do
    expected="${remote["$workload/distcc"]}"
    check "$workload: distcc sent $expected compiles to distccd, none failed there ($(distcc_failed_count) failures in its log)" \
        "$([ "$expected" -gt 0 ] && [ "$(distcc_failed_count)" = 0 ] && echo yes || echo no)"
    for tool in kiln kiln-plain; do
        check "$workload: the Kiln node ran ${remote["$workload/$tool"]} of the $expected distributable compiles ($tool)" \
            "$([ "${remote["$workload/$tool"]}" = "$expected" ] && echo yes || echo no)"
    done
    for tool in distcc kiln kiln-plain; do
        check "$workload: $tool's objects are identical to gcc's (${identical["$workload/$tool"]})" \
            "$([ "${identical["$workload/$tool"]}" = yes ] && echo yes || echo no)"
    done
done
check "tiny.c: distccd compiled all $((runs + 3)) distcc runs ($tiny_distcc)" "$([ "$tiny_distcc" = "$((runs + 3))" ] && echo yes || echo no)"
check "tiny.c: every one of the $tiny_expected kiln runs reached the Kiln node ($tiny_kiln jobs; a remote preprocessing that falls back sends a second)" "$([ "$tiny_kiln" -ge "$tiny_expected" ] && echo yes || echo no)"
# Every run is a miss (a new header each time): after four in a row, kiln cc's remote direct history
# asks the node (LOOKUP, which remote preprocessing needs) on 1 run in 8, and preprocesses the rest
# itself, as distcc does (docs/cache.md). So the node preprocesses some of the default runs, not most.
check "tiny.c: the node preprocessed some of the default kiln runs itself ($tiny_here of $((2 * (runs + 3))), those whose client asked remote direct mode)" "$([ "$tiny_here" -ge 1 ] && echo yes || echo no)"

# --- report -------------------------------------------------------------------------------------
cpu="$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
memory="$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
os="$(. /etc/os-release && echo "$PRETTY_NAME")"
report="$work/benchmarks.md"
{
    echo "## Distributed compiles: plain gcc, distcc, kiln"
    echo
    echo "Measured $(date -u '+%Y-%m-%d %H:%M UTC') by \`bench/compile-farm.sh\`, which writes this section."
    echo "Plain gcc, distcc with a local distccd, and \`kiln cc\` with a local \`kiln serve\` node, side by side"
    echo "on loopback in one run: every remote compile runs on this same machine, so these figures show each"
    echo "tool's own overhead, not a speed-up from more machines."
    echo
    echo "### Machine"
    echo
    echo "- $(nproc) cores ($cpu), $memory, $os, kernel $(uname -r)"
    echo "- $(gcc --version | head -n 1); $(distcc --version | head -n 1); $(cmake --version | head -n 1); hyperfine $(hyperfine --version | cut -d' ' -f2)"
    echo "- kiln $("$kiln" version | cut -d' ' -f2) (artifacts/bin/kiln, Native AOT), commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- load average (1, 5, 15 min) $load_before at the start, $load_after at the end: other work on the"
    echo "  machine slows every column; compare figures within this table only."
    echo
    echo "### Reproduce"
    echo
    echo '```'
    echo "scripts/setup"
    echo "$command_line"
    echo '```'
    echo
    if [ ${#workload_list[@]} -gt 0 ]; then
        echo "### Builds (make -j$jobs, each from a clean tree)"
        echo
        echo "Remote compiles: COMPILE_OK lines in distccd's log; \`kilnJobs\` from the node's \`/api/stats\`."
        echo "Identical: every object file's SHA-256 equals the plain gcc build's. kiln is the default, TLS 1.3"
        echo "with the node's certificate pinned; kiln-plain is the same node and client without TLS (\`,plain\`,"
        echo "loopback only), as distcc's TCP is plaintext. Each kiln build starts a node with an empty store."
        echo
        echo "| workload | tool | wall time (s, median) | runs (s) | objects | remote compiles | identical to gcc |"
        echo "| --- | --- | ---: | --- | ---: | ---: | --- |"
        for workload in "${workload_list[@]}"; do
            case "$workload" in
                uclibc) label="uClibc-ng 1.0.35 (defconfig, C)" ;;
                googletest) label="googletest (${KILN_GOOGLETEST_SCOPE:-full}, C++)" ;;
            esac
            for tool in gcc distcc kiln kiln-plain; do
                # shellcheck disable=SC2086
                echo "| $label | $tool | $(median ${times["$workload/$tool"]}) | ${times["$workload/$tool"]} | ${objects["$workload/$tool"]} | ${remote["$workload/$tool"]} | ${identical["$workload/$tool"]} |"
            done
        done
        echo
    fi
    echo "### Per-compile overhead (tiny.c: three functions, includes stdio.h)"
    echo
    echo "\`hyperfine -N --warmup 3 --runs $runs\`, milliseconds. Overhead = tool − gcc. Each run compiles a new input (a"
    echo "header rewritten before each run declares a fresh name) and kiln's local cache is off, so every kiln"
    echo "run is a remote compile, as every distcc run is. By default (first two kiln rows) the node preprocesses"
    echo "the new header itself from the file list its manifest kept (remote preprocessing) when the client asks"
    echo "remote direct mode's LOOKUP; after four misses in a row the client asks on 1 run in 8 and preprocesses"
    echo "the rest itself, as distcc does (its remote direct history, docs/cache.md): $tiny_here of the kiln runs were"
    echo "preprocessed on the node. The last row turns remote preprocessing off (\`KILN_REMOTE_PREPROCESS=0\`), so the"
    echo "client preprocesses every run. A run that preprocesses here sends its JOB ahead of its input (docs/protocol.md,"
    echo "\"JOB ahead\"): the node starts gcc while \`kiln cc\` preprocesses and feeds it the input as it comes, where"
    echo "distccd starts its compiler once the whole job is in (\`KILN_JOB_AHEAD=0\` does the same; section warm-sandbox"
    echo "times both in one run)."
    echo
    echo "| command | mean | median | min | σ | overhead (mean) | overhead (median) |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    echo "| \`gcc -c tiny.c\` | $(fmt "$tiny_gcc_mean") | $(fmt "$tiny_gcc_median") | $(fmt "$tiny_gcc_min") | $(fmt "$tiny_gcc_stddev") | | |"
    echo "| \`distcc gcc -c tiny.c\` | $(fmt "$tiny_distcc_mean") | $(fmt "$tiny_distcc_median") | $(fmt "$tiny_distcc_min") | $(fmt "$tiny_distcc_stddev") | $distcc_overhead_mean | $distcc_overhead_median |"
    echo "| \`kiln cc gcc -c tiny.c\` (TLS 1.3) | $(fmt "$tiny_kiln_mean") | $(fmt "$tiny_kiln_median") | $(fmt "$tiny_kiln_min") | $(fmt "$tiny_kiln_stddev") | $kiln_overhead_mean | $kiln_overhead_median |"
    echo "| \`kiln cc gcc -c tiny.c\` (\`,plain\`) | $(fmt "$tiny_kiln_plain_mean") | $(fmt "$tiny_kiln_plain_median") | $(fmt "$tiny_kiln_plain_min") | $(fmt "$tiny_kiln_plain_stddev") | $plain_overhead_mean | $plain_overhead_median |"
    echo "| \`kiln cc gcc -c tiny.c\` (\`,plain\`, preprocessed here) | $(fmt "$tiny_kiln_plain_cpp_mean") | $(fmt "$tiny_kiln_plain_cpp_median") | $(fmt "$tiny_kiln_plain_cpp_min") | $(fmt "$tiny_kiln_plain_cpp_stddev") | $cpp_overhead_mean | $cpp_overhead_median |"
    echo
    if [ "$tiny_kiln" = 0 ]; then
        echo "No \`kiln cc\` run reached the node: \`kiln cc\` compiled locally, so its row measures the wrapper"
        echo "(start-up plus running gcc), not a remote compile."
        echo
    fi
    echo "kiln/distcc, TLS: overhead ratio $(ratio "$kiln_overhead_median" "$distcc_overhead_median") (median), $(ratio "$kiln_overhead_mean" "$distcc_overhead_mean") (mean); time ratio $(ratio "$tiny_kiln_median" "$tiny_distcc_median") (median)."
    echo
    echo "kiln/distcc, plaintext: overhead ratio $(ratio "$plain_overhead_median" "$distcc_overhead_median") (median), $(ratio "$plain_overhead_mean" "$distcc_overhead_mean") (mean); time ratio $(ratio "$tiny_kiln_plain_median" "$tiny_distcc_median") (median)."
    echo
    echo "kiln/distcc, plaintext, preprocessed here: overhead ratio $(ratio "$cpp_overhead_median" "$distcc_overhead_median") (median), $(ratio "$cpp_overhead_mean" "$distcc_overhead_mean") (mean); time ratio $(ratio "$tiny_kiln_plain_cpp_median" "$tiny_distcc_median") (median)."
    echo
    echo "### Checks"
    echo
    printf '%s\n' "${checks[@]}"
    if [ ${#failed_checks[@]} -gt 0 ]; then
        echo
        echo "${#failed_checks[@]} check(s) failed: the figures of a tool whose compiles did not run where they"
        echo "should are not a measurement of remote compiling."
    fi
} >"$report"

if [ "$output" = - ]; then
    cat "$report"
else
    mkdir -p "$(dirname "$output")"
    # The file holds other benchmarks' sections too: replace only this one.
    "$repo/bench/lib/section.sh" "$output" compile-farm <"$report"
    cat "$report"
    say "wrote $output"
fi
if [ ${#failed_checks[@]} -gt 0 ]; then
    say "${#failed_checks[@]} check(s) failed:"
    printf '  %s\n' "${failed_checks[@]}" >&2
    [ "${KILN_BENCH_STRICT:-0}" = 1 ] && exit 3
fi
exit 0
