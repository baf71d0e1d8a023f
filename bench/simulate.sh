#!/usr/bin/env bash
# Runs the compile-farm simulation (bench/Kiln.Simulation) over 10, 100 and 1000 nodes and writes its
# section of docs/benchmarks.md. A discrete-event simulation, because 2 cores cannot show a farm.
#
#   bench/simulate.sh [--nodes 10,100,1000] [--seeds 5] [--large-seeds 3] [--parallel N] [--output FILE]
#
#   --nodes L        cluster sizes (default 10,100,1000)
#   --seeds N        seeds per size (default 5); --large-seeds N: seeds for 1000 nodes and more (default 3)
#   --parallel N     runs at once (default: nproc)
#   --output FILE    where the section goes (default docs/benchmarks.md; "-" = stdout only)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes=10,100,1000
seeds=5
large_seeds=3
parallel="$(nproc)"
output="$repo/docs/benchmarks.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --nodes) nodes="$2"; shift 2 ;;
        --seeds) seeds="$2"; shift 2 ;;
        --large-seeds) large_seeds="$2"; shift 2 ;;
        --parallel) parallel="$2"; shift 2 ;;
        --output) output="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "simulate: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
done

say() { echo "simulate: $*" >&2; }
say "building bench/Kiln.Simulation (Release)"
dotnet build -c Release "$repo/bench/Kiln.Simulation/Kiln.Simulation.csproj" -nologo -v q >&2
simulation="$repo/artifacts/build/bin/Kiln.Simulation/release/Kiln.Simulation.dll"

command_line="bench/simulate.sh --nodes $nodes --seeds $seeds --large-seeds $large_seeds"
started="$(date -u '+%Y-%m-%d %H:%M')"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
start_seconds=$SECONDS
tables="$(dotnet "$simulation" --nodes "$nodes" --seeds "$seeds" --large-seeds "$large_seeds" --parallel "$parallel")"
elapsed=$((SECONDS - start_seconds))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"

section="$(cat <<MARKDOWN
## Scheduling at scale: a simulated compile farm

