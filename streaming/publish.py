"""The streaming job's Python operators: publish each minute's trending list and each hour's counts.

Both are keyed process functions that gather the rows of one minute (or
hour) in Flink state and publish them when event time passes it, so a
restart from a checkpoint neither loses nor half-publishes a list. Both
writes are idempotent: the same minute or hour always gives the same
document, so at-least-once delivery after a restart is exactly-once in effect.

A publication that fails because Redis or S3 is unreachable keeps its rows in
state and is retried by a processing-time timer. The operator never sleeps
waiting for a service: checkpoints keep completing through an outage of any
length (a blocked operator holds every checkpoint until it expires and fails
the job). Each subtask makes one attempt per pause, however many minutes are
pending, with growing pauses; once an attempt succeeds, everything pending
is published.
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
from core.trending import Hour, TrendingRule, ranked
from core.windows import hour_window_ends, iso_time

log = logging.getLogger("streaming.publish")

# State holds plain Python tuples (pickled): the rows' shape is defined here, not twice.
PICKLED = Types.PICKLED_BYTE_ARRAY()
# Pauses between attempts to publish while a service is unreachable: 1, 2, 4, 8, then every 15 s,
# so a returning service is used within 15 s and a long outage costs four attempts a minute.
RETRY_FIRST_SECONDS = 1
RETRY_MAX_SECONDS = 15
# While a publication keeps failing, its warning is repeated every this many attempts (~5 min).
RETRY_LOG_EVERY = 20


def retry_delay_seconds(failures: int) -> int:
    """The pause before the next attempt after ``failures`` failed ones in a row (``failures`` >= 1)."""
    return min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)


class HourRow(NamedTuple):
    """A candidate's hour, or its wiki's (title None)."""

    project: str
    title: str | None
    hour: Hour


def hour_rows(kind: str, lines: str) -> list[HourRow]:
    """The hours in one row of streaming/sql.py trending_query: a block of candidates' JSON arrays
    ``["project","title",c1,...,c6,earlier]`` (kind 'articles') or a wiki's
    ``["project",s1,...,s6,earlier]`` ('site')."""
    if kind == "site":
        project, *counts, earlier = json.loads(lines)
        return [HourRow(project, None, Hour(tuple(counts), earlier))]
    return [
        HourRow(project, title, Hour(tuple(counts), earlier))
        for project, title, *counts, earlier in json.loads(f"[{lines}]")
    ]


def trending_snapshot(
    minute_ms: int, rows: list[HourRow], rule: TrendingRule, top: int, computed_at: int
) -> TrendingSnapshot:
    """The minute's list: the candidates judged against their wikis' hours (core/trending.py), best first."""
    site_hours = {row.project: row.hour for row in rows if row.title is None}
    candidates = [(row.project, row.title, row.hour) for row in rows if row.title is not None]
    window_ends = hour_window_ends(minute_ms)
    articles = [
        TrendingArticle(
            rank=rank,
            project=item.project,
            title=item.title,
            counts=list(item.counts),
            window_ends=window_ends,
            score=round(item.verdict.score, 6),
            expected=[round(e, 2) for e in item.verdict.expected],
            growth=round(item.verdict.growth, 4),
            z=round(item.verdict.z, 6),
        )
        for rank, item in enumerate(ranked(candidates, site_hours, rule, top), start=1)
    ]
    return TrendingSnapshot(
        minute=minute_ms,
        computed_at=computed_at,
        min_volume=rule.min_volume,
        articles=articles,
        rule=rule.name,
        min_z=rule.min_z,
        min_growth=rule.min_growth,
        candidates=len(candidates),
    )


class GatherThenPublish(KeyedProcessFunction):
    """Keyed by a minute or an hour: keeps its rows in Flink state, publishes them when event time passes.

    All rows of a key carry the same row time, and upstream emits them before
    the watermark that passes it, so the event-time timer fires once every
    row is in. If the service is unreachable, the rows stay and a
    processing-time timer tries again (module docstring).
    """

    # What a subclass's publish raises when its service cannot be reached (retried, not fatal).
    unreachable: tuple[type[BaseException], ...] = ()
    service = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        self.rows = runtime_context.get_list_state(ListStateDescriptor("rows", PICKLED))
        self.retries = runtime_context.get_metrics_group().counter("publish_retries")
        # The subtask's view of its service, shared by every pending key (not state: a restarted
        # subtask simply tries again).
        self.failures = 0
        self.next_attempt_ms = 0
        self.connect(runtime_context)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        self.rows.add(self.row_of(value))
        ctx.timer_service().register_event_time_timer(ctx.timestamp())
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        timers = ctx.timer_service()
        if timers.current_processing_time() < self.next_attempt_ms:
            # The service failed moments ago: wait for the subtask's next attempt.
            timers.register_processing_time_timer(self.next_attempt_ms)
            return iter(())
        key = ctx.get_current_key()
        try:
            self.publish(key, list(self.rows.get() or []))
        except self.unreachable as error:
            self.failures += 1
            self.retries.inc()
            self.next_attempt_ms = (
                timers.current_processing_time() + retry_delay_seconds(self.failures) * 1000
            )
            if self.failures == 1 or self.failures % RETRY_LOG_EVERY == 0:
                log.warning(
                    "%s unreachable (%s): %s and what follows stay in state; attempt %d failed, "
                    "retrying every %d s at most",
                    self.service,
                    error,
                    self.describe(key),
                    self.failures,
                    RETRY_MAX_SECONDS,
                )
            timers.register_processing_time_timer(self.next_attempt_ms)
            return iter(())
        if self.failures:
            log.info(
                "%s is back after %d failed attempts: publishing what was held, from %s",
                self.service,
                self.failures,
                self.describe(key),
            )
            self.failures, self.next_attempt_ms = 0, 0
        self.rows.clear()
        return iter(())

    def connect(self, runtime_context: RuntimeContext) -> None:
        raise NotImplementedError

    def row_of(self, value: Row):
        raise NotImplementedError

    def publish(self, key: int, rows: list) -> None:
        """Write the key's document; raise one of ``unreachable`` if the service cannot be reached."""
        raise NotImplementedError

    def describe(self, key: int) -> str:
        raise NotImplementedError


