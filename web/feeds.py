"""The site's two feeds, trending and anomalies: everything a page or an API endpoint needs to show one.

A request shows one feed, chosen once in the route table (web/app.py): its
Redis key and decoder (for the reader), its JSON document and how long that
may be cached (for the API), and how many items its page lists by default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.clickstream import ListNavigation
from core.contracts import Keys
from core.snapshots import decode_anomalies, decode_trending
from web.views import DEFAULT_LIMIT, anomalies_document, seconds_until_next_minute, trending_document

ANOMALIES_MAX_AGE = 300  # an hourly value: five minutes of caching is harmless
TRENDING_PAGE_LIMIT = 20


@dataclass(frozen=True)
class Feed:
    """One list the jobs publish, as the site reads and shows it."""

    name: str  # "trending" or "anomalies": the page highlighted in the navigation
    key: str  # the Redis key of the newest snapshot
    navigation_key: str  # where its articles' readers come from (batch/navigation.py)
    decode: Callable[[bytes], Any]
    # (snapshot, its navigation or None, project, limit, edit context or None) -> JSON
    document: Callable[[Any, ListNavigation | None, str | None, int, dict | None], dict[str, Any]]
    max_age: Callable[[], int]  # seconds a JSON answer may be cached
    page_limit: int


@dataclass(frozen=True)
class Feeds:
    trending: Feed
    anomalies: Feed


def feeds(keys: Keys) -> Feeds:
    """Both feeds, reading the keys the jobs write."""
    return Feeds(
        trending=Feed(
            name="trending",
            key=keys.trending_latest,
            navigation_key=keys.navigation_latest("trending"),
            decode=decode_trending,
            document=trending_document,
            max_age=lambda: seconds_until_next_minute(int(time.time() * 1000)),
            page_limit=TRENDING_PAGE_LIMIT,
        ),
        anomalies=Feed(
            name="anomalies",
            key=keys.anomalies_latest,
            navigation_key=keys.navigation_latest("anomalies"),
            decode=decode_anomalies,
            document=anomalies_document,
            max_age=lambda: ANOMALIES_MAX_AGE,
            page_limit=DEFAULT_LIMIT,
        ),
    )
