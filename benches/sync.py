"""CPython's multiprocessing Lock, Barrier and Event, timed with the fork context.

The Python half of `benches/ch05_sync.rs`, which runs it with `python3` and puts its
figures next to the Rust ones. It can also run alone:

    python3 benches/sync.py [--procs 4] [--increments 100000] [--counter-runs 5]
                            [--barrier-rounds 2000] [--barrier-runs 3]
                            [--pingpong 10000] [--pingpong-warmup 1000]
                            [--lock-pairs 1000000] [--lock-runs 3]
                            [--sweep 1,2,4,8] [--sweep-runs 3]

What it measures, the same way as the Rust side:

1. Counter: `--procs` children each add 1, `--increments` times, to a
   `Value('i', lock=False)` under one `Lock` (`with lock: value.value += 1`, what a
   Python user writes). The children are forked first and wait on an `Event` (each
   releases a `Semaphore` when it is about to wait); the clock runs from `set()` of that
   start gate until every child is joined. The final value must be procs x increments.
   Median, min and max of `--counter-runs` runs, in seconds.
2. Barrier: `--procs` children each call `Barrier(procs).wait(5)` `--barrier-rounds`
   times, after the same start gate; rounds per second from the gate to the last join.
   Median, min and max of `--barrier-runs` runs.
3. Event ping-pong: this process sets `ping` and waits for `pong`, then clears `pong`;
   one child waits for `ping`, clears it and sets `pong`. Each round trip is timed with
   `time.perf_counter`; `--pingpong-warmup` unmeasured ones first. Median, p10 and p90
   in microseconds.
4. Uncontended lock: `with lock: pass`, `--lock-pairs` times in this process, timed
   as a whole; the best of `--lock-runs` runs, in nanoseconds per acquire and release.
5. Sweep: the counter of 1. with each process count of `--sweep` (`--increments` each),
   the median of `--sweep-runs` runs, in seconds (`sweep_<n>_s`).

Every wait has a deadline (5 s for a barrier or an event, 10 s for the start gate, 30 s
for the joins): a child still running after it is killed and the script fails, and so
does a child with a non-zero exit code. It prints exactly one line on stdout, a flat
JSON object with the figures; nothing else goes to stdout.
"""

import argparse
import json
import multiprocessing
import platform
import sys
import time

from common.bench_common import quantile

WAIT_DEADLINE_S = 5.0
GATE_DEADLINE_S = 10.0
JOIN_DEADLINE_S = 30.0


def fail(message):
    raise SystemExit(f"sync.py: {message}")


def join_all(procs, what):
    """Joins every child within JOIN_DEADLINE_S in all; kills the ones still running and
    fails, or fails on a non-zero exit code."""
    end = time.monotonic() + JOIN_DEADLINE_S
    for p in procs:
        p.join(max(0.0, end - time.monotonic()))
    late = [p for p in procs if p.exitcode is None]
    for p in late:
        p.kill()
        p.join(WAIT_DEADLINE_S)
    if late:
        fail(f"{what}: children {[p.pid for p in late]} still running after "
             f"{JOIN_DEADLINE_S} s; killed them")
    for p in procs:
        if p.exitcode != 0:
            fail(f"{what}: child {p.pid} ended with exitcode {p.exitcode}")
        p.close()


def gated(ctx, what, procs, target, args):
    """Forks `procs` children running target(ready, go, *args), which release `ready` and
    wait for `go`; sets `go` once all are ready and returns the seconds from then until
    all are joined."""
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    children = [ctx.Process(target=target, args=(ready, go, *args)) for _ in range(procs)]
    for p in children:
        p.start()
    for _ in range(procs):
        if not ready.acquire(timeout=GATE_DEADLINE_S):
            for p in children:
                p.kill()
                p.join(WAIT_DEADLINE_S)
            fail(f"{what}: the children were not ready within {GATE_DEADLINE_S} s")
    t0 = time.perf_counter()
    go.set()
    join_all(children, what)
    return time.perf_counter() - t0


def wait_at_gate(ready, go):
    ready.release()
    if not go.wait(GATE_DEADLINE_S):
        raise SystemExit(2)


def counter_child(ready, go, lock, value, increments):
    wait_at_gate(ready, go)
    for _ in range(increments):
        with lock:
            value.value += 1


def barrier_child(ready, go, barrier, rounds):
    wait_at_gate(ready, go)
    for _ in range(rounds):
        barrier.wait(WAIT_DEADLINE_S)


