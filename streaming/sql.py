"""The SQL of the streaming job, built from the configuration.

The job runs in two stages (see streaming/job.py):

  stage 1, per event (all in the JVM): read ``pageviews`` as raw strings, parse
  and validate each event, count valid ones in 10-minute windows sliding every
  minute, and tag bad and late events for the dead-letter topic;

  stage 2, per window row: route window counts to the ten topics, find the
  trending articles of every minute, and sum the hour's six topic-0 windows
  into hourly counts.

Epoch milliseconds are computed from TIMESTAMP values in UTC (the job sets
the session time zone to UTC).
"""

from __future__ import annotations

from core.config import Settings
from core.contracts import windows_topics
from core.events import MAX_FUTURE_MS, MIN_PLAUSIBLE_TS_MS
from core.trending import WINDOWS_PER_HOUR

EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"


def epoch_ms(column: str) -> str:
    """SQL for the epoch milliseconds of a whole-minute TIMESTAMP column (UTC session)."""
    return f"CAST(TIMESTAMPDIFF(MINUTE, {EPOCH}, {column}) AS BIGINT) * 60000"


def minute_digit(column: str) -> str:
    """SQL for the last digit of a TIMESTAMP column's minute (minutes since the epoch mod 10)."""
    return f"CAST(MOD(TIMESTAMPDIFF(MINUTE, {EPOCH}, {column}), 10) AS INT)"


NOW_MS = "CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000"


def plausible_ts(ts: str) -> str:
    """SQL that is true when ``ts`` lies in 2001-01-01 .. now + the allowed future (core.events)."""
    return f"{ts} BETWEEN {MIN_PLAUSIBLE_TS_MS} AND {NOW_MS} + {MAX_FUTURE_MS}"


def _kafka_options(settings: Settings, **options: str) -> str:
    merged = {"connector": "kafka", "properties.bootstrap.servers": settings.kafka.bootstrap, **options}
    return ",\n  ".join(f"'{key}' = '{value}'" for key, value in merged.items())


def _exactly_once(name: str) -> dict[str, str]:
    return {
        "sink.delivery-guarantee": "exactly-once",
        "sink.transactional-id-prefix": f"wikitrends-{name}",
        # Must stay under the broker's transaction.max.timeout.ms (1 h on the local stack).
        "properties.transaction.timeout.ms": "900000",
    }


def source_table(settings: Settings, startup_mode: str, bounded: bool = False) -> str:
    """``pageviews`` as raw strings, with the event time read from the JSON's ``ts``.

    A missing, non-numeric or absurd ``ts`` gives event time 0 so that it
    cannot move the watermark; such events are sent to the dead-letter topic.
    """
    ts = "TRY_CAST(JSON_VALUE(payload, '$.ts') AS BIGINT)"
    plausible = plausible_ts(ts)
    s = settings.streaming
    options = _kafka_options(
        settings,
        **{
            "topic": settings.kafka.pageviews_topic,
            "properties.group.id": s.group_id,
            "scan.startup.mode": startup_mode,
            # A new consumer group (no committed offsets) starts from the beginning.
            "properties.auto.offset.reset": "earliest",
            "format": "raw",
            # Bounded: read up to the offsets of the job's start, then finish (benchmarks, backfills).
            **({"scan.bounded.mode": "latest-offset"} if bounded else {}),
        },
    )
    return f"""
CREATE TABLE pageviews_raw (
  payload STRING,
  ts AS {ts},
  project AS JSON_VALUE(payload, '$.project'),
  title AS JSON_VALUE(payload, '$.title'),
  event_time AS TO_TIMESTAMP_LTZ(CASE WHEN {plausible} THEN {ts} ELSE 0 END, 3),
  WATERMARK FOR event_time AS event_time - INTERVAL '{s.watermark_delay_seconds}' SECOND
) WITH (
  {options}
)"""


