"""What the Python halves of the benchmarks share."""

import math


def quantile(sorted_values, q):
    """Linear interpolation between closest ranks (numpy's default); the Rust side uses
    the same rule, so q=0.5 is the usual median (the mean of the two middle values)."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac
