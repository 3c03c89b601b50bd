"""Start + join latency of CPython's multiprocessing with the fork context.

The Python half of `benches/ch03_start_join.rs`, which runs it with `python3` and puts
its figures next to the Rust ones. It can also run alone:

    python3 benches/start_join.py [--warmup 5] [--runs 50]

For each run it creates `ctx.Process(target=noop)` outside the clock, then times
`start()` + `join()` with `time.perf_counter`. Every join has a deadline (5 s): a child
still running after it is killed and the script fails. It prints exactly one line on
stdout, a JSON object with the figures in microseconds; nothing else goes to stdout.
"""

import argparse
import json
import multiprocessing
import platform
import sys
import time

from common.bench_common import quantile

JOIN_DEADLINE_S = 5.0


def noop():
    """The child's target: does nothing, so only starting and joining are measured."""


def start_join_once(ctx):
    """Seconds taken by one start() + join() of a child running noop()."""
    p = ctx.Process(target=noop)
    t0 = time.perf_counter()
    p.start()
    p.join(JOIN_DEADLINE_S)
    elapsed = time.perf_counter() - t0
    if p.exitcode is None:
        p.kill()
        p.join(JOIN_DEADLINE_S)
        raise SystemExit(
            f"start_join.py: child {p.pid} still running after {JOIN_DEADLINE_S} s; killed it"
        )
    if p.exitcode != 0:
        raise SystemExit(f"start_join.py: child {p.pid} ended with exitcode {p.exitcode}")
    p.close()
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0:
        parser.error("--runs must be at least 1 and --warmup at least 0")

    ctx = multiprocessing.get_context("fork")
    for _ in range(args.warmup):
        start_join_once(ctx)
    samples_us = sorted(start_join_once(ctx) * 1e6 for _ in range(args.runs))

    print(
        json.dumps(
            {
                "implementation": f"CPython {platform.python_version()} multiprocessing (fork)",
                "warmup": args.warmup,
                "runs": args.runs,
                "median_us": quantile(samples_us, 0.5),
                "p10_us": quantile(samples_us, 0.1),
                "p90_us": quantile(samples_us, 0.9),
                "min_us": samples_us[0],
                "max_us": samples_us[-1],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
