#!/usr/bin/env python3
"""Times the phases of `kiln cc` (its KILN_TRACE marks) for several kiln programs, in alternating rounds.

    phases.py [--runs N] [--warmup W] --hosts KILN_HOSTS [--env NAME=VALUE ...] NAME=KILN ... -- CC-ARGS...

Each round runs `KILN cc CC-ARGS` once per NAME=KILN, in an order that alternates from round to round,
with KILN_TRACE=1, KILN_FALLBACK=0, KILN_CACHE_SIZE=0 and a client state directory of its own per
name. Prints, for every phase mark, the median time since the previous mark per name, and the total.
A way to see where a change moved `kiln cc`'s time (docs/benchmarks.md, overhead-analysis), for
example a build of an older commit against this one, both against one node:

    kiln serve --listen 127.0.0.1:47011 --http off --plaintext-loopback --result-cache off &
    python3 bench/lib/phases.py --runs 40 --hosts 127.0.0.1:47011,plain --env KILN_REMOTE_PREPROCESS=0 \\
        --env KILN_LOCAL_SOCKET=0 old=/tmp/old/artifacts/bin/kiln new=artifacts/bin/kiln -- gcc -O2 -c tiny.c -o out.o
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for every run")
    parser.add_argument("programs", nargs="+", help="NAME=KILN ... -- CC-ARGS")
    argv = sys.argv[1:]
    if "--" not in argv:
        parser.error("give the compile after --, for example: -- gcc -O2 -c tiny.c -o out.o")
    split = argv.index("--")
    options = parser.parse_args(argv[:split])
    cc_args = argv[split + 1:]
    programs = []
    for item in options.programs:
        name, sep, program = item.partition("=")
        if not sep or not name or not program:
            parser.error(f"expected NAME=KILN, got {item!r}")
        programs.append((name, program))

    environment = dict(os.environ, KILN_TRACE="1", KILN_FALLBACK="0", KILN_CACHE_SIZE="0", KILN_HOSTS=options.hosts)
    environment.pop("DISTCC_HOSTS", None)
    for item in options.env:
        name, _, value = item.partition("=")
        environment[name] = value

    phases = {name: {} for name, _ in programs}
    with tempfile.TemporaryDirectory(prefix="kiln-phases.") as states:
        for round_number in range(options.warmup + options.runs):
            order = programs if round_number % 2 else list(reversed(programs))
            for name, program in order:
                run = subprocess.run([program, "cc", *cc_args], env=dict(environment, KILN_DIR=os.path.join(states, name)),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if run.returncode != 0:
                    sys.stderr.write(run.stderr)
                    print(f"phases: {name} exited with {run.returncode}", file=sys.stderr)
                    return 1
                if round_number < options.warmup:
                    continue
                previous = 0.0
                for line in run.stderr.splitlines():
                    mark = re.match(r"kiln-trace cc (\S+) \+([0-9.]+) ms", line)
                    if mark:
                        at = float(mark.group(2))
                        phases[name].setdefault(mark.group(1), []).append(at - previous)
                        previous = at
                phases[name].setdefault("total", []).append(previous)

    marks = list(dict.fromkeys(m for name, _ in programs for m in phases[name]))
    print(f"{'phase (ms, median)':>28} " + " ".join(f"{name:>10}" for name, _ in programs))
    for mark in marks:
        cells = [f"{statistics.median(phases[name][mark]):10.2f}" if phases[name].get(mark) else f"{'-':>10}" for name, _ in programs]
        print(f"{mark:>28} " + " ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
