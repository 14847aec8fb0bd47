"""The SQL of the streaming job, built from the configuration and core's constants.

The job runs in two stages (see streaming/pageviews/job.py), all per-record work in the JVM:

  stage 1, per event: read ``pageviews`` as raw strings, parse and validate
  each event, count valid ones per article and minute (``minute_counts``),
  and tag bad and late events for the dead-letter topic;

  stage 2, per minute count: the 10-minute windows sliding every minute
  (to the ten topics) and the trending candidates' hours (``candidate_hours``),
  both from one JVM operator (streaming/jvm; streaming/pageviews/job.py writes the
  windows to their topics and registers the candidates' view); the
  candidates' hours beside their wikis' hours (judged by the publisher with
  core/trending.py); and the hourly counts.

Why minute counts in the middle: on a catalogue of millions of articles most
are seen once or twice an hour, so an event makes about one minute count but
ten window rows. Everything that needs history (trending's last hour, the
hourly sum) reads the minute counts; only the window topics see window rows.

Trending only looks at **candidates**: an article trends at minute m only if
its newest window (ending at m) has at least ``trending_min_volume`` views, a
tiny fraction of the window rows. The window operator writes each candidate's
hour beside the window rows (``candidate_hours``: the five older windows of
the same topic and the hour before them, summed from the article's own minute
counts, which it keeps for that long; the rule's baseline reaches 90 minutes
back from the last half hour). A wiki's hour (its total views in the same
windows, the rhythm an article is judged against) comes from its minute
totals, a few rows a minute.

Epoch milliseconds are computed from TIMESTAMP values in UTC (the job sets
the session time zone to UTC).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.articles import article_condition_sql
from core.config import Settings
from core.events import (
    DEAD_LETTER_PAYLOAD_CHARS,
    DESKTOP,
    FORBIDDEN_IN_TITLES,
    FORBIDDEN_IN_TITLES_REASON,
    MAX_FUTURE_MS,
    MAX_PROJECT_CHARS,
    MAX_TITLE_CHARS,
    MIN_PLAUSIBLE_TS_MS,
    MOBILE_ACCESS,
)
from core.trending import EARLIER_MS, EARLIER_WINDOWS
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS, WINDOWS_PER_HOUR

EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"
WINDOW_MINUTES = WINDOW_MS // MINUTE_MS
HOUR_MINUTES = HOUR_MS // MINUTE_MS
# Hourly counts reach the Python publisher as this many text blocks per hour, not one row per article;
# trending candidates as this many per minute.
HOURLY_BLOCKS = 64
TRENDING_BLOCKS = 4

if TYPE_CHECKING:
    pass

# What a query reads: a PyFlink Table (its str() is the name Flink registered it under) or a table's
# name. job.py hands each query the tables it reads, so no stage depends on a name set elsewhere.
Relation = "Table | str"


# PAYLOAD_FIELD(payload, name): a field of the event's JSON as JSON_VALUE reads it, the payload parsed once
# for all its fields (streaming/jvm's PayloadField.java; streaming/pageviews/job.py registers it).
PAYLOAD_FIELD = "payload_field"
PAYLOAD_FIELD_CLASS = "wikitrends.streaming.PayloadField"


def payload_field(name: str) -> str:
    """SQL for a top-level field of ``payload`` as text (NULL when missing, null, an object or an array)."""
    return f"{PAYLOAD_FIELD}(payload, '{name}')"


def epoch_ms(column: str) -> str:
    """SQL for the epoch milliseconds of a whole-minute TIMESTAMP column (UTC session)."""
    return f"CAST(TIMESTAMPDIFF(MINUTE, {EPOCH}, {column}) AS BIGINT) * {MINUTE_MS}"


NOW_MS = "CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000"


def plausible_ts(ts: str) -> str:
    """SQL that is true when ``ts`` lies in 2001-01-01 .. now + the allowed future (core.events)."""
    return f"{ts} BETWEEN {MIN_PLAUSIBLE_TS_MS} AND {NOW_MS} + {MAX_FUTURE_MS}"


def problem_expression() -> str:
    """Why an event is not a valid page request (NULL when it is): the dead-letter reason."""
    return f"""CASE
    WHEN ts IS NULL THEN
      CASE WHEN payload IS JSON OBJECT THEN 'ts missing or not a number' ELSE 'not a JSON object' END
    WHEN NOT ({plausible_ts("ts")})
      THEN 'ts outside 2001-01-01 .. now + {MAX_FUTURE_MS // MINUTE_MS} min'
    WHEN project IS NULL OR CHAR_LENGTH(TRIM(project)) = 0 THEN 'project missing'
    WHEN CHAR_LENGTH(project) > {MAX_PROJECT_CHARS} THEN 'project longer than {MAX_PROJECT_CHARS} characters'
    WHEN title IS NULL OR CHAR_LENGTH(TRIM(title)) = 0 THEN 'title missing'
    WHEN CHAR_LENGTH(title) > {MAX_TITLE_CHARS} THEN 'title longer than {MAX_TITLE_CHARS} characters'
    WHEN REGEXP(title, '{FORBIDDEN_IN_TITLES}')
      THEN '{FORBIDDEN_IN_TITLES_REASON}'
    ELSE CAST(NULL AS STRING)
  END"""


def checked_events_query(pageviews: Relation) -> str:
    """Every event with its problem (if any) and whether it came after the watermark."""
    return f"""
