"""Snapshots in Redis: what the jobs publish and the site reads.

One JSON document per snapshot, written with a single SET, so a reader never
sees half a list. Keys (under the configured prefix, ``wikitrends`` by default):

  trending:latest           the newest minute's trending list
  trending:minute:<ms>      the list for the minute ending at <ms> (epoch ms)
  trending:minutes          sorted set of the minutes kept, scored by minute
  anomalies:latest          the newest hour's anomaly list
  anomalies:hour:<ms>       the list for the hour starting at <ms>
  navigation:<list>:latest  where the readers of each article of the newest trending or
                            anomalies list come from (core.clickstream, batch/navigation.py)

Trending minutes older than the retention (in event time, so accelerated runs
behave like real ones) are deleted as newer ones arrive. Writing a minute
again writes the same document: re-runs and restarts are idempotent, and
"latest" only ever moves forward.

This module holds the documents and their encoding only: the jobs write them with
stores.snapshots.SnapshotWriter, the site reads them with web.snapshots.SnapshotReader.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class TrendingArticle:
    rank: int
    project: str
    title: str
    counts: list[int]  # six 10-minute counts, oldest first
    window_ends: list[int]  # epoch ms of each window's end
    score: float  # what the list is ranked by (core/trending.py): z under "rise"
    # What its share of its wiki's views over the 90 minutes before the last half hour predicts for each
    # window; the last half hour's views over their expectation; noise units above it. Empty/None in
    # lists from before the rule.
    expected: list[float] = field(default_factory=list)
    growth: float | None = None
    z: float | None = None
    # The mobile site's share of the hour's views of known access (None when no view says its access),
    # and whether the article is likely automated traffic (core/automated.py).
    mobile_share: float | None = None
    likely_automated: bool = False


@dataclass(frozen=True)
class TrendingSnapshot:
    minute: int  # epoch ms: the end of the last hour these counts cover
    computed_at: int  # epoch ms, wall clock, when the job wrote it
    min_volume: int
    articles: list[TrendingArticle] = field(default_factory=list)
    # The rule and thresholds the list was made with (core/trending.py); None before the rule existed.
    rule: str | None = None
    min_z: float | None = None
    min_growth: float | None = None
    candidates: int | None = None  # articles judged this minute (newest window at least min_volume)
    # Trending articles likely automated ([streaming] automated_*): apart from the list, not hidden.
    automated: list[TrendingArticle] = field(default_factory=list)


@dataclass(frozen=True)
class AnomalousArticle:
    rank: int
    project: str
    title: str
    distance: float  # Canberra distance between today and history
    today: list[float]  # views per hour, hours 0..H of the day
    history: list[float]  # historical average views for the same hours
    expected_distance: float  # the distance the article's past days had on average (its noise)
    score: float  # the larger of day_score and hour_score: what the list is ranked by
    day_score: float  # standard deviations the distance is above expected_distance
    hour_score: float  # the same for the latest hour's term alone
    # Standard deviations of counting (Poisson) noise today's views are from the average: the largest |z| of
    # any hour so far, and the latest hour's z. None in lists published before the job computed them.
    day_poisson_z: float | None = None
    hour_poisson_z: float | None = None
    # The mobile site's share of today's views of known access up to the hour (None: none known).
    mobile_share: float | None = None


@dataclass(frozen=True)
class AnomalySnapshot:
    date: str  # YYYY-MM-DD
    hour: int  # the last hour included (0..23)
    hour_start: int  # epoch ms of that hour
    computed_at: int
    min_score: float  # the score an article needed to be published
    compared: int  # how many articles passed the volume rule and were scored
    articles: list[AnomalousArticle] = field(default_factory=list)
    # The |poisson z| a part of the score needed to count; None in lists published before that rule.
    min_poisson_z: float | None = None


def encode(snapshot: TrendingSnapshot | AnomalySnapshot) -> str:
    return json.dumps(asdict(snapshot), ensure_ascii=False, separators=(",", ":"))


def decode_trending(raw: bytes | str) -> TrendingSnapshot:
    data = json.loads(raw)
    return TrendingSnapshot(
        minute=data["minute"],
        computed_at=data["computed_at"],
        min_volume=data["min_volume"],
        articles=[TrendingArticle(**article) for article in data["articles"]],
        rule=data.get("rule"),
        min_z=data.get("min_z"),
        min_growth=data.get("min_growth"),
        candidates=data.get("candidates"),
        automated=[TrendingArticle(**article) for article in data.get("automated", [])],
    )


def decode_anomalies(raw: bytes | str) -> AnomalySnapshot:
    data = json.loads(raw)
    return AnomalySnapshot(
        date=data["date"],
        hour=data["hour"],
        hour_start=data["hour_start"],
        computed_at=data["computed_at"],
        min_score=data["min_score"],
        compared=data["compared"],
        articles=[AnomalousArticle(**article) for article in data["articles"]],
        min_poisson_z=data.get("min_poisson_z"),
    )
