"""The synthetic world: seeded, Zipf-shaped, with scenarios that do what they say."""

from __future__ import annotations

import numpy as np
import pytest

from producer.world import (
    DAILY_CURVE,
    HOUR_MS,
    MINUTE_MS,
    Catalogue,
    background_views,
    hourly_views,
    minute_events,
    parse_duration_ms,
    parse_scenario,
    parse_time_ms,
)

START = parse_time_ms("2026-01-01T10:00:00Z")
CATALOGUE = Catalogue(50_000)


def test_the_daily_curve_averages_one() -> None:
    assert len(DAILY_CURVE) == 24
    assert sum(DAILY_CURVE) / 24 == pytest.approx(1.0)


def test_a_minute_is_the_same_for_the_same_seed_and_different_for_another() -> None:
    ranks_a, ts_a = minute_events(CATALOGUE, START, 5_000, seed=7)
    ranks_b, ts_b = minute_events(CATALOGUE, START, 5_000, seed=7)
    ranks_c, _ = minute_events(CATALOGUE, START, 5_000, seed=8)
    assert np.array_equal(ranks_a, ranks_b) and np.array_equal(ts_a, ts_b)
    assert not np.array_equal(ranks_a, ranks_c)


def test_events_lie_inside_their_minute_in_time_order() -> None:
    ranks, timestamps = minute_events(CATALOGUE, START, 5_000, seed=1)
    assert ranks.size == background_views(5_000, START)
    assert timestamps.min() >= START and timestamps.max() < START + MINUTE_MS
    assert np.all(np.diff(timestamps) >= 0)


def test_popularity_follows_zipf() -> None:
    ranks = np.concatenate(
        [minute_events(CATALOGUE, START + i * MINUTE_MS, 20_000, seed=3)[0] for i in range(10)]
    )
    observed = np.bincount(ranks, minlength=CATALOGUE.size)[:20] / ranks.size
    expected = CATALOGUE.probabilities[:20]
    assert np.allclose(observed, expected, rtol=0.1)
    assert observed[0] / observed[9] == pytest.approx(10, rel=0.15)  # exponent 1: rank 1 is 10x rank 10


def test_trend_rises_every_minute_to_its_size() -> None:
    trend = parse_scenario("trend", "+0m,60m,600", START, CATALOGUE)
    extras = [trend.extra_views(START + i * MINUTE_MS) for i in range(60)]
    assert extras[-1] == 600
    assert all(later >= earlier for earlier, later in zip(extras, extras[1:], strict=False))
    assert trend.extra_views(START + 60 * MINUTE_MS) == 0
    ranks, _ = minute_events(CATALOGUE, START + 59 * MINUTE_MS, 1_000, seed=1, scenarios=(trend,))
    assert np.count_nonzero(ranks == trend.rank) >= 600


def test_spike_adds_its_size_and_drop_silences_the_article() -> None:
    spike = parse_scenario("spike", "+0m,2h,250", START, CATALOGUE)
    drop = parse_scenario("drop", "+0m,2h,0", START, CATALOGUE)
    ranks, _ = minute_events(CATALOGUE, START, 20_000, seed=1, scenarios=(spike, drop))
    assert np.count_nonzero(ranks == spike.rank) >= 250
    assert np.count_nonzero(ranks == drop.rank) == 0
    quiet, _ = minute_events(CATALOGUE, START, 20_000, seed=1)
    assert np.count_nonzero(quiet == drop.rank) > 0


def test_scenario_specs() -> None:
    trend = parse_scenario("trend", "2026-01-01T11:00:00Z,30m,100,Article_123", START, CATALOGUE)
    assert (trend.title, trend.rank, trend.start_ms, trend.duration_ms) == (
        "Article_123",
        123,
        START + HOUR_MS,
        30 * MINUTE_MS,
    )
    with pytest.raises(ValueError, match="START,DURATION,SIZE"):
        parse_scenario("trend", "+0m,30m", START, CATALOGUE)
    with pytest.raises(ValueError, match="not a title of the synthetic catalogue"):
        parse_scenario("spike", "+0m,30m,5,Nope", START, CATALOGUE)
    with pytest.raises(ValueError, match="unknown scenario kind"):
        parse_scenario("wobble", "+0m,30m,5", START, CATALOGUE)
    assert parse_duration_ms("90s") == 90_000
    with pytest.raises(ValueError):
        parse_duration_ms("ten minutes")