SELECT payload, project, title, access, event_time,
  {problem_expression()} AS problem,
  COALESCE(event_time < CURRENT_WATERMARK(event_time), FALSE) AS late
FROM {pageviews}"""


def valid_events_query(checked_events: Relation) -> str:
    """The events counted: no problem, not late."""
    return (
        f"SELECT project, title, access, event_time FROM {checked_events} WHERE problem IS NULL AND NOT late"
    )


def stage_one_query(checked_events: Relation, valid_events: Relation) -> str:
    """Minute counts and dead letters in one stream, so stage 1 reads the topic once.

    kind 'minute': views of one article in one minute, and of them those whose access is known to be the
    desktop or the mobile site; kind 'dead': a bad or late event.
    """
    return f"""
SELECT 'minute' AS kind, project, title, {epoch_ms("window_start")} AS minute_ms, COUNT(*) AS view_count,
  {_count_where(f"access = '{DESKTOP}'")} AS desktop_count,
  {_count_where(f"access IN ({', '.join(repr(a) for a in MOBILE_ACCESS)})")} AS mobile_count,
  CAST(NULL AS STRING) AS payload, CAST(NULL AS STRING) AS reason, window_time AS rowtime
FROM TABLE(TUMBLE(TABLE {valid_events}, DESCRIPTOR(event_time), INTERVAL '1' MINUTE))
GROUP BY project, title, window_start, window_end, window_time
UNION ALL
SELECT 'dead', CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
  CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
  payload, CASE WHEN problem IS NULL THEN 'late: event time before the watermark' ELSE problem END,
  event_time
FROM {checked_events} WHERE problem IS NOT NULL OR late"""


def minute_counts_query(stage_one: Relation) -> str:
    """Views per article and minute; ``row_time`` is the minute's last millisecond (its event time)."""
    return (
        "SELECT project, title, minute_ms, view_count, desktop_count, mobile_count, row_time "
        f"FROM {stage_one} WHERE kind = 'minute'"
    )


def without_time_query(minute_counts: Relation) -> str:
    """The minute counts without their time column, as the sliding-window operator takes them."""
    return f"SELECT project, title, minute_ms, view_count, desktop_count, mobile_count FROM {minute_counts}"


def dead_letters_query(stage_one: Relation) -> str:
    """Dead letters with their payload cut to ``DEAD_LETTER_PAYLOAD_CHARS`` (the reason says so)."""
    limit = DEAD_LETTER_PAYLOAD_CHARS
    return f"""
SELECT
  CASE WHEN CHAR_LENGTH(payload) > {limit}
    THEN CONCAT(reason, ' (payload of ', CAST(CHAR_LENGTH(payload) AS STRING), ' characters cut to {limit})')
    ELSE reason END,
  CASE WHEN CHAR_LENGTH(payload) > {limit} THEN SUBSTRING(payload, 1, {limit}) ELSE payload END,
  {NOW_MS}
FROM {stage_one} WHERE kind = 'dead'"""


def _count_where(condition: str) -> str:
    """SQL for how many rows of the group meet ``condition``, as a BIGINT (what the JVM operator reads)."""
    return f"SUM(CASE WHEN {condition} THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END)"


def _hour_sums(column: str, window_number: str) -> str:
    """SQL for c1..c6 and earlier: ``column`` summed by ``window_number`` (1 = the hour's oldest
    window; 0 and below, the windows before the hour)."""
    return ",\n    ".join(
        [
            *(
                f"SUM(CASE WHEN {window_number} = {k} THEN {column} ELSE 0 END) AS c{k}"
                for k in range(1, WINDOWS_PER_HOUR + 1)
            ),
            f"SUM(CASE WHEN {window_number} <= 0 THEN {column} ELSE 0 END) AS earlier",
        ]
    )


