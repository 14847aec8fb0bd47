"""History mode: months of hourly counts in the Wikimedia dump format, for the batch backfill.

The counts come from the same catalogue, daily curve and scenarios as the
event stream (producer.world.hourly_views), so history and live traffic
describe one world. Files go to a local folder or to ``s3://bucket/prefix``.
"""

from __future__ import annotations

import gzip
import logging
from datetime import UTC, datetime

import numpy as np

from core import clickstream
from core.config import Settings
from core.contracts import hourly_counts_relative_path
from core.dumps import FileTime, domain_code_of, dump_file_name, format_dump_line
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from producer.clickstream_world import synthetic_clickstream
from producer.sink import Progress, StopFlag
from producer.storage import write_bytes
from producer.world import HOUR_MS, Catalogue, Scenario, hourly_views

log = logging.getLogger("producer.history")


def dump_text(catalogue: Catalogue, views: np.ndarray) -> str:
    """The dump file's text for one hour: a line per article with at least one view, by rank."""
    code = domain_code_of(catalogue.project)
    title = catalogue.title
    return "".join(format_dump_line(code, title(rank), int(views[rank])) for rank in np.flatnonzero(views))


def counts_rows(catalogue: Catalogue, views: np.ndarray) -> list[HourlyRow]:
    """The hour's hourly-counts rows: one per article with at least one view."""
    title = catalogue.title
    return [HourlyRow(catalogue.project, title(rank), int(views[rank])) for rank in np.flatnonzero(views)]


def write_history(
    catalogue: Catalogue,
    seed: int,
    views_per_minute: float,
    first_hour_ms: int,
    hours: int,
    scenarios: tuple[Scenario, ...],
    destination: str,
    file_time: FileTime,
    settings: Settings,
    stop: StopFlag,
    file_format: str = "dumps",
    top_ranks: int = 0,
) -> int:
    """Write ``hours`` hourly files from ``first_hour_ms``; returns how many were written.

    ``dumps`` writes Wikimedia dump files; ``counts`` writes the hourly counts
    the streaming job would have written for the same traffic. ``top_ranks``
    keeps only the most popular articles (0: all).
    """
    progress = Progress("history hours written", total=hours)
    written = 0
    for index in range(hours):
        if stop.is_set():
            log.warning("stopped by %s after %d of %d hours", stop.reason, written, hours)
            break
        hour_ms = first_hour_ms + index * HOUR_MS
        views = hourly_views(catalogue, hour_ms, views_per_minute, seed, scenarios)
        if top_ranks:
            views = views[:top_ranks]  # index = rank: the most popular first
        if file_format == "counts":
            name = hourly_counts_relative_path(hour_ms)
            payload = hourly_counts_parquet(counts_rows(catalogue, views))
        else:
            name = dump_file_name(datetime.fromtimestamp(hour_ms / 1000, tz=UTC), file_time)
            payload = gzip.compress(dump_text(catalogue, views).encode("utf-8"), compresslevel=1)
        write_bytes(f"{destination.rstrip('/')}/{name}", payload, settings)
        written += 1
        progress.update(written, detail=name)
    progress.update(written, force=True)
    return written


def write_clickstream(
    catalogue: Catalogue,
    seed: int,
    views_per_minute: float,
    top_ranks: int,
    month: str,
    destination: str,
    settings: Settings,
) -> int:
    """Write one month of the world's clickstream as a dump file in ``destination``; how many lines."""
    wiki = clickstream.wiki_of_project(catalogue.project)
    if wiki is None:
        raise ValueError(f"{catalogue.project} is not a Wikipedia: Wikimedia publishes clickstream for those")
    clickstream.check_month(month)
    lines = [
        "\t".join((prev, curr, line_type, str(n)))
        for prev, curr, line_type, n in synthetic_clickstream(catalogue, views_per_minute, top_ranks, seed)
    ]
    payload = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), compresslevel=1)
    write_bytes(f"{destination.rstrip('/')}/{clickstream.dump_file_name(wiki, month)}", payload, settings)
    return len(lines)
