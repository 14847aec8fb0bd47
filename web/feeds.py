"""The site's two feeds, trending and anomalies: everything a page or an API endpoint needs to show one.

A request shows one feed, chosen once in the route table (web/app.py): its
Redis key and decoder (for the reader), the earlier lists it is compared with
(what changed: core/list_changes.py), its JSON document and how long that may
be cached (for the API), and how many items its page lists by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from core.clickstream import ListNavigation
from core.contracts import Keys
from core.list_changes import listed_before, listed_ranks, trending_changes
from core.snapshots import AnomalySnapshot, TrendingSnapshot, decode_anomalies, decode_trending
from core.windows import HOUR_MS, MINUTE_MS
from web.views import DEFAULT_LIMIT, anomalies_document, seconds_until_next_minute, trending_document

ANOMALIES_MAX_AGE = 300  # an hourly value: five minutes of caching is harmless
TRENDING_PAGE_LIMIT = 20


ArticleChanges = dict[tuple[str, str], dict[str, Any]]  # (project, title) -> its "what changed" fields


@dataclass(frozen=True)
class ListHistory:
    """The earlier lists a feed's snapshot is compared with, and what each of its articles gets."""

    keys: Callable[[Any], list[str]]  # snapshot -> the Redis keys of the earlier lists
    changes: Callable[[Any, list[bytes | None]], ArticleChanges]  # snapshot, those lists -> changes


@dataclass(frozen=True)
class Feed:
    """One list the jobs publish, as the site reads and shows it."""

    name: str  # "trending" or "anomalies": the page highlighted in the navigation
    key: str  # the Redis key of the newest snapshot
    navigation_key: str  # where its articles' readers come from (batch/navigation.py)
    decode: Callable[[bytes], Any]
    history: ListHistory
    # (snapshot, its navigation or None, project, limit, edit context or None, changes or None) -> JSON
    document: Callable[
        [Any, ListNavigation | None, str | None, int, dict | None, ArticleChanges | None], dict[str, Any]
    ]
    max_age: Callable[[], int]  # seconds a JSON answer may be cached
    page_limit: int


@dataclass(frozen=True)
class Feeds:
    trending: Feed
    anomalies: Feed


def trending_history(keys: Keys, kept_minutes: int) -> ListHistory:
    """A trending list against the ``kept_minutes`` lists before it (the retention of the minute lists)."""

    def earlier_keys(snapshot: TrendingSnapshot) -> list[str]:
        return [keys.trending_minute(snapshot.minute - k * MINUTE_MS) for k in range(1, kept_minutes + 1)]

    def changes(snapshot: TrendingSnapshot, earlier: list[bytes | None]) -> ArticleChanges:
        current = {(a.project, a.title): a.rank for a in snapshot.articles}
        found = trending_changes(current, [listed_ranks(document) for document in earlier])
        return {article: asdict(change) for article, change in found.items()}

    return ListHistory(earlier_keys, changes)


def anomalies_history(keys: Keys) -> ListHistory:
    """An hour's anomaly list against the hour before's."""

    def changes(snapshot: AnomalySnapshot, earlier: list[bytes | None]) -> ArticleChanges:
        current = [(a.project, a.title) for a in snapshot.articles]
        before = listed_before(current, listed_ranks(earlier[0]))
        return {article: {"listed_hour_before": was} for article, was in before.items()}

    return ListHistory(lambda snapshot: [keys.anomalies_hour(snapshot.hour_start - HOUR_MS)], changes)


def feeds(keys: Keys, trending_kept_minutes: int) -> Feeds:
    """Both feeds, reading the keys the jobs write; ``trending_kept_minutes``: how many minute lists the
    streaming job keeps ([streaming] trending_retention_minutes)."""
    return Feeds(
        trending=Feed(
            name="trending",
            key=keys.trending_latest,
            navigation_key=keys.navigation_latest("trending"),
            decode=decode_trending,
            history=trending_history(keys, trending_kept_minutes),
            document=trending_document,
            max_age=lambda: seconds_until_next_minute(int(time.time() * 1000)),
            page_limit=TRENDING_PAGE_LIMIT,
        ),
        anomalies=Feed(
            name="anomalies",
            key=keys.anomalies_latest,
            navigation_key=keys.navigation_latest("anomalies"),
            decode=decode_anomalies,
            history=anomalies_history(keys),
            document=anomalies_document,
            max_age=lambda: ANOMALIES_MAX_AGE,
            page_limit=DEFAULT_LIMIT,
        ),
    )
