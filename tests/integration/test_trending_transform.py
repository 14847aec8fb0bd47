"""The trending transform through Flink itself: hand-written minute counts in, each minute's list out.

Runs streaming/job.py's ``trending_table`` on a local Flink mini-cluster
(the JVM from apache-flink, no stack services) over a small bounded input,
and checks the list of the minute 10:00 by hand and every minute's list
against the Python rule in tests/oracle.py.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from core.articles import is_article
from core.config import Settings, load_settings
from core.synthetic import parse_time_ms
from core.windows import MINUTE_MS, WINDOW_MS, hour_window_ends
from tests.oracle import growth_score, is_trending

HOUR_END = parse_time_ms("2026-03-02T10:00:00Z")

# Six 10-minute counts per title for the hour 09:00-10:00, oldest first; each window's views
# fall in its first minute (09:00, 09:10, ... 09:50). None: no views in that window.
HOUR_OF = {
    "Rising_Star": [1, 5, 10, 20, 40, 80],  # rises every window: trends
    "Missing_First": [None, 5, 10, 20, 30, 40],  # a window with no row counts 0: trends
    "Tie_B": [2, 4, 6, 8, 10, 30],  # same counts as Tie_A: ranked after it by title
    "Tie_A": [2, 4, 6, 8, 10, 30],
    "Flat_Page": [30, 30, 30, 30, 30, 30],  # never decreases but does not grow
    "Dip_Page": [5, None, 10, 20, 30, 40],  # a missing window after views is a decrease
    "Too_Quiet": [1, 2, 3, 4, 5, 19],  # rises, under the minimum volume of 20
    "Talk:Rising_Star": [1, 5, 10, 20, 40, 80],  # not an article
    "Main_Page": [100, 200, 300, 400, 500, 600],  # not an article
}
# Half an hour later one view: the minutes its windows end have an empty list, still published.
QUIET_VIEW = ("Quiet_Later", HOUR_END + 30 * MINUTE_MS)
EXPECTED_AT_HOUR_END = [
    ("Rising_Star", [1, 5, 10, 20, 40, 80], 79 / 21),
    ("Missing_First", [0, 5, 10, 20, 30, 40], 40 / 20),
    ("Tie_A", [2, 4, 6, 8, 10, 30], 28 / 22),
    ("Tie_B", [2, 4, 6, 8, 10, 30], 28 / 22),
]


def minute_counts() -> Counter:
    counts: Counter = Counter()
    first = HOUR_END - 6 * WINDOW_MS
    for title, windows in HOUR_OF.items():
        for k, views in enumerate(windows):
            if views:
                counts[(title, first + k * WINDOW_MS)] += views
    counts[QUIET_VIEW] += 1
    return counts


def python_rule(counts: Counter, minute: int, settings: Settings) -> list:
    """The oracle: core/articles.py and tests/oracle.py over the window counts the minute counts make."""
    min_volume = settings.streaming.trending_min_volume
    found = []
    for title in {title for title, _ in counts if is_article(title, settings.articles)}:
        windows = [
            sum(counts.get((title, end - WINDOW_MS + i * MINUTE_MS), 0) for i in range(10))
            for end in hour_window_ends(minute)
        ]
        if is_trending(windows, min_volume):
            found.append((title, windows, growth_score(windows, min_volume)))
    found.sort(key=lambda item: (-item[2], item[0]))
    return found[: settings.streaming.trending_top]


@pytest.fixture(scope="module")
def lists_by_minute(tmp_path_factory) -> dict[int, list]:
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    from streaming import sql
    from streaming.job import trending_table

    path: Path = tmp_path_factory.mktemp("trending") / "minute_counts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        # In time order, as the job's minute counts come: the watermark follows the rows.
        for (title, minute), views in sorted(minute_counts().items(), key=lambda item: item[0][::-1]):
            writer.writerow(["en.wikipedia", title, minute, views])
    settings = load_settings()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    # The job's JVM operators (the sliding windows) and connectors, as streaming/job.py ships them.
    env.add_jars(*settings.stack.jar_uris("flink"))
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.execute_sql(f"""
        CREATE TABLE {sql.MINUTE_COUNTS} (
          project STRING, title STRING, minute_ms BIGINT, view_count BIGINT,
          row_time AS TO_TIMESTAMP_LTZ(minute_ms + {MINUTE_MS - 1}, 3),
          WATERMARK FOR row_time AS row_time - INTERVAL '30' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')""")
    trending = trending_table(t_env, settings)
    # Every column but the row time (a time attribute does not cross to Python in collect()).
    table = t_env.sql_query(
        f"SELECT minute_ms, trend_rank, title, c1, c2, c3, c4, c5, c6, score FROM {trending}"
    )
    lists: dict[int, list] = {}
    with table.execute().collect() as results:
        for minute_ms, rank, title, *counts, score in results:  # collected rows are positional
            lists.setdefault(minute_ms, [])
            if rank > 0:
                lists[minute_ms].append((rank, title, counts, score))
    return {minute: [item[1:] for item in sorted(items)] for minute, items in lists.items()}


def test_the_hour_ending_at_10_is_ranked_by_hand(lists_by_minute: dict[int, list]) -> None:
    got = [(title, counts, pytest.approx(score)) for title, counts, score in lists_by_minute[HOUR_END]]
    assert got == EXPECTED_AT_HOUR_END


def test_every_minute_follows_the_python_rule(lists_by_minute: dict[int, list]) -> None:
    settings = load_settings()
    counts = minute_counts()
    # Every minute at which a window with views ends has a list, empty or not (the marker row).
    window_ends = {
        minute + k * MINUTE_MS for _, minute in counts for k in range(1, WINDOW_MS // MINUTE_MS + 1)
    }
    assert sorted(lists_by_minute) == sorted(window_ends)
    for minute, got in lists_by_minute.items():
        expected = python_rule(counts, minute, settings)
        assert [(t, c, pytest.approx(s)) for t, c, s in got] == expected, minute
    assert lists_by_minute[QUIET_VIEW[1] + MINUTE_MS] == []