def problem_expression() -> str:
    """Why an event is not a valid page request (NULL when it is): the dead-letter reason."""
    return f"""CASE
    WHEN ts IS NULL THEN
      CASE WHEN payload IS JSON OBJECT THEN 'ts missing or not a number' ELSE 'not a JSON object' END
    WHEN NOT ({plausible_ts("ts")})
      THEN 'ts outside 2001-01-01 .. now + {MAX_FUTURE_MS // 60000} min'
    WHEN project IS NULL OR CHAR_LENGTH(TRIM(project)) = 0 THEN 'project missing'
    WHEN title IS NULL OR CHAR_LENGTH(TRIM(title)) = 0 THEN 'title missing'
    ELSE CAST(NULL AS STRING)
  END"""


def checked_events_view() -> str:
    """Every event with its problem (if any) and whether it came after the watermark."""
    return f"""
CREATE TEMPORARY VIEW checked_events AS
SELECT payload, project, title, event_time,
  {problem_expression()} AS problem,
  COALESCE(event_time < CURRENT_WATERMARK(event_time), FALSE) AS late
FROM pageviews_raw"""


def stage_one_query() -> str:
    """Window counts and dead letters in one stream, so stage 1 reads the topic once.

    kind 'window': one row per article and window; kind 'dead': a bad or late event.
    """
    return f"""
SELECT 'window' AS kind, project, title,
  {epoch_ms("window_start")} AS window_start_ms, {epoch_ms("window_end")} AS window_end_ms,
  {minute_digit("window_start")} AS digit, COUNT(*) AS view_count,
  CAST(NULL AS STRING) AS payload, CAST(NULL AS STRING) AS reason, window_time AS rowtime
FROM TABLE(HOP(TABLE valid_events, DESCRIPTOR(event_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTE))
GROUP BY project, title, window_start, window_end, window_time
UNION ALL
SELECT 'dead', CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
  CAST(NULL AS INT), CAST(NULL AS BIGINT), payload,
  CASE WHEN problem IS NULL THEN 'late: event time before the watermark' ELSE problem END, event_time
FROM checked_events WHERE problem IS NOT NULL OR late"""


def valid_events_view() -> str:
    return """
CREATE TEMPORARY VIEW valid_events AS
SELECT project, title, event_time FROM checked_events WHERE problem IS NULL AND NOT late"""


def window_sink_table(settings: Settings) -> str:
    """The ten window topics; each row goes to the topic named in its ``topic`` column."""
    return f"""
CREATE TABLE window_counts_sink (
  `topic` STRING METADATA,
  `project` STRING,
  `title` STRING,
  `window_start` BIGINT,
  `window_end` BIGINT,
  `count` BIGINT
) WITH (
  {
        _kafka_options(
            settings,
            **{
                "topic": ";".join(windows_topics(settings.kafka)),
                "key.format": "raw",
                "key.fields": "title",
                "value.format": "json",
                "value.fields-include": "ALL",
                **_exactly_once("windows"),
            },
        )
    }
)"""


def dead_letter_sink_table(settings: Settings) -> str:
    return f"""
CREATE TABLE dead_letter_sink (
  `reason` STRING,
  `payload` STRING,
  `seen_at` BIGINT
) WITH (
  {
        _kafka_options(
            settings,
            **{
                "topic": settings.kafka.dead_letter_topic,
                "format": "json",
                **_exactly_once("dead-letters"),
            },
        )
    }
)"""


def insert_window_counts(settings: Settings) -> str:
    prefix = settings.kafka.windows_topic_prefix
    return f"""
INSERT INTO window_counts_sink
SELECT CONCAT('{prefix}', CAST(digit AS STRING)), project, title, window_start_ms, window_end_ms, view_count
FROM stage_one WHERE kind = 'window'"""


def insert_dead_letters() -> str:
    return f"""
INSERT INTO dead_letter_sink
SELECT reason, payload, {NOW_MS} FROM stage_one WHERE kind = 'dead'"""


