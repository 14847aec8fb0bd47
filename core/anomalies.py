"""Anomaly rules: Canberra distance, the minimum-volume rule and the cumulative moving average.

Pure functions on plain numbers. The Spark jobs build the same arithmetic as
column expressions (batch/expressions.py); the unit tests hold both to these.

Why a volume rule: the Canberra distance is scale-free, so a page averaging
0.2 views an hour that gets none today scores as high as a real outage. An
article is *eligible* only when, over the hours compared, it averages at
least ``min_hourly_views`` views an hour today or in its history. Any
article that passes has at least one hour with that many views on the side
that passes, which is what lets the Spark job prune before it joins.
"""

from __future__ import annotations

from collections.abc import Sequence

HOURS_PER_DAY = 24


def hour_column(hour: int) -> str:
    """Name of the column holding hour ``hour`` of the day in wide tables: ``h00`` … ``h23``."""
    if not 0 <= hour < HOURS_PER_DAY:
        raise ValueError(f"hour must be 0..23, got {hour}")
    return f"h{hour:02d}"


HOUR_COLUMNS = [hour_column(hour) for hour in range(HOURS_PER_DAY)]


def _padded(values: Sequence[float], length: int) -> list[float]:
    return [float(v) for v in values] + [0.0] * (length - len(values))


def canberra_distance(today: Sequence[float], history: Sequence[float]) -> float:
    """Sum over hours of |x - y| / (|x| + |y|); a 0/0 term is 0; an hour missing on one side is 0."""
    length = max(len(today), len(history))
    total = 0.0
    for x, y in zip(_padded(today, length), _padded(history, length), strict=True):
        denominator = abs(x) + abs(y)
        if denominator:
            total += abs(x - y) / denominator
    return total


def is_eligible(today: Sequence[float], history: Sequence[float], min_hourly_views: float) -> bool:
    """The volume rule: today or the history averages ``min_hourly_views`` an hour over the hours compared."""
    hours = max(len(today), len(history), 1)
    return max(sum(today), sum(history)) >= min_hourly_views * hours


def fold_day(average: float, days: int, views: float) -> float:
    """Cumulative moving average: avg + (x - avg) / (n + 1), the mean of n + 1 days."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return average + (views - average) / (days + 1)


def rank_key(distance: float, project: str, title: str) -> tuple[float, str, str]:
    """Order of the anomaly list: largest distance first, then by project and title so ties are stable."""
    return (-distance, project, title)
