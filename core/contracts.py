"""Names and layouts that several parts of the system rely on.

Topic names, Redis keys and S3 paths are built here from the configuration and
nowhere else, so that changing one is a change in one place.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime

from core.settings import KafkaSettings, RedisSettings, S3Settings
from core.windows import WINDOW_TOPIC_COUNT

# The Airflow DAGs of the batch jobs (deploy/airflow), as the local set-up and the tests name them too.
HOURLY_DAG_ID = "wikitrends_hourly_anomalies"
DAILY_DAG_ID = "wikitrends_daily_averages"
CLICKSTREAM_DAG_ID = "wikitrends_monthly_clickstream"
BOTS_DAG_ID = "wikitrends_bot_detector"
# Where Wikimedia's monthly clickstream dumps are copied to, under the bucket, unless
# WIKITRENDS_CLICKSTREAM_DUMPS says otherwise (deploy/cron, deploy/airflow, make run's month).
CLICKSTREAM_DUMPS_PREFIX = "clickstream-dumps"
# The URI schemes of S3 locations: Flink's S3 plugins (s3, s3p) and Hadoop's (s3a).
S3_SCHEMES = ("s3", "s3p", "s3a")


def s3_location(uri: str) -> tuple[str, str] | None:
    """(bucket, key prefix without a trailing slash) of an S3 URI; None for any other location."""
    parsed = urllib.parse.urlparse(uri)
    return (parsed.netloc, parsed.path.strip("/")) if parsed.scheme in S3_SCHEMES else None


def windows_topic(kafka: KafkaSettings, digit: int) -> str:
    """The topic holding windows whose start minute ends in ``digit``."""
    if not 0 <= digit < WINDOW_TOPIC_COUNT:
        raise ValueError(f"window topic digit must be 0..9, got {digit}")
    return f"{kafka.windows_topic_prefix}{digit}"


def windows_topics(kafka: KafkaSettings) -> list[str]:
    """All ten window topics, digit 0 first."""
    return [windows_topic(kafka, digit) for digit in range(WINDOW_TOPIC_COUNT)]


def edit_topics(kafka: KafkaSettings) -> list[str]:
    """The edit side's topics: raw edit events, the alerts and the edits' dead letters."""
    return [kafka.edits_topic, kafka.edit_alerts_topic, kafka.edits_dead_letter_topic]


def pipeline_topics(kafka: KafkaSettings) -> list[str]:
    """Every topic the pipeline needs: input, dead letters, the ten window topics and the edit side's."""
    return [kafka.pageviews_topic, kafka.dead_letter_topic, *windows_topics(kafka), *edit_topics(kafka)]


def redis_key(redis: RedisSettings, *parts: str) -> str:
    """A Redis key under the project's prefix, e.g. ``wikitrends:trending:latest``."""
    return ":".join([redis.key_prefix, *parts])


@dataclass(frozen=True)
class Keys:
    """Every Redis key the system uses, from the configured prefix."""

    redis: RedisSettings

    @property
    def trending_latest(self) -> str:
        return redis_key(self.redis, "trending", "latest")

    @property
    def trending_latest_minute(self) -> str:
        return redis_key(self.redis, "trending", "latest", "minute")

    @property
    def trending_index(self) -> str:
        return redis_key(self.redis, "trending", "minutes")

    def trending_minute(self, minute_ms: int) -> str:
        return redis_key(self.redis, "trending", "minute", str(minute_ms))

    @property
    def anomalies_latest(self) -> str:
        return redis_key(self.redis, "anomalies", "latest")

    @property
    def anomalies_latest_hour(self) -> str:
        return redis_key(self.redis, "anomalies", "latest", "hour")

    def anomalies_hour(self, hour_start_ms: int) -> str:
        return redis_key(self.redis, "anomalies", "hour", str(hour_start_ms))

    def navigation_latest(self, list_name: str) -> str:
        """Where each article of the newest ``trending`` or ``anomalies`` list gets its readers from
        (core.clickstream.ListNavigation, written by batch/navigation.py)."""
        return redis_key(self.redis, "navigation", list_name, "latest")


@dataclass(frozen=True)
class EditKeys:
    redis: RedisSettings

    @property
    def clock(self) -> str:
        return redis_key(self.redis, "edits", "clock")

    def article(self, project: str, title: str) -> str:
        return redis_key(self.redis, "edits", "article", project, title)

    def entity(self, entity: str) -> str:
        return redis_key(self.redis, "edits", "entity", entity)

    @property
    def alerts(self) -> str:
        return redis_key(self.redis, "edits", "alerts")

    def entity_alerts(self, entity: str) -> str:
        return redis_key(self.redis, "edits", "alerts", "entity", entity)

    @property
    def last_alert(self) -> str:
        return redis_key(self.redis, "edits", "last-alert")

    @property
    def watchlist(self) -> str:
        return redis_key(self.redis, "edits", "watchlist")

    @property
    def watchlist_version(self) -> str:
        return redis_key(self.redis, "edits", "watchlist", "version")