Simulated ${started} UTC by \`${command_line}\` (commit ${commit}) in ${elapsed} s of wall time; load
average ${load_before} before and ${load_after} after on this 2-core machine shared with other work. The
simulation is deterministic, so the load changes only how long it takes, never a figure. Each row is
the mean ± standard deviation over seeds; every policy runs on the same worlds (same nodes, builds,
owners and hangs for a seed). "× Kiln's" is the row's mean build time over Kiln's on the same world.

Reproduce: \`bench/simulate.sh\`; one cell: \`dotnet run -c Release --project bench/Kiln.Simulation --
--nodes 100 --seeds 5 --scenarios failures --policies icecream,kiln\`. The invariants (every job
completes exactly once; with admission control no node ever holds more jobs than slots; same seed,
same result) are checked by \`test/Kiln.Tests/Simulation\`.

${tables}

Columns: *mean build*, a client's \`make\` from start to the end of its link; *slowest build*, the
unluckiest client's; *overloaded node-time*, the share of node-seconds with more runnable processes
(remote compilers plus the owner's) than cores; *max jobs beyond slots*, the most remote jobs present on
one node (running plus waiting in distccd's backlog or icecream's preload) minus its cores; *owner CPU
lost*, the share of the CPU workstation owners wanted that remote compiles took from them; *Jain*,
Jain's fairness index over the clients' throughput relative to their own ideal (1 = equal); *worst/best
stretch*, the unluckiest client's build time over its ideal divided by the luckiest's (ideal: its
compiles' CPU time spread over make -jN cores of speed 1.0, plus its link); *nodes used*, nodes that
ran any job; *local compiles*, fallbacks on the client; *lost copies*, jobs caught on a hung node;
*races*, second copies Kiln sent for stragglers.

### The model, and what it assumes

- **Nodes**: 10, 100 or 1000. 40 % are workstations (4, 8 or 16 cores: 40/40/20 %), the rest servers
  (4, 8, 16 or 32 cores: 30/40/20/10 %). Speed relative to the measuring machine: lognormal around 1.0,
  σ 0.3, clipped to 0.4-2.5. Every policy is told a node's slots = its cores.
- **Owners**: a workstation's owner alternates idle spells (exponential, mean 300 s) and busy spells
  (mean 200 s) running between a quarter and all of the cores' worth of CPU-bound processes. CPU is
  shared as Linux's CFS shares it: by nice weight (1024 at nice 0, 335 at nice 5, 15 at nice 19), at
  most one core per process. distccd and iceccd run compilers at nice 5 (their defaults); Kiln at
  nice 19 on workstations.
- **Clients**: one per five nodes (at least 2), each one developer's build with \`make -j32\` on an
  8-core client that preprocesses locally (10 % of each compile's time, "cpp is 5-10 % of CPU" in
  distcc's LCA 2004 paper) and links locally. Half build a C library like uClibc-ng (796 compiles,
  2 s archive), half a C++ project (1500 compiles, 15 s link). Builds start at random in the first
  120 s, so they overlap. Compiles are independent; make keeps 32 in flight.
- **Job sizes**: lognormal, fitted by maximum likelihood to per-compile CPU times measured here (the
  compiler's user + system time under \`make -j2\`; bench/simulation-data/ has the raw data and the
  method): $(dotnet "$simulation" --describe-workload)
  Draws are clipped to 5 ms-600 s. Each client's estimate of a job's time is off by a lognormal factor
  (σ 0.3). The network: 2 ms each way per request; transfer times are not modelled.
- **distcc**: every client lists the hosts in the same order, with \`/N\` = cores; per-client lock
  files, slot 0 of every host before slot 1 of any (src/where.c, lock.c); all held: sleep 1 s and
  retry; distccd runs cores + 2 compilers and leaves further connections in the listen backlog; a
  hung host costs the 4 s connect timeout, or mid-job DISTCC_IO_TIMEOUT (300 s), then 60 s of
  back-off for that host and a local compile. **distcc --randomize**: the same with the list shuffled
  per compile.
- **icecream** (scheduler algorithm \`fastest\`, the default): one scheduler that sees every node;
  eligible below max jobs (= cores), or below max jobs + 1 + max/4 (preload) as a last resort, and
  with load below 1000; unused nodes first; otherwise best speed × (1000 − load)/1000 ×
  (1 − 0.5·jobs/max), × (4.5 − 0.5·n) for a node's first n < 7 jobs; requests wait at the scheduler,
  round-robin between submitters. The scheduler is assumed infinitely fast (one round trip per job
  whatever the cluster's size). A hung node: the client waits 12 minutes for the result
  (client/remote.cpp), then compiles locally; the scheduler is assumed to drop the node 30 s after it
  hangs, and connects to it fail after 5 s meanwhile.
- **Kiln** (issue 6's policy, not the current \`kiln cc\`): adverts of free slots (slots − running −
  owner's processes) every 2 s, not trusted after 6 s; the better of two random usable nodes by
  advertised free slots; the node says BUSY when it has no free slot or the user is over its fair
  share while other active users need the rest; after three BUSY in a row the client waits 50 ms
  doubling to 1 s, jittered; failures (never BUSY) back a node off for that client, 10 s doubling to
  5 min; a hung node is noticed when keepalives stop (15 s; the current kiln cc waits 10 minutes) and
  the job goes elsewhere; at the tail of a build (make has nothing left to start) a job running over
  3 × its estimate + 2 s gets a second copy elsewhere, first result wins. **Kiln + speed**: the same,
  with the node's speed advertised too; of the two candidates, one with a free slot beats one without,
  and between two with free slots the faster wins.
- **Failures** (scenario *failures*): 5 % of the nodes (at least one) hang once, at a random time
  between 30 s and 430 s, without resetting connections, and come back empty 10 minutes later.
- **Not modelled**: network bandwidth and object transfer, caches (every compile runs), memory
  pressure, the icecream scheduler's own CPU and its single point of failure, compile errors, make's
  dependency graph beyond "compiles, then link", clients that are nodes too.
MARKDOWN
)"

if [ "$output" = "-" ]; then
    printf '%s\n' "$section"
else
    printf '%s\n' "$section" | "$repo/bench/lib/section.sh" "$output" simulation
    say "wrote the simulation section of $output"
fi
