"""CPython's multiprocessing Pipe and Queue, timed with the fork context.

The Python half of `benches/ch04_pipes_queues.rs`, which runs it with `python3` and puts
its figures next to the Rust ones. It can also run alone:

    python3 benches/pipes_queues.py [--trips 5000] [--items 50000] [--big 4]
                                    [--sweep 1,2,3,4] [--sweep-items 20000]

What it measures, the same way as the Rust side, once with both processes pinned to
CPU 0 ("same") and once with the parent on CPU 0 and the child on CPU 1 ("split"):

1. Round trip: the parent sends 8 bytes with `send_bytes` on a duplex `Pipe()`, the
   child answers with the same 8 bytes; each round trip is timed with
   `time.perf_counter`, after `--trips // 10` unmeasured ones. Median, in microseconds.
2. Queue: the child puts `--items` small ints into a `Queue()`, the parent gets them;
   the clock runs from the child's start signal (a byte on a pipe) to the last get.
   Items per second.
3. Big messages: the child sends `--big` messages of 16 MiB with `send_bytes` on a
   one-way `Pipe(duplex=False)`, the parent receives them with `recv_bytes`;
   gigabytes (1e9 bytes) per second.
4. Sweep: for each n of `--sweep`, n producer children put `--sweep-items` ints in all
   into one `Queue()` and n consumer children get them (each its share); unpinned. The
   clock runs from a start `Event` until every child is joined. Items per second
   (`sweep_<n>_per_s`).

Every wait has a deadline (30 s): a child still running after it is killed and the
script fails. It prints exactly one line on stdout, a flat JSON object.
"""

import argparse
import json
import multiprocessing
import os
import platform
import sys
import time

from common.bench_common import quantile

DEADLINE_S = 30.0
BIG = 16 << 20


def fail(message):
    raise SystemExit(f"pipes_queues.py: {message}")


def pin(cpu):
    os.sched_setaffinity(0, {cpu})


def join(child, what):
    child.join(DEADLINE_S)
    if child.exitcode is None:
        child.kill()
        child.join(DEADLINE_S)
        fail(f"{what}: the child was still running after {DEADLINE_S} s; killed it")
    if child.exitcode != 0:
        fail(f"{what}: the child ended with exitcode {child.exitcode}")


def echo_child(cpu, conn, trips):
    pin(cpu)
    for _ in range(trips):
        conn.send_bytes(conn.recv_bytes())


def round_trip(ctx, child_cpu, trips):
    here, there = ctx.Pipe()
    warmup = trips // 10
    child = ctx.Process(target=echo_child, args=(child_cpu, there, warmup + trips))
    child.start()
    message = b"12345678"
    samples = []
    for i in range(warmup + trips):
        t0 = time.perf_counter()
        here.send_bytes(message)
        if not here.poll(DEADLINE_S):
            child.kill()
            fail("round trip: no answer")
        here.recv_bytes()
        if i >= warmup:
            samples.append((time.perf_counter() - t0) * 1e6)
    join(child, "round trip")
    samples.sort()
    return quantile(samples, 0.5)


def producer_child(cpu, queue, start, items):
    pin(cpu)
    start.send_bytes(b"go")
    for k in range(items):
        queue.put(k)


def queue_rate(ctx, child_cpu, items):
    queue = ctx.Queue()
    start_r, start_w = ctx.Pipe(duplex=False)
    child = ctx.Process(target=producer_child, args=(child_cpu, queue, start_w, items))
    child.start()
    if not start_r.poll(DEADLINE_S):
        child.kill()
        fail("queue: the producer never started")
    start_r.recv_bytes()
    t0 = time.perf_counter()
    for k in range(items):
        if queue.get(timeout=DEADLINE_S) != k:
            child.kill()
            fail("queue: an item came out of order")
    elapsed = time.perf_counter() - t0
    join(child, "queue")
    return items / elapsed


def big_child(cpu, conn, count):
    pin(cpu)
    message = bytes(BIG)
    for _ in range(count):
        conn.send_bytes(message)


def big_rate(ctx, child_cpu, count):
    reader, writer = ctx.Pipe(duplex=False)
    child = ctx.Process(target=big_child, args=(child_cpu, writer, count))
    child.start()
    writer.close()
    t0 = time.perf_counter()
    for _ in range(count):
        if not reader.poll(DEADLINE_S):
            child.kill()
            fail("big: no message")
        if len(reader.recv_bytes()) != BIG:
            fail("big: a message of the wrong size")
    elapsed = time.perf_counter() - t0
    join(child, "big")
    return count * BIG / elapsed / 1e9


def sweep_producer(queue, go, count):
    if not go.wait(DEADLINE_S):
        raise SystemExit(2)
    for k in range(count):
        queue.put(k)


def sweep_consumer(queue, go, count):
    if not go.wait(DEADLINE_S):
        raise SystemExit(2)
    for _ in range(count):
        queue.get(timeout=DEADLINE_S)


def sweep_rate(ctx, n, items):
    """Items per second through one Queue with n producers and n consumers."""
    queue = ctx.Queue()
    go = ctx.Event()
    share = items // n
    children = [ctx.Process(target=sweep_producer, args=(queue, go, share)) for _ in range(n)]
    children += [ctx.Process(target=sweep_consumer, args=(queue, go, share)) for _ in range(n)]
    for child in children:
        child.start()
    t0 = time.perf_counter()
    go.set()
    for child in children:
        join(child, f"sweep with {n} producers and consumers")
    return share * n / (time.perf_counter() - t0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--big", type=int, default=4)
    parser.add_argument("--sweep", default="")
    parser.add_argument("--sweep-items", type=int, default=20_000)
    args = parser.parse_args()
    sizes = [int(n) for n in args.sweep.split(",") if n]
    if min(args.trips, args.items, args.big) < 1:
        parser.error("every count must be at least 1")
    if len(os.sched_getaffinity(0)) < 2:
        fail("needs two CPUs to pin the processes apart")

    ctx = multiprocessing.get_context("fork")
    figures = {"implementation": f"CPython {platform.python_version()} multiprocessing (fork)"}
    for placement, child_cpu in (("same", 0), ("split", 1)):
        pin(0)
        figures[f"roundtrip_{placement}_us"] = round_trip(ctx, child_cpu, args.trips)
        figures[f"queue_{placement}_per_s"] = queue_rate(ctx, child_cpu, args.items)
        figures[f"big_{placement}_gb_s"] = big_rate(ctx, child_cpu, args.big)
    os.sched_setaffinity(0, range(os.cpu_count()))
    for n in sizes:
        figures[f"sweep_{n}_per_s"] = sweep_rate(ctx, n, args.sweep_items)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    sys.exit(main())
