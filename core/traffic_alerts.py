"""TRAFFIC_SPIKE: a watched article's readers rise, once per rise (a mountain, not a spire).

An article's rise is its run of minutes on the trending list (core/trending.py: a sustained rise
beyond its wiki's rhythm and counting noise, never one burst), where a break of fewer than
``quiet_minutes`` minutes off the list does not end it. The first minute of a rise on which the
article's title is a variant of a watched entity (core.edit_rules.WatchList) raises one alert with
the numbers behind the listing; the rest of the rise raises none. Pure: the page-view job keeps a
``Rise`` per article in Flink state (streaming/pageviews/traffic.py) and ``traffic_alerts_of_lists``
is the same rule over a sequence of lists, for tests and benchmarks.

The hourly anomaly lists raise it too (``anomaly_traffic_alerts``, published by batch/anomalies.py):
a watched article on an hour's list that was not on the hour before's, once per run of hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from core.clickstream import wiki_of_project
from core.edit_rules import TRAFFIC_SPIKE, EditAlert, WatchList
from core.list_changes import listed_before
from core.snapshots import AnomalySnapshot, TrendingArticle, TrendingSnapshot
from core.windows import MINUTE_MS, iso_time


@dataclass(frozen=True)
class Rise:
    """One article's current rise: its first and latest minute on the list, and the entities alerted."""

    first_minute: int
    last_minute: int
    alerted: tuple[str, ...] = ()


def listed_again(rise: Rise | None, minute_ms: int, quiet_minutes: int) -> Rise:
    """The article's rise after it is listed at ``minute_ms``: the same rise when it was listed fewer
    than ``quiet_minutes`` minutes before (or later: lists may arrive out of order), else a new one."""
    if rise is not None and minute_ms - rise.last_minute < quiet_minutes * MINUTE_MS:
        return replace(rise, last_minute=max(rise.last_minute, minute_ms))
    return Rise(minute_ms, minute_ms)


def wiki_of(project: str) -> str:
    """The wiki's database name (enwiki) for a project (en.wikipedia), as edit alerts name it."""
    return wiki_of_project(project) or project


def spike_alert(entity: str, project: str, title: str, since_ms: int, reason: str, views: dict) -> EditAlert:
    """A TRAFFIC_SPIKE record: about readers, so no user, comment or revision; ``views`` its numbers."""
    return EditAlert(
        alert_type=TRAFFIC_SPIKE,
        alert_reason=reason,
        entity=entity,
        wiki=wiki_of(project),
        project=project,
        title=title,
        user=None,
        is_bot=False,
        timestamp_ms=since_ms,
        comment="",
        size_change=0,
        revision_id=None,
        views=views,
    )


def traffic_alert(entity: str, article: TrendingArticle, minute_ms: int, rise: Rise) -> EditAlert:
    """The alert for ``article`` listed at ``minute_ms`` in ``rise``: its id is the rise's (a replay of
    the same lists raises the same alert)."""
    since = iso_time(rise.first_minute)[11:16]
    reason = f"trending on {article.project} since {since} UTC, rank {article.rank}"
    if article.growth is not None and article.z is not None:
        reason += (
            f": its last half hour ×{article.growth:.1f} of what its wiki's rhythm predicts, "
            f"{article.z:.1f} noise units above it"
        )
    return spike_alert(
        entity,
        article.project,
        article.title,
        rise.first_minute,
        reason,
        {
            "source": "trending",
            "minute": minute_ms,
            "rank": article.rank,
            "counts": list(article.counts),
            "expected": list(article.expected),
            "growth": article.growth,
            "z": article.z,
        },
    )


def spike_of(
    rise: Rise | None, article: TrendingArticle, minute_ms: int, watchlist: WatchList, quiet_minutes: int
) -> tuple[Rise, EditAlert | None]:
    """The article's rise after this listing, and the alert it raises (None: unwatched, or its entity
    was alerted earlier in the rise)."""
    rise = listed_again(rise, minute_ms, quiet_minutes)
    entity = watchlist.entity_of(article.title)
    if entity is None or entity in rise.alerted:
        return rise, None
    rise = replace(rise, alerted=(*rise.alerted, entity))
    return rise, traffic_alert(entity, article, minute_ms, rise)


def traffic_alerts_of_lists(
    lists: Iterable[TrendingSnapshot], watchlist: WatchList, quiet_minutes: int
) -> list[EditAlert]:
    """Every TRAFFIC_SPIKE a sequence of minute lists raises, in order: the page-view job's rule, article
    by article."""
    rises: dict[tuple[str, str], Rise] = {}
    alerts = []
    for snapshot in sorted(lists, key=lambda s: s.minute):
        for article in snapshot.articles:
            key = (article.project, article.title)
            rises[key], alert = spike_of(rises.get(key), article, snapshot.minute, watchlist, quiet_minutes)
            if alert is not None:
                alerts.append(alert)
    return alerts


def anomaly_traffic_alerts(
    snapshot: AnomalySnapshot, hour_before: dict[tuple[str, str], int] | None, watchlist: WatchList
) -> list[EditAlert]:
    """TRAFFIC_SPIKE for each watched article new on an hour's anomaly list. ``hour_before``: the hour
    before's list as (project, title) -> rank (core.list_changes.listed_ranks), None when there is none
    (then every watched article listed is new)."""
    was_listed = listed_before([(a.project, a.title) for a in snapshot.articles], hour_before)
    alerts = []
    for article in snapshot.articles:
        entity = watchlist.entity_of(article.title)
        if entity is None or was_listed[(article.project, article.title)]:
            continue
        reason = (
            f"anomalous on {article.project} from {snapshot.hour:02d}:00 UTC, rank {article.rank}: "
            f"score {article.score:.1f} (distance {article.distance:.2f}, "
            f"usually {article.expected_distance:.2f})"
        )
        alerts.append(
            spike_alert(
                entity,
                article.project,
                article.title,
                snapshot.hour_start,
                reason,
                {
                    "source": "anomalies",
                    "hour_start": snapshot.hour_start,
                    "rank": article.rank,
                    "score": article.score,
                    "distance": article.distance,
                    "expected_distance": article.expected_distance,
                    "today": list(article.today),
                    "history": list(article.history),
                },
            )
        )
    return alerts
