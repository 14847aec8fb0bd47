"""The layout of the hourly vectors the anomaly jobs compare: one column per hour of the day, h00 … h23.

The rules over these vectors (Canberra distance, the volume rule, the
moving average) are Spark column expressions in batch/expressions.py; the
tests hold them to tests/oracle.py.
"""

from __future__ import annotations

HOURS_PER_DAY = 24


def hour_column(hour: int) -> str:
    """Name of the column holding hour ``hour`` of the day in wide tables: ``h00`` … ``h23``."""
    if not 0 <= hour < HOURS_PER_DAY:
        raise ValueError(f"hour must be 0..23, got {hour}")
    return f"h{hour:02d}"


HOUR_COLUMNS = [hour_column(hour) for hour in range(HOURS_PER_DAY)]
