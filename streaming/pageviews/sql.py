"""The SQL of the streaming job, built from the configuration and core's constants.

Per-event and per-article work is the JVM's (streaming/pageviews/job.py): streaming/jvm's
PageRequests parses and checks each event, and its window operator counts each article's minutes,
writes the windows to the ten topics and gives, beside them, the trending candidates' hours
(``candidate_hours``), each wiki's views per minute (``site_minutes``) and each article's hour
(``hourly_counts``, already packed into blocks). The SQL here is what is left, on a few rows a
minute: the candidates' hours beside their wikis' hours (judged by the publisher with
core/trending.py), and the dead letters cut to size.

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

from core.articles import article_condition_sql
from core.config import Settings
from core.events import DEAD_LETTER_PAYLOAD_CHARS
from core.trending import EARLIER_MS, EARLIER_WINDOWS
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS, WINDOWS_PER_HOUR

EPOCH = "TIMESTAMP '1970-01-01 00:00:00'"
HOUR_MINUTES = HOUR_MS // MINUTE_MS
# Trending candidates reach the Python publisher as this many text blocks per minute, not one row per
# article.
TRENDING_BLOCKS = 4

# What a query reads: a PyFlink Table (its str() is the name Flink registered it under) or a table's
# name. job.py hands each query the tables it reads, so no stage depends on a name set elsewhere.
Relation = "Table | str"


def epoch_ms(column: str) -> str:
    """SQL for the epoch milliseconds of a whole-minute TIMESTAMP column (UTC session)."""
    return f"CAST(TIMESTAMPDIFF(MINUTE, {EPOCH}, {column}) AS BIGINT) * {MINUTE_MS}"


NOW_MS = "CAST(UNIX_TIMESTAMP() AS BIGINT) * 1000"


def dead_letters_query(dead_letters: Relation) -> str:
    """Dead letters (payload, reason) with their payload cut to ``DEAD_LETTER_PAYLOAD_CHARS`` (the
    reason says so) and the time they were seen."""
    limit = DEAD_LETTER_PAYLOAD_CHARS
    return f"""
SELECT
  CASE WHEN CHAR_LENGTH(payload) > {limit}
    THEN CONCAT(reason, ' (payload of ', CAST(CHAR_LENGTH(payload) AS STRING), ' characters cut to {limit})')
    ELSE reason END,
  CASE WHEN CHAR_LENGTH(payload) > {limit} THEN SUBSTRING(payload, 1, {limit}) ELSE payload END,
  {NOW_MS}
FROM {dead_letters}"""


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


def site_minutes_query(site_minutes: Relation) -> str:
    """Each wiki's total views per minute (every title: the wiki's own rhythm), with its event time,
    from the window operator's per-subtask sums."""
    return f"""
SELECT project, {epoch_ms("window_start")} AS minute_ms, SUM(view_count) AS total,
  SUM(desktop_count) AS desktop, SUM(mobile_count) AS mobile, window_time AS row_time
FROM TABLE(TUMBLE(TABLE {site_minutes}, DESCRIPTOR(row_time), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end, window_time, project"""
