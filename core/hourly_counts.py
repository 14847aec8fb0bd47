"""The hourly counts file: one hour's views per article as Parquet (columns project, title, views).

Written by the streaming job at the end of each hour and by the producer's
history mode (``--format counts``); read by the batch jobs. Rows are sorted,
so the same hour always gives the same bytes.
"""

from __future__ import annotations

import io
from typing import NamedTuple


class HourlyRow(NamedTuple):
    project: str
    title: str
    views: int


def hourly_counts_parquet(rows: list[HourlyRow]) -> bytes:
    """One hour's counts as Parquet bytes, rows sorted so that the same hour gives the same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    ordered = sorted(rows)
    table = pa.table(
        {
            "project": pa.array([r.project for r in ordered], pa.string()),
            "title": pa.array([r.title for r in ordered], pa.string()),
            "views": pa.array([int(r.views) for r in ordered], pa.int64()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    return buffer.getvalue()
