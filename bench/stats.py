"""Medians, quantiles and the confidence interval of a median."""
import math
import statistics


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def quantile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def median_ci(xs, conf=0.95):
    """Distribution-free confidence interval of the median (order statistics
    of the binomial): None below 6 values."""
    xs = sorted(xs)
    n = len(xs)
    if n < 6:
        return None
    tail, k = 0.0, 0
    while True:
        p = math.comb(n, k) / 2.0 ** n
        if tail + p > (1 - conf) / 2:
            break
        tail += p
        k += 1
    if k == 0:
        return None
    return xs[k - 1], xs[n - k]


def g(d, *keys):
    """d[k1][k2]..., or None where a level is missing."""
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d
