"""The anomaly scores as Spark transforms: today's hourly vector against the averages, per article and hour.

Pure DataFrame in, DataFrame out (batch/anomalies.py reads the inputs and publishes the results): the
Canberra distance of hours 0..H, scored against the article's own noise (core.anomalies), counted only
where its views are also unlikely as counting noise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from batch.expressions import (
    canberra_term,
    counted,
    hour_floor,
    hour_poisson_zs,
    level_poisson_zs,
    running_sums,
    wide_sum,
    z_score,
)
from batch.storage import KEY
from core.anomalies import NOISE_STATISTICS, hour_column, noise_column
from core.snapshots import AnomalousArticle

TODAY = "today_"  # prefix of today's hour columns after the join; history keeps h00 … hH
# What anomaly_distances gives per article and scored hour, besides the article (KEY).
DISTANCE_COLUMNS = [
    "hour",
    "distance",
    "expected_distance",
    "score",
    "day_score",
    "hour_score",
    "day_poisson_z",
    "hour_poisson_z",
    "today",
    "history",
]


def anomaly_distances(
    today: DataFrame,
    history: DataFrame,
    scored_hours: Sequence[int],
    min_hourly_views: float,
    min_poisson_z: float,
    prune: bool = True,
) -> DataFrame:
    """Every eligible article at each scored hour H: its two vectors over hours 0..H, distance and score.

    ``today``: (project, title, hour, views) rows for hours 0..max(scored_hours);
    ``history``: the averages (project, title, h00 … h23 and the noise columns).
    One row per article and scored hour it is eligible at (column ``hour``).
    Articles missing on one side count as zeros there (a full outer join, done
    on the candidates only unless ``prune`` is False, which joins everything:
    same result, slower).
    """
    hours = range(max(scored_hours) + 1)
    columns = [hour_column(h) for h in hours]
    noise = [noise_column(statistic, h) for h in scored_hours for statistic in NOISE_STATISTICS]
    history = history.select(*KEY, *columns, *noise)
    if prune and min_hourly_views > 0:  # with no volume rule every article is a candidate
        # An article eligible at hour H averages min_hourly_views over 0..H on one side, so it has an
        # hour with that many views there: candidates are the articles with such an hour.
        busy_today = today.filter(F.col("views") >= min_hourly_views).select(*KEY).distinct()
        busy_history = history.filter(F.greatest(*columns, F.lit(0.0)) >= min_hourly_views).select(*KEY)
        candidates = F.broadcast(busy_today.unionByName(busy_history).distinct())
        today, history = today.join(candidates, KEY, "left_semi"), history.join(candidates, KEY, "left_semi")
    today_wide = (
        today.groupBy(*KEY)
        .agg(*wide_sum(F.col("hour"), F.col("views"), hours))
        .select(*KEY, *[F.col(c).alias(TODAY + c) for c in columns])
    )
    today_cols = [F.col(TODAY + c) for c in columns]
    history_cols = [F.col(c) for c in columns]
    # Each hour's term and floor once, as columns; the per-hour sums below only add them up.
    joined = (
        today_wide.join(history, KEY, "full_outer")
        .fillna(0.0)
        .select(
            "*",
            *[canberra_term(today_cols[h], history_cols[h]).alias(f"term_{h}") for h in hours],
            *[hour_floor(today_cols[h], history_cols[h]).alias(f"floor_{h}") for h in hours],
            *[z.alias(f"poisson_z_{h}") for h, z in enumerate(hour_poisson_zs(today_cols, history_cols))],
            *[
                z.alias(f"level_poisson_z_{h}")
                for h, z in enumerate(level_poisson_zs(today_cols, history_cols))
            ],
        )
    )
    terms = [F.col(f"term_{h}") for h in hours]
    floors = [F.col(f"floor_{h}") for h in hours]
    latest_hour_poisson_zs = [F.col(f"poisson_z_{h}") for h in hours]
    # The day's: the largest |poisson z| of hours 0..h, each hour against its average scaled to the day's
    # level up to it (the day's shape at its own level).
    level_zs = [F.col(f"level_poisson_z_{h}") for h in hours]
    day_poisson_zs = [F.greatest(*level_zs[: h + 1], F.lit(0.0)) for h in hours]
    distances = running_sums(terms)
    day_floors = [F.sqrt(s) for s in running_sums([f * f for f in floors])]
    today_totals, history_totals = running_sums(today_cols), running_sums(history_cols)

    def at_hour(h: int) -> Column:
        term_mean, term_square, distance_mean, distance_square = (
            F.col(noise_column(statistic, h)) for statistic in NOISE_STATISTICS
        )
        day_score = z_score(distances[h], distance_mean, distance_square, day_floors[h])
        hour_score = z_score(terms[h], term_mean, term_square, floors[h])
        day_poisson_z, hour_poisson_z = day_poisson_zs[h], latest_hour_poisson_zs[h]
        score = F.greatest(
            counted(day_score, day_poisson_z, min_poisson_z),
            counted(hour_score, hour_poisson_z, min_poisson_z),
        )
        return F.struct(
            F.lit(h).alias("hour"),
            (F.greatest(today_totals[h], history_totals[h]) >= min_hourly_views * (h + 1)).alias("eligible"),
            distances[h].alias("distance"),
            distance_mean.alias("expected_distance"),
            score.alias("score"),
            day_score.alias("day_score"),
            hour_score.alias("hour_score"),
            day_poisson_z.alias("day_poisson_z"),
            hour_poisson_z.alias("hour_poisson_z"),
            F.array(*today_cols[: h + 1]).alias("today"),
            F.array(*history_cols[: h + 1]).alias("history"),
        )

    scored = joined.select(*KEY, F.explode(F.array(*[at_hour(h) for h in scored_hours])).alias("at"))
    return scored.filter("at.eligible").select(*KEY, *[f"at.{name}" for name in DISTANCE_COLUMNS])


def published_articles(distances: DataFrame, min_score: float, top: int) -> dict[int, list[AnomalousArticle]]:
    """Per scored hour, at most ``top`` articles scoring at least ``min_score``, highest first, ties by
    project then title."""
    ranking = Window.partitionBy("hour").orderBy(F.desc("score"), *KEY)
    rows = (
        distances.filter(F.col("score") >= min_score)
        .withColumn("rank", F.row_number().over(ranking))
        .filter(F.col("rank") <= top)
        .orderBy("hour", "rank")
        .collect()
    )
    published: dict[int, list[AnomalousArticle]] = defaultdict(list)
    for row in rows:  # the row's columns are the item's fields, plus the hour it belongs to
        fields = row.asDict()
        published[fields.pop("hour")].append(AnomalousArticle(**fields))
    return published
