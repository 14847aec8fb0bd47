"""Pure parts of streaming: window routing, the trending rule and score, snapshots, hourly files."""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest

from core.automated import AccessRule
from core.config import load_settings
from core.contracts import hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import (
    AnomalousArticle,
    AnomalySnapshot,
    TrendingArticle,
    TrendingSnapshot,
    decode_anomalies,
    decode_trending,
    encode,
)
from core.trending import Hour, TrendingRule, never_decreasing, seed_score
from core.windows import hour_start_of, hour_window_ends, iso_time, topic_digit, window_starts_of
from producer.world import parse_time_ms
from streaming.gather import RETRY_MAX_SECONDS, retry_delay_seconds
from streaming.pageviews import tables
from streaming.pageviews.publish import HourRow, hour_rows, hourly_rows, trending_snapshot

T = parse_time_ms("2026-03-02T09:07:30Z")
MINUTE = 60_000


def test_windows_starting_at_7_17_27_go_to_topic_7() -> None:
    for start in ("09:07", "09:17", "09:27", "10:57"):
        assert topic_digit(parse_time_ms(f"2026-03-02T{start}:00Z")) == 7
    assert topic_digit(parse_time_ms("2026-03-02T09:10:00Z")) == 0
    with pytest.raises(ValueError):
        topic_digit(T)


def test_an_event_is_in_ten_windows_one_per_topic() -> None:
    starts = list(window_starts_of(T))
    assert len(starts) == 10
    assert all(start <= T < start + 10 * MINUTE for start in starts)
    assert sorted(topic_digit(start) for start in starts) == list(range(10))


def test_same_digit_windows_tile_the_hour() -> None:
    ends = hour_window_ends(parse_time_ms("2026-03-02T10:03:00Z"))
    assert [e - 10 * MINUTE for e in ends][0] == parse_time_ms("2026-03-02T09:03:00Z")
    assert all(b - a == 10 * MINUTE for a, b in zip(ends, ends[1:], strict=False))
    assert len({topic_digit(e - 10 * MINUTE) for e in ends}) == 1
    assert hour_start_of(T) == parse_time_ms("2026-03-02T09:00:00Z")


@pytest.mark.parametrize(
    ("counts", "trending"),
    [
        ([0, 0, 5, 30, 60, 90], True),
        ([10, 10, 10, 10, 10, 25], True),
        ([20, 20, 20, 20, 20, 20], False),  # flat: the last must be greater than the first
        ([10, 30, 29, 40, 50, 60], False),  # one decrease
        ([1, 2, 3, 4, 5, 19], False),  # below the minimum volume
    ],
)
def test_the_seed_rule(counts: list[int], trending: bool) -> None:
    assert never_decreasing(counts, min_volume=20) is trending


def test_the_score_favours_growth_over_size() -> None:
    rising = seed_score([0, 10, 40, 90, 160, 250], 20)
    main_page = seed_score([1800, 1850, 1900, 1950, 2000, 2100], 20)
    assert rising > 10 * main_page


def test_snapshots_round_trip_through_json() -> None:
    trending = TrendingSnapshot(
        T, 1, 20, [TrendingArticle(1, "en.wikipedia", "東京", [1, 2, 3, 4, 5, 6], [0] * 6, 2.5)]
    )
    assert decode_trending(encode(trending)) == trending
    anomalies = AnomalySnapshot(
        "2026-03-02",
        9,
        T,
        2,
        6.0,
        40,
        [AnomalousArticle(1, "en.wikipedia", "X", 0.33, [1.0], [2.0], 0.1, 7.0, 7.0, 7.0, 6.1, 6.1)],
        5.5,
    )
    assert decode_anomalies(encode(anomalies)) == anomalies


def test_an_anomaly_list_published_before_the_counting_noise_rule_still_reads() -> None:
    """Redis keeps the lists across upgrades: one written without the Poisson z fields decodes with None."""
    older = json.loads(encode(AnomalySnapshot("2026-03-02", 9, T, 2, 6.0, 40, [])))
    del older["min_poisson_z"]
    older["articles"] = [
        {
            "rank": 1,
            "project": "en.wikipedia",
            "title": "X",
            "distance": 0.33,
            "today": [1.0],
            "history": [2.0],
        }
        | {"expected_distance": 0.1, "score": 7.0, "day_score": 7.0, "hour_score": 7.0}
    ]
    snapshot = decode_anomalies(json.dumps(older))
    assert snapshot.min_poisson_z is None and snapshot.articles[0].hour_poisson_z is None
    assert snapshot.articles[0].score == 7.0


