"""The batch jobs' transforms on small DataFrames in a local Spark (no S3, no Redis): each against
tests/oracle.py on the same numbers.

The backfill's averages and noise, the daily fold, the anomaly distances and scores at every hour and
the published list's ranking are the jobs' own functions (batch/backfill.py, batch/update_averages.py,
batch/anomaly_scores.py); test_batch.py runs the same jobs end to end through spark-submit, S3 and
Redis.
"""

from __future__ import annotations

import random

import pytest

from core.anomalies import HOUR_COLUMNS, HOURS_PER_DAY, NOISE_STATISTICS, noise_column
from tests.oracle import (
    Noise,
    anomaly_score,
    canberra_distance,
    fold_day,
    fold_noise,
    is_eligible,
    noise_of_days,
    rank_key,
)

PROJECT = "en.wikipedia"
DAYS = 6
MIN_POISSON_Z = 3.0
SCORE_FIELDS = ("expected_distance", "day_score", "hour_score", "day_poisson_z", "hour_poisson_z", "score")


def random_day(rng: random.Random, level: float) -> list[float]:
    """24 hourly counts around ``level``: some hours empty, a few far off."""
    return [
        float(rng.choice([0, int(level * rng.uniform(0.5, 1.5)), int(level * rng.uniform(0, 6))]))
        for _ in range(HOURS_PER_DAY)
    ]


@pytest.fixture(scope="module", autouse=True)
def interpreted(spark):
    """Whole-stage code generation compiles the jobs' wide plans (24 hours, 96 noise columns) for most
    of a minute per query; on a few rows, interpreting them gives the same rows in seconds."""
    spark.conf.set("spark.sql.codegen.wholeStage", "false")
    yield
    spark.conf.unset("spark.sql.codegen.wholeStage")


@pytest.fixture(scope="module")
def history() -> dict[str, list[list[float]]]:
    """Six days of hourly views per title; a title absent on a day had no views that day."""
    rng = random.Random(33)
    days: dict[str, list[list[float]]] = {}
    for n in range(14):
        level = rng.choice([0.5, 3, 40, 900])
        days[f"Page_{n}"] = [random_day(rng, level) for _ in range(DAYS)]
    days["Silent_Most_Days"] = [[0.0] * 24 for _ in range(DAYS - 1)] + [random_day(rng, 30)]
    return days


@pytest.fixture(scope="module")
def backfilled(spark, history):
    """The backfill's averages and noise of ``history``: its rows, and the same as a DataFrame with
    none of the backfill's plan behind it (the next job reads them from S3 the same way)."""
    from batch.backfill import averages_and_noise

    computed = averages_and_noise(per_day_frame(spark, history), DAYS)
    rows = computed.collect()
    return rows, spark.createDataFrame(rows, computed.schema)


def per_day_frame(spark, history: dict[str, list[list[float]]]):
    """The backfill's daily rows (project, title, day, h00 … h23), no row for a day without views."""
    rows = [
        (PROJECT, title, f"2026-03-{day + 1:02d}", *hours)
        for title, days in history.items()
        for day, hours in enumerate(days)
        if any(hours)
    ]
    schema = ", ".join(["project string, title string, day string", *(f"{c} double" for c in HOUR_COLUMNS)])
    return spark.createDataFrame(rows, schema)


def hourly_frame(spark, views: dict[str, list[float]]):
    """One day's rows (project, title, hour, views), as the jobs read them from the hourly counts."""
    return spark.createDataFrame(
        [
            (PROJECT, title, h, count)
            for title, hours in views.items()
            for h, count in enumerate(hours)
            if count
        ],
        "project string, title string, hour int, views double",
    )


def noise_of_row(row, scored_days: int) -> Noise:
    def statistic(name: str) -> list[float]:
        return [row[noise_column(name, h)] for h in range(HOURS_PER_DAY)]

    return Noise(*(statistic(name) for name in NOISE_STATISTICS), scored_days)


