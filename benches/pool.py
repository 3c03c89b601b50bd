"""CPython's multiprocessing.Pool, timed with the fork start method.

The Python half of `benches/ch07_pool.rs`, which runs it with `python3` and puts its
figures next to the Rust ones. It can also run alone:

    python3 benches/pool.py [--trips 2000] [--tasks 10000] [--runs 5]
        [--sweep-workers 1,2,3,4] [--sweep-chunks 1,4,16] [--chunk-pool 2]

What it measures, the same way as the Rust side:

1. Round trip: `apply_async(noop, (x,)).get()` on a pool of 2, one at a time, each timed
   with `time.perf_counter`, after `--trips // 10` unmeasured ones. Median, in seconds.
2. `map(noop, range(--tasks))` with the default chunk size on a pool of 2: tasks per
   second, best of `--runs`.
3. `heavy(1000)` in a pool (`apply`), once as the notebook writes it (`x**y` afresh for
   every term), once with a running power (one multiplication per term, as the Rust
   side computes it): seconds, one run each.
4. A pool of 4: `Pool(4)` (start-up), its first `apply` result, then `close()` +
   `join()`; and another pool's `terminate()` + `join()`. Medians of `--runs`.
5. Sweeps of `map(noop, range(--tasks))`, best of `--runs`, in tasks per second: on a
   pool of each size of `--sweep-workers` with the default chunks, and with each chunk
   size of `--sweep-chunks` on a pool of `--chunk-pool`.

It prints exactly one line on stdout, a flat JSON object.
"""

import argparse
import json
import math
import multiprocessing
import platform
import statistics
import time


def noop(x):
    return x


def heavy(n):
    a = 0
    for x in range(n):
        for y in range(x):
            a += x**y
    return int(math.log(a, 10))


def heavy_running(n):
    a = 0
    for x in range(n):
        p = 1
        for _ in range(x):
            a += p
            p *= x
    return len(str(a)) - 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trips", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sweep-workers", default="1,2,3,4")
    parser.add_argument("--sweep-chunks", default="1,4,16,64,256,1024")
    parser.add_argument("--chunk-pool", type=int, default=2)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    out = {"implementation": f"CPython {platform.python_version()} multiprocessing (fork)"}

    with ctx.Pool(2) as pool:
        pool.map(noop, range(100))
        for x in range(args.trips // 10):
            pool.apply_async(noop, (x,)).get(30)
        trips = []
        for x in range(args.trips):
            start = time.perf_counter()
            pool.apply_async(noop, (x,)).get(30)
            trips.append(time.perf_counter() - start)
        out["roundtrip_s_median"] = statistics.median(trips)

        best = math.inf
        for _ in range(args.runs):
            start = time.perf_counter()
            got = pool.map(noop, range(args.tasks))
            best = min(best, time.perf_counter() - start)
            assert got[-1] == args.tasks - 1
        out["map_tasks_per_s"] = args.tasks / best

        start = time.perf_counter()
        assert pool.apply(heavy, (1000,)) == 2993
        out["heavy_1000_s"] = time.perf_counter() - start
        start = time.perf_counter()
        assert pool.apply(heavy_running, (1000,)) == 2993
        out["heavy_1000_running_s"] = time.perf_counter() - start

    starts, firsts, closes, terminates = [], [], [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        pool = ctx.Pool(4)
        starts.append(time.perf_counter() - start)
        start = time.perf_counter()
        pool.apply(noop, (1,))
        firsts.append(time.perf_counter() - start)
        start = time.perf_counter()
        pool.close()
        pool.join()
        closes.append(time.perf_counter() - start)
        pool = ctx.Pool(4)
        pool.apply(noop, (1,))
        start = time.perf_counter()
        pool.terminate()
        pool.join()
        terminates.append(time.perf_counter() - start)
    out["start_s_median"] = statistics.median(starts)
    out["first_result_s_median"] = statistics.median(firsts)
    out["close_join_s_median"] = statistics.median(closes)
    out["terminate_s_median"] = statistics.median(terminates)

    def map_rate(pool, chunksize):
        best = math.inf
        for _ in range(args.runs):
            start = time.perf_counter()
            got = pool.map(noop, range(args.tasks), chunksize)
            best = min(best, time.perf_counter() - start)
            assert got[-1] == args.tasks - 1
        return args.tasks / best

    for n in [int(n) for n in args.sweep_workers.split(",")]:
        with ctx.Pool(n) as pool:
            out[f"sweep_workers_{n}_per_s"] = map_rate(pool, None)
    with ctx.Pool(args.chunk_pool) as pool:
        for c in [int(c) for c in args.sweep_chunks.split(",")]:
            out[f"sweep_chunk_{c}_per_s"] = map_rate(pool, c)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
