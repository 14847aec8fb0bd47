"""The hourly counts file: one hour's views per article as Parquet (columns project, title, views).

Written by the streaming job at the end of each hour and by the producer's
history mode (``--format counts``); read by the batch jobs and, one article at a
time, by the site (stores/hourly_views.py). Rows are sorted, so the same hour
always gives the same bytes, and written in row groups of
``HOURLY_ROW_GROUP_ROWS`` rows whose min/max statistics say which one holds an
article: the site reads that row group, not the file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import NamedTuple

# Rows per row group: one article's lookup reads one group (~170 KB), and an hour of a large wiki's
# millions of articles keeps a footer of a few hundred groups' statistics.
HOURLY_ROW_GROUP_ROWS = 8192


# The columns of an hour's views of known access (files written before them lack them).
DESKTOP_VIEWS, MOBILE_VIEWS = "desktop_views", "mobile_views"
ACCESS_COLUMNS = (DESKTOP_VIEWS, MOBILE_VIEWS)


class HourlyRow(NamedTuple):
    project: str
    title: str
    views: int
    desktop: int = 0  # views whose access is known to be the desktop site
    mobile: int = 0  # ... the mobile site (web or app)


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
            DESKTOP_VIEWS: pa.array([int(r.desktop) for r in ordered], pa.int64()),
            MOBILE_VIEWS: pa.array([int(r.mobile) for r in ordered], pa.int64()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy", row_group_size=HOURLY_ROW_GROUP_ROWS)
    return buffer.getvalue()


class RowGroupRange(NamedTuple):
    """The first and last (project, title) of one row group, from its column statistics."""

    first: tuple[str, str]
    last: tuple[str, str]


def row_group_ranges(metadata) -> list[RowGroupRange | None]:
    """Each row group's key range from a file's ``pyarrow.parquet.FileMetaData`` (None: no statistics)."""
    names = [metadata.schema.column(i).name for i in range(metadata.num_columns)]
    project_at, title_at = names.index("project"), names.index("title")
    ranges: list[RowGroupRange | None] = []
    for group in range(metadata.num_row_groups):
        project = metadata.row_group(group).column(project_at).statistics
        title = metadata.row_group(group).column(title_at).statistics
        if project is None or title is None or not (project.has_min_max and title.has_min_max):
            ranges.append(None)
        elif project.min != project.max:
            # Spans two wikis: the title statistics mix both, so the group may hold any title of either.
            ranges.append(RowGroupRange((project.min, ""), (project.max, "\U0010ffff")))
        else:
            ranges.append(RowGroupRange((project.min, title.min), (project.max, title.max)))
    return ranges


def row_groups_holding(ranges: Sequence[RowGroupRange | None], project: str, title: str) -> list[int]:
    """The row groups that may hold ``(project, title)``: those whose range covers it, and any without
    statistics (a file written by another tool is read whole rather than misread)."""
    key = (project, title)
    return [i for i, r in enumerate(ranges) if r is None or r.first <= key <= r.last]