def trending_query(candidate_hours: Relation, site_minutes: Relation, settings: Settings) -> str:
    """What the trending publisher judges each minute: the candidates' hours and their wikis' hours.

    kind 'articles': the candidates, each as a JSON array
    ``["project","title",c1,...,c6,earlier,desktop,mobile]`` of its six 10-minute counts,
    oldest first (a window with no views counts 0), its views in the
    ``EARLIER_MS`` before them, and its hour's views of known access. The window operator writes them
    (``candidate_hours``: every window with at least ``trending_min_volume``
    views, summed from the article's own minute counts); only articles pass
    (core/articles.py). They are packed into ``TRENDING_BLOCKS``
    comma-separated blocks per minute: the Python publisher handles a few
    rows a minute instead of thousands (as the hourly counts do).

    kind 'site': one wiki's hour as ``["project",s1,...,s6,earlier,desktop,mobile]``,
    its total views in the same windows: the rhythm an article is judged against.
    One row per wiki and minute whose newest window has views, so every minute
    at which a window ends gets a list, empty or not.

    The rule itself (core/trending.py) runs in the publisher
    (streaming/pageviews/publish.py), so that it lives in one place, tested directly,
    for the job and the tests' oracle.
    """
    counts = ", ".join([*(f"c{k}" for k in range(1, WINDOWS_PER_HOUR + 1)), "earlier", "desktop", "mobile"])
    articles_only = article_condition_sql("title", settings.articles)
    site_window = (
        f"CAST((minute_ms - {epoch_ms('window_start')}) / {WINDOW_MS} AS INT) + 1 - {EARLIER_WINDOWS}"
    )
    return f"""
SELECT minute_ms, 'articles' AS kind, LISTAGG(line, ',') AS lines, window_time AS rowtime FROM (
  SELECT window_start, window_end, window_time, minute_ms,
    MOD(ABS(HASH_CODE(title)), {TRENDING_BLOCKS}) AS block, JSON_ARRAY(project, title, {counts}) AS line
  FROM TABLE(TUMBLE(TABLE {candidate_hours}, DESCRIPTOR(w_time), INTERVAL '1' MINUTE))
  WHERE {articles_only}
)
GROUP BY window_start, window_end, window_time, minute_ms, block
UNION ALL
SELECT minute_ms, 'site', JSON_ARRAY(project, {counts}), window_time FROM (
  SELECT {epoch_ms("window_end")} AS minute_ms, window_time, project,
    {_hour_sums("total", site_window)},
    SUM(CASE WHEN {site_window} >= 1 THEN desktop ELSE 0 END) AS desktop,
    SUM(CASE WHEN {site_window} >= 1 THEN mobile ELSE 0 END) AS mobile
  FROM TABLE(HOP(TABLE {site_minutes}, DESCRIPTOR(row_time), INTERVAL '1' MINUTE,
    INTERVAL '{HOUR_MINUTES + EARLIER_MS // MINUTE_MS}' MINUTE(3)))
  GROUP BY window_start, window_end, window_time, project
) WHERE c6 > 0"""


def site_minutes_query(minute_counts: Relation) -> str:
    """Each wiki's total views per minute (every title: the wiki's own rhythm), with its event time."""
    return f"""
SELECT project, {epoch_ms("window_start")} AS minute_ms, SUM(view_count) AS total,
  SUM(desktop_count) AS desktop, SUM(mobile_count) AS mobile, window_time AS row_time
FROM TABLE(TUMBLE(TABLE {minute_counts}, DESCRIPTOR(row_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time, project"""


def hourly_counts_query(minute_counts: Relation) -> str:
    """Views per article per hour, gathered into a few text blocks per hour for the S3 publisher.

    A one-hour tumbling window over the minute counts sums each article's
    hour (the same as its six topic-0 windows); a second window packs the
    hour's rows into ``HOURLY_BLOCKS`` blocks of comma-separated JSON arrays
    ``["project","title",views,desktop,mobile]`` (JSON, so any title survives), and the
    Python publisher handles a few large rows an hour instead of millions.
    """
    return f"""
SELECT {epoch_ms("window_start")} AS hour_start_ms, block, LISTAGG(line, ',') AS lines,
  window_time AS rowtime
FROM (
  SELECT window_start, window_end, window_time, MOD(ABS(HASH_CODE(title)), {HOURLY_BLOCKS}) AS block,
    JSON_ARRAY(project, title, SUM(view_count), SUM(desktop_count), SUM(mobile_count)) AS line
  FROM TABLE(TUMBLE(TABLE {minute_counts}, DESCRIPTOR(row_time), INTERVAL '1' HOUR))
  GROUP BY window_start, window_end, window_time, project, title
)
GROUP BY window_start, window_end, window_time, block"""
