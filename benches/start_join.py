"""Start + join latency of CPython's multiprocessing with the fork context.

The Python half of `benches/ch03_start_join.rs`, which runs it with `python3` and puts
its figures next to the Rust ones. It can also run alone:

    python3 benches/start_join.py [--warmup 5] [--runs 50] [--sweep 1,2,4]
                                  [--sweep-runs 9]

For each run it creates `ctx.Process(target=noop)` outside the clock, then times
`start()` + `join()` with `time.perf_counter`. For each size n of `--sweep`, it starts n
children, then joins them all, and gives the median of `--sweep-runs` such batches in
milliseconds (`sweep_<n>_ms`). Every join has a deadline (5 s): a child
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


def batch_ms(ctx, n):
    """Milliseconds to start n children running noop(), then join them all."""
    procs = [ctx.Process(target=noop) for _ in range(n)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    end = time.monotonic() + JOIN_DEADLINE_S
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
    elapsed = time.perf_counter() - t0
    late = [p for p in procs if p.exitcode is None]
    for p in late:
        p.kill()
        p.join(JOIN_DEADLINE_S)
    if late:
        raise SystemExit(f"start_join.py: {len(late)} children still running; killed them")
    if any(p.exitcode != 0 for p in procs):
        raise SystemExit("start_join.py: a child of the sweep did not exit with 0")
    for p in procs:
        p.close()
    return elapsed * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--sweep", default="")
    parser.add_argument("--sweep-runs", type=int, default=9)
    args = parser.parse_args()
    if args.runs < 1 or args.warmup < 0 or args.sweep_runs < 1:
        parser.error("--runs and --sweep-runs must be at least 1 and --warmup at least 0")
    sizes = [int(n) for n in args.sweep.split(",") if n]

    ctx = multiprocessing.get_context("fork")
    for _ in range(args.warmup):
        start_join_once(ctx)
    samples_us = sorted(start_join_once(ctx) * 1e6 for _ in range(args.runs))
    sweep = {
        f"sweep_{n}_ms": quantile(sorted(batch_ms(ctx, n) for _ in range(args.sweep_runs)), 0.5)
        for n in sizes
    }

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
                **sweep,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
