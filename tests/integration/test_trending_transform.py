"""The trending transform through Flink itself: hand-written minute counts in, each minute's list out.

Runs streaming/pageviews/job.py's ``sliding_windows`` and ``trending`` on a local
Flink mini-cluster (the JVM from apache-flink, no stack services) over a small bounded input,
judges each minute's rows with the publisher's own function, and checks the
list of 10:00 by hand, a clean hour's list empty, a slow riser found against
the hour before its hour, and every minute's list against
tests/oracle.py's lists made from the same minute counts.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from core.config import load_settings
from core.trending import EARLIER_WINDOWS, judge
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS
from producer.world import parse_time_ms
from streaming.pageviews.publish import HourRow, hour_rows, trending_snapshot
from tests.oracle import TrendingOracle

PROJECT = "en.wikipedia"
HOUR_END = parse_time_ms("2026-03-02T10:00:00Z")
# Six 10-minute counts per title for the hour 09:00-10:00, oldest first; each window's views
# fall in its first minute (09:00, 09:10, ... 09:50). None: no views in that window.
# The wiki's morning: its traffic (mostly Main_Page) grows 80 % over the hour.
HOUR_OF = {
    "Main_Page": [10_000, 11_000, 12_000, 14_000, 16_000, 18_000],  # not an article: only the rhythm
    "Morning_Page": [100, 110, 120, 140, 160, 180],  # rises with its wiki: not news
    "Rising_Star": [20, 22, 24, 60, 100, 160],  # rises far beyond the rhythm: trends
    "Dipping_Riser": [20, 21, 23, 90, 70, 130],  # a noisy riser that dips once: trends
    "Burst": [30, 33, 36, 42, 48, 400],  # one window's burst: not sustained
    "Faller": [100, 110, 120, 70, 50, 40],
    "Too_Quiet": [None, 1, 1, 6, 10, 19],  # rises, under the minimum volume of 20
    "Talk:Rising_Star": [20, 22, 24, 60, 100, 160],  # not an article
}
EXPECTED_AT_HOUR_END = ["Rising_Star", "Dipping_Riser"]
# Two hours later, a clean hour: steady pages under a flat rhythm, nothing listed at its end.
CLEAN_HOUR_END = HOUR_END + 2 * HOUR_MS
CLEAN_HOUR_OF = {
    "Main_Page": [12_000, 12_100, 11_900, 12_050, 11_950, 12_000],
    "Morning_Page": [150, 160, 140, 155, 145, 150],
    "Steady_Small": [25, 31, 22, 28, 24, 30],
}
# Later, an hour with the hour before it (six windows, then the hour's six): a page that climbs
# slowly (x2.2 over the hour, too little against a half hour alone) trends against the 90 minutes
# before its last half hour; one that doubled at the hour's start and holds flat is no longer rising
# at its end.
SLOW_HOUR_END = HOUR_END + 6 * HOUR_MS
BEFORE = [50] * EARLIER_WINDOWS
SLOW_HOUR_OF = {
    "Main_Page": [12_000] * (EARLIER_WINDOWS + 6),
    "Slow_Riser": [*BEFORE, 60, 70, 80, 90, 100, 110],
    "Held_High": [*BEFORE, 100, 100, 100, 100, 100, 100],
}
PERIODS = ((HOUR_END, HOUR_OF), (CLEAN_HOUR_END, CLEAN_HOUR_OF), (SLOW_HOUR_END, SLOW_HOUR_OF))


def minute_counts() -> Counter:
    counts: Counter = Counter()
    for end, windows_of in PERIODS:
        for title, windows in windows_of.items():
            first = end - len(windows) * WINDOW_MS
            for k, views in enumerate(windows):
                if views:
                    counts[((PROJECT, title), first + k * WINDOW_MS)] += views
    return counts


@pytest.fixture(scope="module")
def lists_by_minute(tmp_path_factory) -> dict[int, list]:
    from pyflink.datastream import StreamExecutionEnvironment
    from pyflink.table import StreamTableEnvironment

    from streaming.pageviews.job import sliding_windows, trending

    path: Path = tmp_path_factory.mktemp("trending") / "minute_counts.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        # In time order, as the job's minute counts come: the watermark follows the rows.
        for ((project, title), minute), views in sorted(minute_counts().items(), key=lambda item: item[0][1]):
            writer.writerow([project, title, minute, views, 0, 0])
    settings = load_settings()
    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_parallelism(2)
    # The job's JVM operators (the sliding windows) and connectors, as streaming/pageviews/job.py ships them.
    env.add_jars(*settings.stack.jar_uris("flink"))
    t_env = StreamTableEnvironment.create(env)
    t_env.get_config().set("table.local-time-zone", "UTC")
    t_env.execute_sql(f"""
        CREATE TABLE minute_counts (
          project STRING, title STRING, minute_ms BIGINT, view_count BIGINT, desktop_count BIGINT,
          mobile_count BIGINT,
          row_time AS TO_TIMESTAMP_LTZ(minute_ms + {MINUTE_MS - 1}, 3),
          WATERMARK FOR row_time AS row_time - INTERVAL '30' SECOND
        ) WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'csv')""")
    # As the job's views come: with their event time (the row time) and the watermarks behind it.
    counts = t_env.to_data_stream(t_env.from_path("minute_counts"))
    judged = trending(t_env, sliding_windows(t_env, counts, settings.streaming.trending_min_volume), settings)
    # Every column but the row time (a time attribute does not cross to Python in collect()).
    table = t_env.sql_query(f"SELECT minute_ms, kind, lines FROM {judged}")
    rows: dict[int, list[HourRow]] = {}
    with table.execute().collect() as results:
        for minute_ms, kind, lines in results:  # collected rows are positional
            rows.setdefault(minute_ms, []).extend(hour_rows(kind, lines))
    s = settings.streaming
    return {
        minute: [
            (a.title, a.counts, a.score)
            for a in trending_snapshot(minute, minute_rows, s.rule, s.access_rule, s.trending_top, 0).articles
        ]
        for minute, minute_rows in rows.items()
    }


def test_the_hour_ending_at_10_lists_the_real_risers_only(lists_by_minute: dict[int, list]) -> None:
    rule = load_settings().streaming.rule
    site = [sum(views[k] or 0 for views in HOUR_OF.values()) for k in range(6)]
    got = lists_by_minute[HOUR_END]
    assert [title for title, _, _ in got] == EXPECTED_AT_HOUR_END
    for title, counts, score in got:
        assert counts == HOUR_OF[title]
        assert score == pytest.approx(judge(counts, site, rule).z, abs=1e-6)
    # What the seed's rule would have listed but this one must not: the page rising with its
    # wiki's morning, the one-window burst, the faller, the quiet riser and the non-article.
    assert {"Morning_Page", "Burst", "Faller", "Too_Quiet", "Talk:Rising_Star"}.isdisjoint(
        title for items in lists_by_minute.values() for title, _, _ in items
    )


def test_a_clean_hour_gives_an_empty_list(lists_by_minute: dict[int, list]) -> None:
    assert lists_by_minute[CLEAN_HOUR_END] == []


def test_a_slow_riser_trends_against_the_90_minutes_before_and_a_held_page_does_not(
    lists_by_minute: dict[int, list],
) -> None:
    rule = load_settings().streaming.rule
    got = lists_by_minute[SLOW_HOUR_END]
    assert [title for title, _, _ in got] == ["Slow_Riser"]
    site = [sum(windows[EARLIER_WINDOWS + k] for windows in SLOW_HOUR_OF.values()) for k in range(6)]
    site_earlier = sum(sum(windows[:EARLIER_WINDOWS]) for windows in SLOW_HOUR_OF.values())
    verdict = judge(got[0][1], site, rule, sum(BEFORE), site_earlier)
    assert got[0][2] == pytest.approx(verdict.z, abs=1e-6)
    assert not judge(got[0][1], site, rule).trends  # the hour alone would not show it


def test_every_minute_follows_the_python_oracle(lists_by_minute: dict[int, list]) -> None:
    counts = minute_counts()
    oracle = TrendingOracle(dict(counts), load_settings())
    # Every minute at which a window with views ends has a list, empty or not.
    window_ends = {
        minute + k * MINUTE_MS for (_, minute) in counts for k in range(1, WINDOW_MS // MINUTE_MS + 1)
    }
    assert sorted(lists_by_minute) == sorted(window_ends)
    for minute, got in lists_by_minute.items():
        expected = oracle.trending(minute)
        assert [(t, c, pytest.approx(s, abs=1e-6)) for t, c, s in got] == expected, minute
