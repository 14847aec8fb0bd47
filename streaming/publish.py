"""The streaming job's Python operators: publish each minute's trending list and each hour's counts.

Both are keyed process functions that gather the rows of one minute (or
hour) in Flink state and publish them when event time passes it, so a
restart from a checkpoint neither loses nor half-publishes a list. Both
writes are idempotent: the same minute or hour always gives the same
document, so at-least-once delivery after a restart is exactly-once in effect.
"""

from __future__ import annotations

import json
import logging
import time
from typing import NamedTuple

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor

from core.clients import redis_client, s3_client
from core.config import Settings
from core.contracts import hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import SnapshotWriter, TrendingArticle, TrendingSnapshot
from core.trending import hour_window_ends

log = logging.getLogger("streaming.publish")

# State holds plain Python tuples (pickled): the rows' shape is defined here, not twice.
PICKLED = Types.PICKLED_BYTE_ARRAY()


class TrendingRow(NamedTuple):
    """One row of streaming/sql.py trending_query (rank 0 is the minute's marker, no article)."""

    rank: int
    project: str | None
    title: str | None
    counts: tuple[int, ...]
    score: float

    @classmethod
    def of(cls, row: Row) -> TrendingRow:
        counts = (row.c1, row.c2, row.c3, row.c4, row.c5, row.c6)
        return cls(
            int(row.trend_rank), row.project, row.title, tuple(int(c) for c in counts), float(row.score)
        )


def trending_snapshot(
    minute_ms: int, rows: list[TrendingRow], min_volume: int, computed_at: int
) -> TrendingSnapshot:
    """The minute's snapshot from its rows, best first; the marker row carries no article."""
    articles = [
        TrendingArticle(
            rank=row.rank,
            project=row.project,
            title=row.title,
            counts=list(row.counts),
            window_ends=hour_window_ends(minute_ms),
            score=round(row.score, 6),
        )  # fmt: skip
        for row in sorted(rows)
        if row.rank > 0
    ]
    return TrendingSnapshot(
        minute=minute_ms, computed_at=computed_at, min_volume=min_volume, articles=articles
    )


class GatherThenPublish(KeyedProcessFunction):
    """Keyed by a minute or an hour: keeps its rows in Flink state, publishes them when event time passes.

    All rows of a key carry the same row time, and upstream emits them before
    the watermark that passes it, so the timer fires once every row is in.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        self.rows = runtime_context.get_list_state(ListStateDescriptor("rows", PICKLED))
        self.connect(runtime_context)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        self.rows.add(self.row_of(value))
        ctx.timer_service().register_event_time_timer(ctx.timestamp())
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        self.publish(ctx.get_current_key(), list(self.rows.get() or []))
        self.rows.clear()
        return iter(())

    def connect(self, runtime_context: RuntimeContext) -> None:
        raise NotImplementedError

    def row_of(self, value: Row):
        raise NotImplementedError

    def publish(self, key: int, rows: list) -> None:
        raise NotImplementedError


class PublishTrending(GatherThenPublish):
    """Keyed by minute: writes the minute's trending list to Redis atomically."""

    def connect(self, runtime_context: RuntimeContext) -> None:
        self.writer = SnapshotWriter(redis_client(self.settings), self.settings.redis)
        group = runtime_context.get_metrics_group()
        self.lists_written = group.counter("trending_lists_written")
        self.articles_written = group.counter("trending_articles_written")

    def row_of(self, value: Row) -> TrendingRow:
        return TrendingRow.of(value)

    def publish(self, key: int, rows: list) -> None:
        min_volume = self.settings.streaming.trending_min_volume
        snapshot = trending_snapshot(key, rows, min_volume, int(time.time() * 1000))
        self._publish(snapshot)
        self.lists_written.inc()
        self.articles_written.inc(len(snapshot.articles))

    def _publish(self, snapshot: TrendingSnapshot) -> None:
        import redis

        delay = 1.0
        while True:  # Redis down: wait for it rather than drop the minute (back-pressure, not loss)
            try:
                self.writer.write_trending(snapshot, self.settings.streaming.trending_retention_minutes)
                return
            except redis.ConnectionError as error:
                log.warning(
                    "Redis unreachable (%s); retrying minute %d in %.0f s", error, snapshot.minute, delay
                )
                time.sleep(delay)
                delay = min(delay * 2, 30)


def hourly_rows(blocks: list[str]) -> list[HourlyRow]:
    """An hour's rows from its blocks of comma-separated ``["project","title",views]`` arrays (sql.py)."""
    return [HourlyRow(*row) for block in blocks for row in json.loads(f"[{block}]")]


class PublishHourlyCounts(GatherThenPublish):
    """Keyed by hour: writes every article's views of the hour as one Parquet object to S3."""

    def connect(self, runtime_context: RuntimeContext) -> None:
        self.client = s3_client(self.settings)
        self.hours_written = runtime_context.get_metrics_group().counter("hourly_files_written")

    def row_of(self, value: Row) -> str:
        return value.lines

    def publish(self, hour_start_ms: int, blocks: list) -> None:
        key = hourly_counts_key(self.settings.s3, hour_start_ms)
        rows = hourly_rows(blocks)
        payload = hourly_counts_parquet(rows)
        delay = 1.0
        while True:  # S3 down: wait for it rather than lose the hour
            try:
                self.client.put_object(Bucket=self.settings.s3.bucket, Key=key, Body=payload)
                break
            except Exception as error:  # botocore raises many types for an endpoint that is down
                log.warning("S3 write of %s failed (%s); retrying in %.0f s", key, error, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30)
        log.info("wrote %d articles' hourly counts to s3://%s/%s", len(rows), self.settings.s3.bucket, key)
        self.hours_written.inc()