def pong_child(ping, pong, trips):
    for _ in range(trips):
        if not ping.wait(WAIT_DEADLINE_S):
            raise SystemExit(2)
        ping.clear()
        pong.set()


def counter_once(ctx, procs, increments):
    lock = ctx.Lock()
    value = ctx.Value("i", 0, lock=False)
    elapsed = gated(ctx, "counter", procs, counter_child, (lock, value, increments))
    if value.value != procs * increments:
        fail(f"counter: final value {value.value}, expected {procs * increments}")
    return elapsed


def barrier_once(ctx, procs, rounds):
    barrier = ctx.Barrier(procs)
    elapsed = gated(ctx, "barrier", procs, barrier_child, (barrier, rounds))
    return rounds / elapsed


def pingpong(ctx, warmup, trips):
    ping = ctx.Event()
    pong = ctx.Event()
    child = ctx.Process(target=pong_child, args=(ping, pong, warmup + trips))
    child.start()
    samples_us = []
    try:
        for i in range(warmup + trips):
            t0 = time.perf_counter()
            ping.set()
            if not pong.wait(WAIT_DEADLINE_S):
                fail(f"ping-pong: no pong within {WAIT_DEADLINE_S} s")
            pong.clear()
            if i >= warmup:
                samples_us.append((time.perf_counter() - t0) * 1e6)
    except BaseException:
        child.kill()
        child.join(WAIT_DEADLINE_S)
        raise
    join_all([child], "ping-pong")
    return sorted(samples_us)


def lock_pairs_ns(ctx, pairs):
    """Nanoseconds per uncontended `with lock: pass`, over `pairs` of them."""
    lock = ctx.Lock()
    t0 = time.perf_counter()
    for _ in range(pairs):
        with lock:
            pass
    return (time.perf_counter() - t0) * 1e9 / pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--increments", type=int, default=100_000)
    parser.add_argument("--counter-runs", type=int, default=5)
    parser.add_argument("--barrier-rounds", type=int, default=2_000)
    parser.add_argument("--barrier-runs", type=int, default=3)
    parser.add_argument("--pingpong", type=int, default=10_000)
    parser.add_argument("--pingpong-warmup", type=int, default=1_000)
    parser.add_argument("--lock-pairs", type=int, default=1_000_000)
    parser.add_argument("--lock-runs", type=int, default=3)
    parser.add_argument("--sweep", default="")
    parser.add_argument("--sweep-runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sweep.split(",") if n]
    if min(args.procs, args.increments, args.counter_runs, args.barrier_rounds,
           args.barrier_runs, args.pingpong, args.lock_pairs, args.lock_runs,
           args.sweep_runs) < 1 or args.pingpong_warmup < 0:
        parser.error("every count must be at least 1 (--pingpong-warmup at least 0)")

    ctx = multiprocessing.get_context("fork")
    counter_s = sorted(counter_once(ctx, args.procs, args.increments)
                       for _ in range(args.counter_runs))
    barrier_rps = sorted(barrier_once(ctx, args.procs, args.barrier_rounds)
                         for _ in range(args.barrier_runs))
    trips_us = pingpong(ctx, args.pingpong_warmup, args.pingpong)
    lock_ns = min(lock_pairs_ns(ctx, args.lock_pairs) for _ in range(args.lock_runs))
    sweep = {
        f"sweep_{n}_s": quantile(
            sorted(counter_once(ctx, n, args.increments) for _ in range(args.sweep_runs)), 0.5
        )
        for n in sizes
    }

    print(
        json.dumps(
            {
                "implementation": f"CPython {platform.python_version()} multiprocessing (fork)",
                "procs": args.procs,
                "lock_pairs": args.lock_pairs,
                "lock_best_ns": lock_ns,
                "increments": args.increments,
                "counter_median_s": quantile(counter_s, 0.5),
                "counter_min_s": counter_s[0],
                "counter_max_s": counter_s[-1],
                "barrier_rounds": args.barrier_rounds,
                "barrier_median_per_s": quantile(barrier_rps, 0.5),
                "barrier_min_per_s": barrier_rps[0],
                "barrier_max_per_s": barrier_rps[-1],
                "pingpong_trips": args.pingpong,
                "pingpong_median_us": quantile(trips_us, 0.5),
                "pingpong_p10_us": quantile(trips_us, 0.1),
                "pingpong_p90_us": quantile(trips_us, 0.9),
                **sweep,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
