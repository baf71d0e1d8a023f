#!/bin/bash
# Two users (tokens alice, bob) compile 48 files each, 4 at a time, against 3 nodes (2, 2, 1 slots).
set -u
K=${KILN:-$(cd "$(dirname "$0")/.." && pwd)/artifacts/bin/kiln}
W=$(mktemp -d)
PIDS=()
# Ports 47631-47643 on 127.0.0.1 only.
for n in 1 2 3; do
  s=2; [ $n = 3 ] && s=1
  $K serve --data $W/d$n --listen 127.0.0.1:$((47630+n)) --http 127.0.0.1:$((47640+n)) --slots $s --name m$n > $W/n$n.log 2>&1 &
  PIDS+=($!)
done
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null; done' EXIT
for n in 1 2 3; do for i in $(seq 100); do grep -q ready: $W/n$n.log && break; sleep 0.2; done; done
for u in alice bob; do
  mkdir -p $W/$u
  for i in $(seq 48); do printf '#include <stdio.h>\nint f%d(int x){ char b[64]; snprintf(b,64,"%%d",x); return b[0]+%d; }\n' $i $i > $W/$u/f$i.c; done
done
compile() { cd $W/$1; KILN_TOKEN=$1 KILN_DIR=$W/state-$1 KILN_FALLBACK=0 KILN_VERBOSE=1 \
  KILN_HOSTS="127.0.0.1:47631/3 127.0.0.1:47632/3 127.0.0.1:47633/2" $K cc gcc -O2 -c f$2.c -o f$2.o 2>>$W/$1.err || echo FAIL $1 $2; }
export -f compile; export K W
start=$(date +%s)
(seq 48 | xargs -P4 -I{} bash -c 'compile alice {}') & A=$!
(seq 48 | xargs -P4 -I{} bash -c 'compile bob {}') & B=$!
wait $A $B
echo "elapsed $(( $(date +%s) - start )) s"
for n in 1 2 3; do curl -s http://127.0.0.1:$((47640+n))/api/stats | python3 -c "
import json,sys; d=json.load(sys.stdin)
print('m$n', 'slots',d['slots'],'ok',d['compilesOk'],'maxRunning',d['maxRunning'],'busy',d['busy'],'users',[(u['user'],u['jobs'],u['contendedJobs']) for u in d['users']])"; done
grep -c "compiled on" $W/alice.err $W/bob.err
