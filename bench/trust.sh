#!/usr/bin/env bash
# Times the trust decision on a cache hit with BenchmarkDotNet, and a whole ccache hit over loopback
# HTTP with k=0 against k=2 in the same run; writes the "trust" section of docs/benchmarks.md.
#
#   bench/trust.sh [--output FILE]     (default docs/benchmarks.md; "-" = stdout only)
#
# Every node the benchmarks start is in-process, listens on 127.0.0.1 port 0 and stops with them.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
output="$repo/docs/benchmarks.md"
[ "${1:-}" = "--output" ] && output=$2

work=$(mktemp -d) && trap 'rm -rf "$work"' EXIT
(cd "$work" && dotnet run -c Release --project "$repo/bench/Kiln.Benchmarks" -- --filter '*' --exporters github >"$work/run.log" 2>&1) || {
    tail -40 "$work/run.log" >&2
    exit 1
}

policy=$(cat "$work"/BenchmarkDotNet.Artifacts/results/*PolicyCheckBenchmarks-report-github.md)
hit=$(cat "$work"/BenchmarkDotNet.Artifacts/results/*HitLatencyBenchmarks-report-github.md)
load=$(cut -d' ' -f1-3 /proc/loadavg)
section=$(cat <<REPORT
## Trust: the policy check on a hit

Measured $(date -u +%Y-%m-%dT%H:%MZ) by \`bench/trust.sh\` (BenchmarkDotNet ShortRun, in-process), on
$(nproc) cores with a load average of $load while other builds ran: absolute figures are noisy; the
ratios within one table are the point.

The decision alone (\`PolicyResultGate.MayServe\`: the action's attestations read from SQLite among
10 000 others, each signature checked (Ed25519 once, then remembered: VerifiedSignatures), owners
counted; k=0 with no keys skips all of it):

$policy

A whole ccache hit (16 KiB) over loopback HTTP from one node, without a policy and under a named
policy with k=2 that two node keys satisfy, in the same run:

$hit
REPORT
)
if [ "$output" = "-" ]; then
    printf '%s\n' "$section"
else
    printf '%s\n' "$section" | "$repo/bench/lib/section.sh" "$output" trust
    echo "wrote the trust section of $output"
fi
