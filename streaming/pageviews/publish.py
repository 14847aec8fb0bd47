"""The page-view job's Python operators: publish each minute's trending list and each hour's counts.

Both gather their minute's (or hour's) rows in Flink state and publish them
when event time passes it (streaming/gather.py): the trending list to Redis,
the hour's counts to S3, each write idempotent and retried while its service
is unreachable.
"""

from __future__ import annotations

import json
import logging
import time
from typing import NamedTuple

from pyflink.common import Row
from pyflink.datastream import RuntimeContext

from core.automated import AccessRule, mobile_share, trending_lists
from core.contracts import hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import TrendingArticle, TrendingSnapshot
from core.trending import Hour, Ranked, TrendingRule
from core.windows import hour_window_ends, iso_time
from stores.clients import redis_client, s3_client
from stores.snapshots import SnapshotWriter
from streaming.gather import GatherThenPublish

log = logging.getLogger("streaming.pageviews.publish")


class HourRow(NamedTuple):
    """A candidate's hour, or its wiki's (title None)."""

    project: str
    title: str | None
    hour: Hour


def hour_rows(kind: str, lines: str) -> list[HourRow]:
    """The hours in one row of streaming/pageviews/sql.py trending_query: a block of candidates' JSON arrays
    ``["project","title",c1,...,c6,earlier,desktop,mobile]`` (kind 'articles') or a wiki's
    ``["project",s1,...,s6,earlier,desktop,mobile]`` ('site')."""
    if kind == "site":
        project, *counts, earlier, desktop, mobile = json.loads(lines)
        return [HourRow(project, None, Hour(tuple(counts), earlier, desktop, mobile))]
    return [
        HourRow(project, title, Hour(tuple(counts), earlier, desktop, mobile))
        for project, title, *counts, earlier, desktop, mobile in json.loads(f"[{lines}]")
    ]


def trending_snapshot(
    minute_ms: int, rows: list[HourRow], rule: TrendingRule, access: AccessRule, top: int, computed_at: int
) -> TrendingSnapshot:
    """The minute's list: the candidates judged against their wikis' hours (core/trending.py), best first,
    and apart from it the trending articles likely automated (core/automated.py)."""
    site_hours = {row.project: row.hour for row in rows if row.title is None}
    candidates = [(row.project, row.title, row.hour) for row in rows if row.title is not None]
    window_ends = hour_window_ends(minute_ms)
    listed, automated = trending_lists(candidates, site_hours, rule, access, top)
    flagged = {(item.project, item.title) for item in automated}

    def article(rank: int, item: Ranked) -> TrendingArticle:
        share = mobile_share(item.desktop, item.mobile)
        return TrendingArticle(
            rank=rank,
            project=item.project,
            title=item.title,
            counts=list(item.counts),
            window_ends=window_ends,
            score=round(item.verdict.score, 6),
            expected=[round(e, 2) for e in item.verdict.expected],
            growth=round(item.verdict.growth, 4),
            z=round(item.verdict.z, 6),
            mobile_share=None if share is None else round(share, 4),
            likely_automated=(item.project, item.title) in flagged,
        )

    return TrendingSnapshot(
        minute=minute_ms,
        computed_at=computed_at,
        min_volume=rule.min_volume,
        articles=[article(rank, item) for rank, item in enumerate(listed, start=1)],
        rule=rule.name,
        min_z=rule.min_z,
        min_growth=rule.min_growth,
        candidates=len(candidates),
        automated=[article(rank, item) for rank, item in enumerate(automated, start=1)],
    )


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

    def publish(self, key: int, blocks: list) -> list[tuple[int, TrendingArticle]]:
        """Writes the minute's list; its articles go on downstream (watch-list alerts, traffic.py)."""
        s = self.settings.streaming
        rows = [row for kind, lines in blocks for row in hour_rows(kind, lines)]
        snapshot = trending_snapshot(
            key, rows, s.rule, s.access_rule, s.trending_top, int(time.time() * 1000)
        )
        self.writer.write_trending(snapshot, self.settings.streaming.trending_retention_minutes)
        self.lists_written.inc()
        self.articles_written.inc(len(snapshot.articles))
        return [(snapshot.minute, article) for article in snapshot.articles]

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
