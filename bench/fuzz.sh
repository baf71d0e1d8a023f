#!/usr/bin/env bash
# A longer mutation-fuzzing run of every network parser (distcc frames, Kiln frames and sessions,
# HTTP cache paths, gRPC frames, attestations): the same targets, corpus and mutator as the test
# suite's Kiln.Tests.Fuzz.FuzzTests, for SECONDS per parser, and a report of the inputs tried.
#
#   bench/fuzz.sh [SECONDS]          (default 60 per parser; KILN_FUZZ_SEED=N picks another seed)
#
# A crash or hang fails the run and prints the input in hex: add it to the target's corpus
# directory (test/Kiln.Tests/Fuzz/corpus/TARGET/) once fixed, so the suite replays it.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
seconds="${1:-60}"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT

export KILN_FUZZ_SECONDS="$seconds" KILN_FUZZ_INPUTS=0 KILN_FUZZ_REPORT="$report"
export KILN_FUZZ_SEED="${KILN_FUZZ_SEED:-20261121}"
status=0
dotnet test test/Kiln.Tests --nologo --filter "FullyQualifiedName~Kiln.Tests.Fuzz.FuzzTests.Parser_survives" || status=$?

echo
echo "fuzzing report (seed $KILN_FUZZ_SEED, $seconds s per parser; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)):"
sort "$report"
exit "$status"
