"""Replay of Wikimedia hourly pageview dumps: each line's views spread over its hour, in time order.

Filters (both on by default, documented in the README):
  * project: only lines whose domain code maps to one of ``projects``
    (``en`` and ``en.m`` are both ``en.wikipedia``); empty means every project;
  * articles only: drops the main page, ``-`` and pages in a namespace such as
    ``Special:``, ``User:``, ``Talk:`` or ``File:`` (core.articles.is_article).
Malformed lines (wrong field count, non-numeric count, title not UTF-8,
unknown domain code) are counted, the first few logged, and skipped.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from core.articles import is_article
from core.config import Settings
from core.dumps import (
    FileTime,
    MalformedLine,
    access_of,
    decode_title,
    dump_hour_start,
    parse_dump_line,
    project_of,
)
from core.events import encode_page_request
from core.settings import ArticleSettings
from producer.sink import PageRequestSink, Progress, StopFlag
from producer.storage import read_text_lines
from producer.world import HOUR_MS

log = logging.getLogger("producer.replay")
MALFORMED_SAMPLES = 5
CHUNK = 4096


@dataclass
class HourOfViews:
    """The pages of one dump file that pass the filters, with their views."""

    hour_start_ms: int
    projects: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    views: list[int] = field(default_factory=list)
    access: list[str] = field(default_factory=list)  # the site of each line's views (core/dumps.access_of)


@dataclass
class ReplayStats:
    lines: int = 0
    malformed: int = 0
    filtered_project: int = 0
    filtered_non_article: int = 0
    events: int = 0


def read_hour(
    lines,
    hour_start_ms: int,
    projects: frozenset[str],
    articles: ArticleSettings | None,
    stats: ReplayStats,
    source: str,
) -> HourOfViews:
    """Parse and filter one dump file's lines; ``articles``: keep only articles by that rule (None: all)."""
    hour = HourOfViews(hour_start_ms)
    for number, line in enumerate(lines, start=1):
        stats.lines += 1
        try:
            record = parse_dump_line(line)
            project = project_of(record.domain_code)
            title = decode_title(record.title)
        except MalformedLine as error:
            stats.malformed += 1
            if stats.malformed <= MALFORMED_SAMPLES:
                log.warning("skipping malformed line %s:%d (%s): %r", source, number, error, line[:200])
            continue
        if projects and project not in projects:
            stats.filtered_project += 1
            continue
        if articles is not None and not is_article(title, articles):
            stats.filtered_non_article += 1
            continue
        if record.views:
            hour.projects.append(project)
            hour.titles.append(title)
            hour.views.append(record.views)
            hour.access.append(access_of(record.domain_code))
    return hour


def spread_over_hour(views: list[int], hour_start_ms: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One event per view, at a seeded random time inside the hour: (page index, ts), by time."""
    rng = np.random.Generator(np.random.PCG64([seed, hour_start_ms // HOUR_MS, 2]))
    pages = np.repeat(np.arange(len(views), dtype=np.int64), np.asarray(views, dtype=np.int64))
    timestamps = hour_start_ms + rng.integers(0, HOUR_MS, pages.size, dtype=np.int64)
    order = np.argsort(timestamps, kind="stable")
    return pages[order], timestamps[order]


def encoded_pages(hour: HourOfViews) -> list[tuple[bytes, str, str, str]]:
    """Each line's Kafka key (its UTF-8 title), project, title and access, by line index."""
    return [
        (title.encode("utf-8"), project, title, access)
        for project, title, access in zip(hour.projects, hour.titles, hour.access, strict=True)
    ]


def page_requests(
    encoded: list[tuple[bytes, str, str, str]], pages: list[int], timestamps: list[int]
) -> tuple[list[bytes], list[bytes]]:
    """The keys and values of the page requests for these (line index, time) pairs."""
    keys, values = [], []
    for page, ts in zip(pages, timestamps, strict=True):
        key, project, title, access = encoded[page]
        keys.append(key)
        values.append(encode_page_request(ts, project, title, access))
    return keys, values


def replay(
    files: list[str],
    sink: PageRequestSink,
    settings: Settings,
    projects: frozenset[str],
    articles_only: bool,
    speedup: float,
    seed: int,
    file_time: FileTime,
    stop: StopFlag,
) -> ReplayStats:
    """Send every file's views as page requests, hour after hour, paced by ``speedup`` (0 = no pacing)."""
    stats = ReplayStats()
    progress = Progress("replayed events sent")
    hours = sorted((int(dump_hour_start(name, file_time).timestamp() * 1000), name) for name in files)
    if not hours:
        return stats
    sim_start, wall_start = hours[0][0], time.monotonic()
    for hour_start_ms, name in hours:
        with read_text_lines(name, settings) as lines:
            hour = read_hour(
                lines, hour_start_ms, projects, settings.articles if articles_only else None, stats, name
            )
        pages, timestamps = spread_over_hour(hour.views, hour_start_ms, seed)
        encoded = encoded_pages(hour)
        log.info("%s: %d pages, %d events for %s", name, len(hour.titles), pages.size, _iso(hour_start_ms))
        for begin in range(0, pages.size, CHUNK):
            if stop.is_set():
                log.warning("stopped by %s", stop.reason)
                return stats
            chunk_pages = pages[begin : begin + CHUNK].tolist()
            chunk_ts = timestamps[begin : begin + CHUNK].tolist()
            if speedup > 0:
                delay = wall_start + (chunk_ts[0] - sim_start) / 1000 / speedup - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            keys, values = page_requests(encoded, chunk_pages, chunk_ts)
            sink.send_many(keys, values)
            stats.events += len(keys)
            progress.update(stats.events, detail=f"hour {_iso(hour_start_ms)}")
    return stats


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(epoch_ms / 1000))