def hour_slots_query() -> str:
    """Each window row, once for each of the six hours it is part of.

    A window ending at e is slot 6 of the hour ending at e, slot 5 of the hour
    ending at e + 10 min, ... slot 1 of the hour ending at e + 50 min. The
    slot's time (``slot_time``, 1 ms before its hour's end) becomes the event
    time of the trending aggregation, so a one-minute tumbling window gathers
    exactly the six windows of topic m mod 10 for each minute m. Each row is
    touched six times; an hour-long window sliding every minute would touch it
    sixty times (and Flink 1.20 misassigns rows of windows with an offset).
    """
    # The array must refer to the row: an array of constants is planned as a join with a VALUES
    # table, a regular join whose state would keep every window row forever.
    slot_ends = ", ".join(f"w_end_ms + {later * 600_000}" for later in range(WINDOWS_PER_HOUR))
    return f"""
SELECT project, title,
  {WINDOWS_PER_HOUR} - CAST((slot_end_ms - w_end_ms) / 600000 AS INT) AS slot,
  view_count, TO_TIMESTAMP_LTZ(slot_end_ms - 1, 3) AS slot_time
FROM window_rows CROSS JOIN UNNEST(ARRAY[{slot_ends}]) AS hours(slot_end_ms)"""


def trending_query(settings: Settings) -> str:
    """Every minute's top trending articles with their six counts and score, plus a marker row.

    Reads ``hour_slots`` (see hour_slots_query) with ``slot_time`` as its
    event time. A window with no row counts 0. The marker row (rank 0, no
    title) exists for every minute with any traffic, so that a minute with
    nothing trending still publishes an empty list. Rule and score:
    core/trending.py.
    """
    s = settings.streaming
    counts = ",\n    ".join(
        f"SUM(CASE WHEN slot = {k} THEN view_count ELSE 0 END) AS c{k}"
        for k in range(1, WINDOWS_PER_HOUR + 1)
    )
    never_decreasing = " AND ".join(f"c{k} <= c{k + 1}" for k in range(1, WINDOWS_PER_HOUR))
    score = f"CAST(c6 - c1 AS DOUBLE) / (c1 + {s.trending_min_volume})"
    return f"""
SELECT minute_ms, rn AS trend_rank, project, title, c1, c2, c3, c4, c5, c6, score, rowtime FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY score DESC, title) AS rn
  FROM (
    SELECT window_start, window_end, window_time AS rowtime, {epoch_ms("window_end")} AS minute_ms,
      project, title, c1, c2, c3, c4, c5, c6, {score} AS score
    FROM (
      SELECT window_start, window_end, window_time, project, title,
        {counts}
      FROM TABLE(TUMBLE(TABLE hour_slots, DESCRIPTOR(slot_time), INTERVAL '1' MINUTE))
      GROUP BY window_start, window_end, window_time, project, title
    )
    WHERE {never_decreasing} AND c6 > c1 AND c6 >= {s.trending_min_volume}
  )
) WHERE rn <= {s.trending_top}
UNION ALL
SELECT {epoch_ms("window_end")} AS minute_ms, CAST(0 AS BIGINT), CAST(NULL AS STRING), CAST(NULL AS STRING),
  CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT), CAST(0 AS BIGINT),
  COUNT(*) AS c6, CAST(0 AS DOUBLE), window_time
FROM TABLE(TUMBLE(TABLE hour_slots, DESCRIPTOR(slot_time), INTERVAL '1' MINUTE))
WHERE slot = {WINDOWS_PER_HOUR}
GROUP BY window_start, window_end, window_time"""


def topic_zero_windows_view() -> str:
    return """
CREATE TEMPORARY VIEW topic_zero_windows AS
SELECT project, title, w_end_ms, view_count, w_time FROM window_rows WHERE digit = 0"""


def window_rows_view() -> str:
    return """
CREATE TEMPORARY VIEW window_rows AS
SELECT project, title, window_start_ms, window_end_ms AS w_end_ms, digit, view_count, row_time AS w_time
FROM stage_one WHERE kind = 'window'"""


def hourly_counts_query() -> str:
    """Views per article per hour: the sum of the hour's six topic-0 windows.

    Topic-0 windows start at :00, :10, ... :50, so they tile the hour; their
    row times (window end - 1 ms) all fall inside it, so a one-hour tumbling
    window over them closes as soon as the hour's last window is counted.
    """
    return f"""
SELECT {epoch_ms("window_start")} AS hour_start_ms, project, title, SUM(view_count) AS view_count,
  window_time AS rowtime
FROM TABLE(TUMBLE(TABLE topic_zero_windows, DESCRIPTOR(w_time), INTERVAL '1' HOUR))
GROUP BY window_start, window_end, window_time, project, title"""
