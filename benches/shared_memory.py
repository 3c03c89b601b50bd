"""CPython's multiprocessing Value and RawArray, timed with the fork context.

The Python half of `benches/ch06_shared_memory.rs`, which runs it with `python3` and puts
its figures next to the Rust ones. It can also run alone:

    python3 benches/shared_memory.py [--procs 4] [--increments 100000] [--counter-runs 3]
                                     [--len 1000000] [--replace-runs 3]

What it measures, the same way as the Rust side:

1. Locked counter: `--procs` children each do `with counter: counter.value += 1`,
   `--increments` times, on one `Value('i', 0)` (its own `RLock`: the notebook's
   counter). The final value must be procs x increments.
2. Unlocked counter: the same on a `RawValue('i', 0)` with no lock; its final value
   (updates are lost).
3. Replace: `--procs` children, numbered 1 to procs, each write their number into
   every element of one `RawArray('i', --len)` (the notebook's granularity cell), three
   ways: with no lock (`arr[i] = n`), locking a `Lock` for each element, and holding
   the `Lock` for the whole loop. After each run: how many times the number changes
   along the array (0 when one process's number fills it; the whole-loop run must
   give 0).

Runs of 1 and 2 take turns, as do the three replace variants. Each run forks its
children first and waits for them at a start gate (each releases a `Semaphore` when it
is about to wait on an `Event`); the clock runs from `set()` of that gate until the
last child has finished its work (each child notes `time.perf_counter()`, which is
CLOCK_MONOTONIC on Linux and so compares across processes, in a `RawArray`). The
children's exits and joins come after that and are left out. Median, min and max of
the runs, in seconds.

Every wait has a deadline (10 s for the start gate, 60 s for the joins): a child still
running after it is killed and the script fails, and so does a child with a non-zero
exit code. It prints exactly one line on stdout, a flat JSON object with the figures;
nothing else goes to stdout.
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
JOIN_DEADLINE_S = 60.0


def fail(message):
    raise SystemExit(f"shared_memory.py: {message}")


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


def child_main(ready, go, done, k, work, args):
    """A child: reach the start gate, run work(k, *args), note when it finished."""
    ready.release()
    if not go.wait(GATE_DEADLINE_S):
        raise SystemExit(2)
    work(k, *args)
    done[k - 1] = time.perf_counter()


def gated(ctx, what, procs, work, args):
    """Forks `procs` children that wait at a start gate and then run work(k, *args) for
    k = 1..procs; opens the gate once all are ready and returns the seconds from then
    until the last child finished its work (and joins them all)."""
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    done = ctx.RawArray("d", procs)
    children = [ctx.Process(target=child_main, args=(ready, go, done, k, work, args))
                for k in range(1, procs + 1)]
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
    return max(done) - t0


def locked_counter(_k, counter, increments):
    for _ in range(increments):
        with counter:
            counter.value += 1


def unlocked_counter(_k, counter, increments):
    for _ in range(increments):
        counter.value += 1


def replace_unlocked(k, arr, _lock):
    for i in range(len(arr)):
        arr[i] = k


def replace_each(k, arr, lock):
    for i in range(len(arr)):
        with lock:
            arr[i] = k


def replace_all(k, arr, lock):
    with lock:
        for i in range(len(arr)):
            arr[i] = k


REPLACE = {
    "unlocked": replace_unlocked,
    "each": replace_each,
    "all": replace_all,
}


def switches(values):
    """How many times the number changes from one element to the next."""
    return sum(1 for a, b in zip(values, values[1:]) if a != b)


def summary(name, values):
    values = sorted(values)
    return {
        f"{name}_median": quantile(values, 0.5),
        f"{name}_min": values[0],
        f"{name}_max": values[-1],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--increments", type=int, default=100_000)
    parser.add_argument("--counter-runs", type=int, default=3)
    parser.add_argument("--len", type=int, default=1_000_000)
    parser.add_argument("--replace-runs", type=int, default=3)
    args = parser.parse_args()
    if min(args.procs, args.increments, args.counter_runs, args.len, args.replace_runs) < 1:
        parser.error("every count must be at least 1")

    ctx = multiprocessing.get_context("fork")
    total = args.procs * args.increments
    locked_s, unlocked_s, unlocked_final = [], [], []
    for _ in range(args.counter_runs):
        counter = ctx.Value("i", 0)
        locked_s.append(gated(ctx, "locked counter", args.procs, locked_counter,
                              (counter, args.increments)))
        if counter.value != total:
            fail(f"locked counter: final value {counter.value}, expected {total}")
        raw = ctx.RawValue("i", 0)
        unlocked_s.append(gated(ctx, "unlocked counter", args.procs,
                                unlocked_counter, (raw, args.increments)))
        if not 0 < raw.value <= total:
            fail(f"unlocked counter: final value {raw.value}, not in 1..={total}")
        unlocked_final.append(raw.value)

    replace_s = {name: [] for name in REPLACE}
    replace_switches = {name: [] for name in REPLACE}
    for _ in range(args.replace_runs):
        for name, child in REPLACE.items():
            arr = ctx.RawArray("i", args.len)
            lock = ctx.Lock()
            replace_s[name].append(gated(ctx, f"replace {name}", args.procs, child,
                                         (arr, lock)))
            values = arr[:]
            if not set(values) <= set(range(1, args.procs + 1)):
                fail(f"replace {name}: a number no process wrote")
            replace_switches[name].append(switches(values))
    if any(replace_switches["all"]):
        fail(f"replace all: the array is a mix ({replace_switches['all']} switches)")

    figures = {
        "implementation": f"CPython {platform.python_version()} multiprocessing (fork)",
        "procs": args.procs,
        "increments": args.increments,
        "len": args.len,
    }
    figures.update(summary("counter_locked_s", locked_s))
    figures.update(summary("counter_unlocked_s", unlocked_s))
    figures.update(summary("counter_unlocked_final", unlocked_final))
    for name in REPLACE:
        figures.update(summary(f"replace_{name}_s", replace_s[name]))
        figures.update(summary(f"replace_{name}_switches", replace_switches[name]))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    sys.exit(main())