def assert_close(got: list[float], want: list[float]) -> None:
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_the_backfill_averages_each_hour_and_scores_each_day_against_the_others(history, backfilled) -> None:
    rows = {row.title: row for row in backfilled[0]}
    assert set(rows) == set(history)
    for title, days in history.items():
        row = rows[title]
        assert_close([row[c] for c in HOUR_COLUMNS], [sum(day[h] for day in days) / DAYS for h in range(24)])
        want = noise_of_days(days)
        got = noise_of_row(row, DAYS)
        for name in NOISE_STATISTICS:
            assert_close(getattr(got, name), getattr(want, name))


def test_the_daily_fold_adds_one_day_to_the_averages_and_its_score_to_the_noise(
    spark, history, backfilled
) -> None:
    from batch.update_averages import folded

    averages = backfilled[1]
    rng = random.Random(34)
    new_day = {title: random_day(rng, 50) for title in [*list(history)[::2], "New_Today"]}
    got = {row.title: row for row in folded(averages, hourly_frame(spark, new_day), DAYS, DAYS).collect()}
    assert set(got) == set(history) | {"New_Today"}
    for title in got:
        days = history.get(title, [])
        before = [sum(day[h] for day in days) / DAYS for h in range(24)]
        views = new_day.get(title, [0.0] * 24)
        want_averages = [fold_day(a, DAYS, v) for a, v in zip(before, views, strict=True)]
        assert_close([got[title][c] for c in HOUR_COLUMNS], want_averages)
        noise_before = noise_of_days(days) if days else Noise.silent(DAYS)
        want = fold_noise(noise_before, before, views)
        for name in NOISE_STATISTICS:
            assert_close(getattr(noise_of_row(got[title], DAYS + 1), name), getattr(want, name))
        assert got[title].days == DAYS + 1


def test_the_anomaly_scores_at_each_hour_and_the_published_list_follow_the_oracle(
    spark, history, backfilled
) -> None:
    from batch.anomaly_scores import anomaly_distances, published_articles

    averages_rows, averages = backfilled
    rng = random.Random(35)
    today = {title: random_day(rng, rng.choice([2, 60, 700])) for title in list(history)[1:]}
    today["Spike_Today"] = [40.0] * 10 + [4000.0] * 14  # new: no history at all
    scored_hours, min_hourly_views = [0, 7, 16, 23], 20.0
    computed = anomaly_distances(
        hourly_frame(spark, today), averages, scored_hours, min_hourly_views, MIN_POISSON_Z
    )
    rows = computed.collect()
    distances = spark.createDataFrame(rows, computed.schema)
    means = {row.title: [row[c] for c in HOUR_COLUMNS] for row in averages_rows}
    noises = {row.title: noise_of_row(row, DAYS) for row in averages_rows}

    expected = {}
    for title in set(today) | set(history):
        for hour in scored_hours:
            x = today.get(title, [0.0] * 24)[: hour + 1]
            y = means.get(title, [0.0] * 24)[: hour + 1]
            if is_eligible(x, y, min_hourly_views):
                noise = noises.get(title, Noise.silent(DAYS))
                expected[(title, hour)] = (x, y, anomaly_score(x, y, noise, MIN_POISSON_Z))
    assert {(row.title, row.hour) for row in rows} == set(expected)
    assert len(expected) > 20
    for row in rows:
        x, y, score = expected[(row.title, row.hour)]
        assert_close(row.today, x)
        assert_close(row.history, y)
        assert row.distance == pytest.approx(canberra_distance(x, y), rel=1e-9, abs=1e-9)
        for name in SCORE_FIELDS:
            want = getattr(score, name)
            assert row[name] == pytest.approx(want, rel=1e-9, abs=1e-9), (row.title, row.hour, name)

    min_score, top = 1.0, 3
    published = published_articles(distances, min_score, top)
    for hour in scored_hours:
        ranked = sorted(
            (rank_key(score.score, PROJECT, title), title)
            for (title, h), (_, _, score) in expected.items()
            if h == hour and score.score >= min_score
        )
        assert [item.title for item in published.get(hour, [])] == [title for _, title in ranked[:top]]
        assert [item.rank for item in published.get(hour, [])] == list(range(1, len(ranked[:top]) + 1))
    assert any(item.title == "Spike_Today" for item in published[23])