class PublishTrending(GatherThenPublish):
    """Keyed by minute: judges the minute's candidates and writes its trending list to Redis atomically."""

    service = "Redis"

    def connect(self, runtime_context: RuntimeContext) -> None:
        import redis

        self.unreachable = (redis.ConnectionError, redis.TimeoutError)
        self.writer = SnapshotWriter(redis_client(self.settings, attempts=1), self.settings.redis)
        group = runtime_context.get_metrics_group()
        self.lists_written = group.counter("trending_lists_written")
        self.articles_written = group.counter("trending_articles_written")

    def row_of(self, value: Row) -> tuple[str, str]:
        return (value.kind, value.lines)

    def publish(self, key: int, blocks: list) -> None:
        s = self.settings.streaming
        rows = [row for kind, lines in blocks for row in hour_rows(kind, lines)]
        snapshot = trending_snapshot(key, rows, s.rule, s.trending_top, int(time.time() * 1000))
        self.writer.write_trending(snapshot, self.settings.streaming.trending_retention_minutes)
        self.lists_written.inc()
        self.articles_written.inc(len(snapshot.articles))

    def describe(self, minute_ms: int) -> str:
        return f"the trending list of minute {iso_time(minute_ms)}"


def hourly_rows(blocks: list[str]) -> list[HourlyRow]:
    """An hour's rows from its blocks of comma-separated ``["project","title",views]`` arrays (sql.py)."""
    return [HourlyRow(*row) for block in blocks for row in json.loads(f"[{block}]")]


class PublishHourlyCounts(GatherThenPublish):
    """Keyed by hour: writes every article's views of the hour as one Parquet object to S3."""

    service = "S3"

    def connect(self, runtime_context: RuntimeContext) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        # ClientError too: a starting server answers 503, and wrong keys should be fixable live.
        self.unreachable = (BotoCoreError, ClientError)
        self.client = s3_client(self.settings, attempts=1)
        self.hours_written = runtime_context.get_metrics_group().counter("hourly_files_written")
        # The hour S3 refused, as (hour start, articles, Parquet bytes): its retries send the same
        # bytes instead of building an hour of millions of rows again every few seconds.
        self.unsent: tuple[int, int, bytes] | None = None

    def row_of(self, value: Row) -> str:
        return value.lines

    def publish(self, hour_start_ms: int, blocks: list) -> None:
        if self.unsent is None or self.unsent[0] != hour_start_ms:
            rows = hourly_rows(blocks)
            self.unsent = (hour_start_ms, len(rows), hourly_counts_parquet(rows))
        _, articles, payload = self.unsent
        key = hourly_counts_key(self.settings.s3, hour_start_ms)
        self.client.put_object(Bucket=self.settings.s3.bucket, Key=key, Body=payload)
        self.unsent = None
        log.info("wrote %d articles' hourly counts to s3://%s/%s", articles, self.settings.s3.bucket, key)
        self.hours_written.inc()

    def describe(self, hour_start_ms: int) -> str:
        return f"the hourly counts of {iso_time(hour_start_ms)}"