def hourly_counts_uri(s3: S3Settings, scheme: str = "s3a") -> str:
    """Root of the hourly counts dataset, partitioned by ``date=YYYY-MM-DD/hour=HH``."""
    return f"{scheme}://{s3.bucket}/{s3.hourly_counts_prefix}"


HOURLY_COUNTS_FILE = "counts.parquet"


def hourly_counts_key(s3: S3Settings, hour_start_ms: int) -> str:
    """Object key of one hour's counts: ``hourly-counts/date=2026-03-02/hour=09/counts.parquet``.

    One Parquet object per hour (columns project, title, views), written by a
    single PUT, so an hour appears whole or not at all.
    """
    return f"{s3.hourly_counts_prefix}/{hourly_counts_relative_path(hour_start_ms)}"


def hourly_counts_day_key(s3: S3Settings, date: str, hour: int) -> str:
    """The same key from a date (YYYY-MM-DD) and hour of day."""
    return f"{s3.hourly_counts_prefix}/{hourly_counts_partition(date, hour)}"


def hourly_counts_relative_path(hour_start_ms: int) -> str:
    """``date=2026-03-02/hour=09/counts.parquet``: one hour's place under the hourly counts root."""
    moment = datetime.fromtimestamp(hour_start_ms / 1000, tz=UTC)
    return hourly_counts_partition(f"{moment:%Y-%m-%d}", moment.hour)


def hourly_counts_partition(date: str, hour: int) -> str:
    """``date=…/hour=HH/counts.parquet`` for a date (YYYY-MM-DD) and hour of day."""
    return f"date={date}/hour={hour:02d}/{HOURLY_COUNTS_FILE}"


def averages_uri(s3: S3Settings, version: str, scheme: str = "s3a") -> str:
    """One immutable version of the historical averages (columns project, title, h00..h23, days)."""
    return f"{scheme}://{s3.bucket}/{s3.averages_prefix}/{version}"


def averages_pointer_key(s3: S3Settings) -> str:
    """Object naming the current averages version and the dates folded into it (JSON)."""
    return f"{s3.averages_prefix}/current.json"


def anomalies_key(s3: S3Settings, date: str, hour: int, name: str) -> str:
    """Where one anomaly run keeps its result: ``anomalies/date=…/hour=HH/<name>``."""
    return f"{s3.anomalies_prefix}/date={date}/hour={hour:02d}/{name}"


def anomaly_distances_uri(s3: S3Settings, scheme: str = "s3a") -> str:
    """Every compared article's distance and scores, one Parquet dataset partitioned by date and hour."""
    return f"{scheme}://{s3.bucket}/{s3.anomalies_prefix}/distances"


def anomaly_distances_key(s3: S3Settings, date: str, hour: int) -> str:
    """Where one hour's compared articles are: ``anomalies/distances/date=…/hour=HH/`` (part files)."""
    return f"{s3.anomalies_prefix}/distances/date={date}/hour={hour:02d}"


def clickstream_pointer_key(s3: S3Settings) -> str:
    """Object naming the current version of each wiki's clickstream months (JSON: wiki -> month -> v)."""
    return f"{s3.clickstream_prefix}/current.json"


def clickstream_month_key(s3: S3Settings, wiki: str, month: str, version: str) -> str:
    """One version of one month: ``clickstream/wiki=enwiki/month=2024-01/version=…`` (edges/, summaries/)."""
    return f"{s3.clickstream_prefix}/wiki={wiki}/month={month}/version={version}"


def clickstream_summaries_key(s3: S3Settings, wiki: str, month: str, version: str, bucket: int) -> str:
    """The per-article summaries of one bucket of titles (core.clickstream.summary_bucket)."""
    return f"{clickstream_month_key(s3, wiki, month, version)}/summaries/bucket={bucket}"


def bots_pointer_key(s3: S3Settings) -> str:
    """The bot detector's pointer: ``bots/current.json`` names the newest run (batch/bots.py writes it,
    the edit job polls it)."""
    return f"{s3.bots_prefix}/current.json"


def bots_run_key(s3: S3Settings, version: str) -> str:
    """One training run's folder: ``bots/runs/<version>`` (model/, accounts.json, filters.json)."""
    return f"{s3.bots_prefix}/runs/{version}"
