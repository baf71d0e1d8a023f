#!/usr/bin/env bash
# What the job sandbox costs per compile: the command lines a node runs for one small compile with
# --sandbox off and no limits (gcc alone), with the limits (set by dash's ulimit, as the node does, or
# by prlimit, as it did before and does without dash), and with the default sandbox (bwrap + dash +
# gcc), timed with hyperfine in the same run. The bwrap arguments are
# those Kiln.Server.Compile.JobSandbox builds: the default keeps the job off the network with a
# seccomp filter (every socket() refused, the program SeccompFilter builds for x86-64, written here
# by python3), the fallback with a network namespace of its own; both are timed. Every command runs
# under bash (to open the filter on fd 9), so the shell's cost is in each row alike.
# Writes the "sandbox" section of docs/benchmarks.md.
#
#   bench/sandbox-cost.sh [RUNS]     (default 40)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-40}"
command -v hyperfine >/dev/null || { echo "hyperfine is not installed" >&2; exit 1; }
command -v bwrap >/dev/null || { echo "bubblewrap is not installed" >&2; exit 1; }
job="$(mktemp -d /tmp/kiln-sandbox-bench.XXXXXX)"
trap 'rm -rf "$job"' EXIT
printf 'static int twice(int x) { return 2 * x; }\nint answer(void) { return twice(21); }\n' > "$job/input.i"

limits="/usr/bin/prlimit --cpu=300:301 --as=4294967296 --fsize=268435456 --core=0 --"
# JobSandbox.UlimitScript with the default limits: soft CPU first, memory in KiB, output in 512-byte blocks.
dash="/usr/bin/dash -c 'ulimit -S -t 300 && ulimit -H -t 301 && ulimit -v 4194304 && ulimit -f 524288 && ulimit -c 0 && exec \"\$0\" \"\$@\"'"
roots=""
for r in /bin /sbin /lib /lib32 /lib64 /libx32; do
    if [ -L "$r" ]; then roots="$roots --symlink $(readlink "$r") $r"; elif [ -d "$r" ]; then roots="$roots --ro-bind $r $r"; fi
done
[ "$(uname -m)" = x86_64 ] || { echo "sandbox-cost: the seccomp program here is x86-64's" >&2; exit 1; }
# SeccompFilter's program: x86-64 only, x32 numbers refused, socket() EACCES, io_uring_setup ENOSYS.
python3 - "$job/filter.bpf" <<'PY'
import struct, sys
i = lambda c, jt, jf, k: struct.pack('<HBBI', c, jt, jf, k)
open(sys.argv[1], 'wb').write(b''.join([i(0x20, 0, 0, 4), i(0x15, 0, 5, 0xC000003E), i(0x20, 0, 0, 0), i(0x35, 3, 0, 0x40000000),
    i(0x15, 3, 0, 41), i(0x15, 1, 0, 425), i(6, 0, 0, 0x7FFF0000), i(6, 0, 0, 0x50000 | 38), i(6, 0, 0, 0x50000 | 13)]))
PY
common="--die-with-parent --new-session --cap-drop ALL --ro-bind /usr /usr$roots \
--ro-bind-try /etc/alternatives /etc/alternatives --ro-bind-try /etc/ld.so.cache /etc/ld.so.cache \
--dev /dev --tmpfs /tmp"
seccomp="bwrap --unshare-user-try --unshare-ipc --unshare-pid --unshare-uts --unshare-cgroup-try $common --seccomp 9 --bind $job $job --chdir $job --"
netns="bwrap --unshare-all $common --proc /proc --bind $job $job --chdir $job --"
compile="/usr/bin/gcc -O2 -c input.i -o output.o"

cd "$job"
run() { echo "exec 9<$job/filter.bpf; exec $*"; }
hyperfine --shell=bash --warmup 3 --runs "$runs" --export-json "$job/h.json" \
    -n plain "$(run "$compile")" -n limits "$(run "$limits $compile")" -n dash "$(run "$dash $compile")" \
    -n bwrap-prlimit "$(run "$seccomp $limits $compile")" -n bwrap "$(run "$seccomp $dash $compile")" \
    -n netns "$(run "$netns $dash $compile")" >&2

read -r plain limit dashmean prsandbox sandbox netnsmean plainsd limitsd dashsd prsandboxsd sandboxsd netnssd < <(python3 -c '
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
names = ("plain", "limits", "dash", "bwrap-prlimit", "bwrap", "netns")
print(" ".join("%.1f" % (r[n]["mean"] * 1000) for n in names),
      " ".join("%.1f" % (r[n]["stddev"] * 1000) for n in names))' "$job/h.json")
section=$(cat <<MD
## Job sandbox cost per compile

One small C compile (\`gcc -O2 -c\` of a 2-line preprocessed file), the command lines a node runs,
$runs runs each with hyperfine in one run ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg):
the machine is shared by several builds, so absolute times are high; the differences are what count).
Reproduce: \`bench/sandbox-cost.sh\`.

| command | mean ± σ (ms) | cost over plain |
| --- | --- | --- |
| gcc alone (\`--sandbox off\`, no limits) | $plain ± $plainsd | |
| prlimit + gcc (limits, no sandbox; before) | $limit ± $limitsd | $(python3 -c "print('%+.1f ms' % ($limit - $plain))") |
| dash ulimit + gcc (limits, no sandbox) | $dashmean ± $dashsd | $(python3 -c "print('%+.1f ms' % ($dashmean - $plain))") |
| bwrap (seccomp) + prlimit + gcc (the default before) | $prsandbox ± $prsandboxsd | $(python3 -c "print('%+.1f ms (x%.2f)' % ($prsandbox - $plain, $prsandbox / $plain))") |
| bwrap (seccomp, no network) + dash ulimit + gcc (the default) | $sandbox ± $sandboxsd | $(python3 -c "print('%+.1f ms (x%.2f)' % ($sandbox - $plain, $sandbox / $plain))") |
| bwrap (own network namespace) + dash ulimit + gcc (the fallback) | $netnsmean ± $netnssd | $(python3 -c "print('%+.1f ms (x%.2f)' % ($netnsmean - $plain, $netnsmean / $plain))") |

A difference smaller than σ is noise here: rerun on a quiet machine (on one at load ~1, bwrap
alone measured about 19 ms per call: research/feasibility-avahi-prometheus-browser.md).
MD
)
printf '%s\n' "$section" | "$repo/bench/lib/section.sh" "$repo/docs/benchmarks.md" sandbox
printf '%s\n' "$section"
