#!/usr/bin/env bash
# Times one `kiln cc` compile through a local node over TLS 1.3 against the same compile over loopback
# plaintext, in one run, on one node (`kiln serve --plaintext-loopback`), and writes the "tls-cost"
# section of docs/benchmarks.md. Each `kiln cc` is a new process, so the TLS figure includes a full
# handshake per compile: the worst case (a build never reuses a connection across processes).
#
#   bench/tls-cost.sh [--runs N] [--output FILE]
#
#   --runs N        hyperfine runs per side (default 40, 5 warm-up runs)
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
        *) echo "tls-cost: unknown option $1" >&2; exit 2 ;;
    esac
done

kiln="${KILN_BIN:-$repo/artifacts/bin/kiln}"
[ -x "$kiln" ] || "$repo/scripts/setup" >&2
command -v hyperfine >/dev/null || { echo "tls-cost: hyperfine is missing (apt-get install -y hyperfine)" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kiln-tls-cost.XXXXXX")"
node_pid=""
cleanup() {
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# --result-cache off and KILN_CACHE_SIZE=0: every run is a compile on the node, not a cache hit.
"$kiln" serve --data "$work/data" --listen 127.0.0.1:0 --http off --slots 2 --plaintext-loopback --result-cache off 2>"$work/serve.log" &
node_pid=$!
for _ in $(seq 1 600); do
    grep -q '^ready:' "$work/serve.log" && break
    kill -0 "$node_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
grep -q '^ready:' "$work/serve.log" || { echo "tls-cost: kiln serve did not start within 60 s" >&2; exit 1; }
endpoint="$(sed -n 's/^ *kiln protocol *\([0-9.]*:[0-9]*\).*/\1/p' "$work/serve.log" | head -n 1)"
fingerprint="$(sed -n 's/^ *fingerprint *\([0-9a-f]\{64\}\).*/\1/p' "$work/serve.log" | head -n 1)"

# A small translation unit: the protocol's cost matters most where the compile itself is short.
cat > "$work/unit.c" <<'C'
#include <stdio.h>
#include <string.h>
int checksum(const char *s) { int h = 0; for (size_t i = 0; i < strlen(s); i++) h = h * 31 + s[i]; return h; }
int main(void) { printf("%d\n", checksum("kiln")); return 0; }
C

common="cd $work && env -u DISTCC_HOSTS KILN_FALLBACK=0 KILN_CACHE_SIZE=0 KILN_DIR=$work/client"
hyperfine --style basic --warmup 5 --runs "$runs" --export-json "$work/tls.json" \
    -n tls "$common KILN_HOSTS='$endpoint,fp=$fingerprint' $kiln cc gcc -O2 -c unit.c -o tls.o" \
    -n plaintext "$common KILN_HOSTS='$endpoint,plain' $kiln cc gcc -O2 -c unit.c -o plain.o" >&2
cmp "$work/tls.o" "$work/plain.o" || { echo "tls-cost: the two objects differ" >&2; exit 1; }

read -r tls_mean tls_sd plain_mean plain_sd < <(python3 - "$work/tls.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print(r["tls"]["mean"] * 1000, r["tls"]["stddev"] * 1000, r["plaintext"]["mean"] * 1000, r["plaintext"]["stddev"] * 1000)
PY
)
ratio="$(python3 -c "print(f'{$tls_mean / $plain_mean:.2f}')")"
extra="$(python3 -c "print(f'{$tls_mean - $plain_mean:.1f}')")"

section="$(cat <<MD
## TLS cost

\`bench/tls-cost.sh --runs $runs\`, $(date -u +%Y-%m-%d): one \`kiln cc gcc -O2 -c\` of a small C file compiled on
one local node (its result cache off, kiln cc's local cache off: every run is a remote compile),
TLS 1.3 (pinned certificate, full handshake per process) against loopback plaintext
(\`--plaintext-loopback\`, \`,plain\`), interleaved by hyperfine in the same run; objects identical.
Machine: $(nproc) cores shared with other jobs (load $(cut -d' ' -f1-3 /proc/loadavg)): absolute times are noisy, the ratio less so.

| transport | mean per job (ms) | σ (ms) |
| --- | --- | --- |
| TLS 1.3 | $(printf '%.1f' "$tls_mean") | $(printf '%.1f' "$tls_sd") |
| plaintext (loopback opt-out) | $(printf '%.1f' "$plain_mean") | $(printf '%.1f' "$plain_sd") |

**TLS / plaintext = $ratio** ($extra ms more per job).
MD
)"
if [ "$output" = "-" ]; then
    printf '%s\n' "$section"
else
    printf '%s\n' "$section" | "$repo/bench/lib/section.sh" "$output" tls-cost
    echo "tls-cost: wrote the tls-cost section of $output" >&2
fi
