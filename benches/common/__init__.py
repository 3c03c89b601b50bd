"""What the Python halves of the benchmarks share (`from common.bench_common import ...`)."""