def test_catalogue_titles_map_back_to_ranks() -> None:
    for rank in (0, 5, 11, 12, 45_000, 49_999):
        assert CATALOGUE.rank(CATALOGUE.title(rank)) == rank
    with pytest.raises(ValueError, match="beyond"):
        CATALOGUE.rank("Article_50000")
    # A watched entity's variant stands at its rank (make run's TRAFFIC_SPIKE), in no small catalogue.
    assert CATALOGUE.title(45_000) == "Machine_intelligence"
    with pytest.raises(ValueError, match="beyond"):
        Catalogue(20_000).rank("Machine_intelligence")


def test_history_hours_match_the_stream_expectation() -> None:
    views = hourly_views(CATALOGUE, START, 5_000, seed=1)
    expected_total = 5_000 * 60 * DAILY_CURVE[10]
    assert views.sum() == pytest.approx(expected_total, rel=0.02)
    assert views[0] == pytest.approx(expected_total * CATALOGUE.probabilities[0], rel=0.05)


def test_history_applies_scenarios() -> None:
    spike = parse_scenario("spike", "+0m,1h,100", START, CATALOGUE)
    drop = parse_scenario("drop", "+30m,1h,0", START, CATALOGUE)
    plain = hourly_views(CATALOGUE, START, 5_000, seed=1)
    changed = hourly_views(CATALOGUE, START, 5_000, seed=1, scenarios=(spike, drop))
    assert changed[spike.rank] == plain[spike.rank] + 6_000
    assert changed[drop.rank] == round(plain[drop.rank] / 2)


def test_history_writes_the_hours_asked_for_with_only_the_most_popular_articles(tmp_path) -> None:
    import pyarrow.parquet as pq

    from producer.__main__ import main

    args = ["history", "--catalogue-size", "50000", "--views-per-minute", "5000", "--format", "counts"]
    args += ["--from", "2026-01-01", "--hours", "3", "--top-ranks", "1000", "--out", str(tmp_path)]
    assert main(args) == 0
    files = sorted(tmp_path.glob("date=*/hour=*/counts.parquet"))
    assert [f.parent.name for f in files] == ["hour=00", "hour=01", "hour=02"]
    written = pq.read_table(files[2]).to_pydict()
    views = hourly_views(CATALOGUE, parse_time_ms("2026-01-01T02:00:00Z"), 5_000, seed=1)[:1000]
    assert dict(zip(written["title"], written["views"], strict=True)) == {
        CATALOGUE.title(rank): int(views[rank]) for rank in np.flatnonzero(views)
    }


def test_history_takes_days_or_hours_not_both(tmp_path) -> None:
    from producer.__main__ import main

    with pytest.raises(SystemExit):
        main(["history", "--from", "2026-01-01", "--days", "1", "--hours", "3", "--out", str(tmp_path)])


def test_drawn_trends_are_seeded_spread_over_their_hours_and_large_enough_to_show() -> None:
    from producer.world import DRAWN_TREND_MIN_SIZE, drawn_trends

    catalogue = Catalogue(100_000)
    start = parse_time_ms("2026-03-02T06:00:00Z")
    trends = drawn_trends(catalogue, start, 120_000, per_hour=4, hours=3, seed=9)
    assert trends == drawn_trends(catalogue, start, 120_000, per_hour=4, hours=3, seed=9)
    assert len(trends) == 12 and len({t.rank for t in trends}) == 12
    for index, trend in enumerate(trends):
        hour_start = start + (index // 4) * 3_600_000
        assert hour_start <= trend.start_ms < hour_start + 3_600_000
        assert trend.kind == "trend" and trend.size >= DRAWN_TREND_MIN_SIZE
        assert trend.duration_ms in (30 * 60_000, 60 * 60_000, 120 * 60_000)