def test_a_minute_snapshot_judges_each_candidate_against_its_own_wiki() -> None:
    minute = T - T % MINUTE
    rows = [
        HourRow("en.wikipedia", "B", Hour((20, 20, 20, 50, 60, 70))),
        HourRow("en.wikipedia", None, Hour((10_000,) * 6)),
        HourRow("de.wikipedia", None, Hour((1_000, 1_000, 1_000, 2_500, 3_000, 3_500))),
        HourRow("en.wikipedia", "A", Hour((20, 20, 20, 60, 90, 120))),
        HourRow("de.wikipedia", "C", Hour((20, 20, 20, 50, 60, 70))),  # its wiki rose as much: not news
    ]
    snapshot = trending_snapshot(minute, rows, TrendingRule(), AccessRule(), top=50, computed_at=5)
    assert [(a.rank, a.title) for a in snapshot.articles] == [(1, "A"), (2, "B")]
    first = snapshot.articles[0]
    assert first.window_ends == hour_window_ends(minute)
    # 60.5 views (a half-view prior) in 29,940 of the rest of the wiki's views, times each window's rest.
    assert first.expected == [20.17, 20.17, 20.17, 20.09, 20.03, 19.96]
    assert first.growth == pytest.approx(270 / (60.5 / 29_940 * (9_940 + 9_910 + 9_880)), abs=1e-4)
    assert first.score == first.z > 5
    assert (snapshot.rule, snapshot.candidates, snapshot.min_volume) == ("rise", 3, 20)


def test_hour_rows_read_the_jobs_blocks_of_candidates_and_wiki_rows() -> None:
    block = (
        '["en.wikipedia","Tōkyō \\"Tower\\"",1,2,3,4,5,6,70,5,12],'
        '["de.wikipedia","Köln",0,0,0,20,30,40,0,0,0]'
    )
    assert hour_rows("articles", block) == [
        HourRow("en.wikipedia", 'Tōkyō "Tower"', Hour((1, 2, 3, 4, 5, 6), 70, 5, 12)),
        HourRow("de.wikipedia", "Köln", Hour((0, 0, 0, 20, 30, 40))),
    ]
    assert hour_rows("site", '["en.wikipedia",10,20,30,40,50,60,900,70,130]') == [
        HourRow("en.wikipedia", None, Hour((10, 20, 30, 40, 50, 60), 900, 70, 130))
    ]


def test_a_minute_with_nothing_rising_has_an_empty_list() -> None:
    rows = [HourRow("en.wikipedia", None, Hour((500,) * 6)), HourRow("en.wikipedia", "Flat", Hour((30,) * 6))]
    assert (
        trending_snapshot(T - T % MINUTE, rows, TrendingRule(), AccessRule(), top=50, computed_at=5).articles
        == []
    )


def test_hourly_files_are_the_same_bytes_for_the_same_hour() -> None:
    rows = [
        HourlyRow("en.wikipedia", "Zebra", 3),
        HourlyRow("en.wikipedia", "Ärger", 1),
        HourlyRow("de.wikipedia", "A", 2),
    ]
    first, again = hourly_counts_parquet(rows), hourly_counts_parquet(list(reversed(rows)))
    assert first == again
    table = pq.read_table(io.BytesIO(first)).to_pylist()
    assert table[0] == {
        "project": "de.wikipedia", "title": "A", "views": 2, "desktop_views": 0, "mobile_views": 0
    }  # fmt: skip


def test_hourly_counts_are_partitioned_by_date_and_hour() -> None:
    s3 = load_settings({}).s3
    key = hourly_counts_key(s3, parse_time_ms("2026-03-02T09:00:00Z"))
    assert key == "hourly-counts/date=2026-03-02/hour=09/counts.parquet"


def test_the_sql_uses_the_configured_names_and_rule() -> None:
    settings = load_settings(
        {"WIKITRENDS_STREAMING_TRENDING_MIN_VOLUME": "35", "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": "pv"}
    )
    # What the trending SQL computes (articles only, the configured volume) is checked by running it:
    # tests/integration/test_trending_transform.py.
    consumer = tables.pageviews_consumer(settings)
    assert consumer["bootstrap.servers"] == settings.kafka.bootstrap
    assert consumer["isolation.level"] == "read_committed"
    dead_letters = tables.dead_letter_sink_table(settings)
    assert "'sink.delivery-guarantee' = 'exactly-once'" in dead_letters
    assert "'properties.compression.type' = 'lz4'" in dead_letters
    # The window topics' JVM sink gets the same producer settings and the configured brokers.
    producer = tables.window_topics_producer(settings)
    assert producer["bootstrap.servers"] == settings.kafka.bootstrap and producer["compression.type"] == "lz4"


def test_an_hours_blocks_give_back_every_title_whatever_it_holds() -> None:
    # What the window operator's hourly blocks hold (streaming/jvm's WindowOperator.addHour; its own test
    # reads the same from Java).
    blocks = [
        '["en.wikipedia","A,\\"quoted\\"\\nline",3],["de.wikipedia","Ärger",1]',
        '["en.wikipedia","B",2]',
    ]
    assert hourly_rows(blocks) == [
        HourlyRow("en.wikipedia", 'A,"quoted"\nline', 3),
        HourlyRow("de.wikipedia", "Ärger", 1),
        HourlyRow("en.wikipedia", "B", 2),
    ]


def test_publication_retries_back_off_to_a_ceiling() -> None:
    delays = [retry_delay_seconds(failures) for failures in range(1, 9)]
    assert delays == [1, 2, 4, 8, 15, 15, 15, 15]
    assert max(delays) == RETRY_MAX_SECONDS


def test_times_in_logs_and_pages_are_utc_iso() -> None:
    assert iso_time(parse_time_ms("2026-03-02T08:40:00Z")) == "2026-03-02T08:40:00Z"
