#!/usr/bin/env python3
"""Times commands in interleaved rounds and writes hyperfine-style JSON.

    interleave.py --runs N [--warmup W] [--prepare CMD] --export-json FILE NAME=COMMAND ...

Each round runs every command once, in a shuffled order, so a machine whose speed drifts during
the run (these VMs do, by 20-30 % from minute to minute) slows every command alike; hyperfine runs
all of one command's runs before the next command's, and a drift then lands on one command only.
A command is split like a shell word list and run without a shell (as `hyperfine -N`); a command
that fails stops the run. The JSON has hyperfine's shape: results[].{command, median, mean,
stddev, min, max, times} in seconds, plus paired_median_vs_first: the median of the per-round
differences against the first command, which cancels drift best. --prepare runs a shell command
before every timed command (as hyperfine's --prepare), untimed.
"""
import argparse
import json
import random
import shlex
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--export-json", required=True)
    parser.add_argument("--prepare", help="shell command run before each timed command, untimed")
    parser.add_argument("commands", nargs="+", help="NAME=COMMAND")
    options = parser.parse_args()
    commands = []
    for item in options.commands:
        name, sep, command = item.partition("=")
        if not sep or not name or not command:
            parser.error(f"expected NAME=COMMAND, got {item!r}")
        commands.append((name, shlex.split(command)))

    times = {name: [] for name, _ in commands}
    rng = random.Random(1)
    for round_number in range(options.warmup + options.runs):
        order = list(commands)
        rng.shuffle(order)
        for name, argv in order:
            if options.prepare:
                subprocess.run(options.prepare, shell=True, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
            started = time.perf_counter()
            result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            elapsed = time.perf_counter() - started
            if result.returncode != 0:
                sys.stderr.write(result.stderr.decode(errors="replace"))
                print(f"interleave: {name} exited with {result.returncode}", file=sys.stderr)
                return 1
            if round_number >= options.warmup:
                times[name].append(elapsed)

    first = commands[0][0]
    results = []
    for name, _ in commands:
        t = times[name]
        results.append({
            "command": name,
            "median": statistics.median(t),
            "mean": statistics.fmean(t),
            "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
            "min": min(t),
            "max": max(t),
            "times": t,
            "paired_median_vs_first": statistics.median(a - b for a, b in zip(t, times[first])),
        })
        print(f"{name:>10}: median {results[-1]['median'] * 1000:7.2f} ms, "
              f"paired difference to {first} {results[-1]['paired_median_vs_first'] * 1000:+7.2f} ms", file=sys.stderr)
    with open(options.export_json, "w") as out:
        json.dump({"results": results}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
