"""How sure a share is: the 95% Wilson score interval of matches out of total, per row of a trend.

A share from a month of 13 papers and one from a month of 1,300 look alike on a line; the interval
tells them apart (wide for the small month). Wilson rather than the normal approximation because
it stays inside [0, 1] and is honest at 0 and at small totals, where trend charts are most misread.
"""

from __future__ import annotations

import polars as pl

Z95 = 1.959963984540054


def wilson_interval(matches: pl.Expr, total: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """(low, high) expressions of the Wilson score interval; null where total is 0 or null."""
    n = total.cast(pl.Float64)
    p = matches.cast(pl.Float64) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)).sqrt()) / (1 + z * z / n)
    valid = n > 0
    low = pl.when(valid).then((centre - half).clip(0.0, 1.0)).otherwise(None)
    high = pl.when(valid).then((centre + half).clip(0.0, 1.0)).otherwise(None)
    return low, high


def with_share_interval(trend: pl.DataFrame, z: float = Z95) -> pl.DataFrame:
    """`trend` (matches, total per row) with share_low and share_high, the 95% interval of share."""
    low, high = wilson_interval(pl.col("matches"), pl.col("total"), z)
    return trend.with_columns(share_low=low, share_high=high)


# Below this many papers a period's share is marked as a small sample on charts: its 95% interval
# is wider than about +-10 points whatever the share.
SMALL_SAMPLE = 100
