"""Reading the jobs' snapshots from Redis asynchronously, with a short in-process cache.

The documents and keys are core.snapshots' (the same code the jobs write
with). A snapshot changes once a minute (trending) or once an hour
(anomalies), so each web process keeps the decoded one for
``[web] snapshot_cache_seconds``: a busy page costs about one Redis read a
second instead of one per request. When Redis does not answer, readers get
RedisUnavailable; every new request tries again, so the site recovers by
itself when Redis returns.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.clickstream import ListNavigation, decode_list_navigation
from core.contracts import Keys
from core.settings import RedisSettings
from web.feeds import ArticleChanges, Feed

STALE = object()  # what cached() returns when the key must be read from Redis again


class RedisUnavailable(RuntimeError):
    """Redis did not answer; the message says where and why."""


@dataclass
class _Cached:
    fetched_at: float
    value: Any
    navigation: ListNavigation | None = None
    # (project, title) -> the article's edits of the last hour and last alert (web/edits.py)
    edits: dict[tuple[str, str], dict] | None = None
    edits_version: str = ""
    changes: ArticleChanges | None = None  # what changed since the earlier lists (web.feeds.ListHistory)


def redis_connection(settings: RedisSettings) -> aioredis.Redis:
    """An asyncio client that fails fast (the site answers 503 rather than hang) and reconnects."""
    return aioredis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
        username=settings.username or None,
        password=settings.password or None,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        health_check_interval=30,
    )


class SnapshotReader:
    def __init__(self, client: aioredis.Redis, settings: RedisSettings, cache_seconds: float) -> None:
        self.client = client
        self.settings = settings
        self.keys = Keys(settings)
        self.cache_seconds = cache_seconds
        self._cache: dict[str, _Cached] = {}
        self._fetching: dict[str, asyncio.Future] = {}
        # feed key -> how to read its articles' edit context (EditReader.activity)
        self._edit_context: dict[str, Callable[[list[tuple[str, str]]], Awaitable[dict]]] = {}

    def attach_edit_context(
        self, feed: Feed, edit_context: Callable[[list[tuple[str, str]]], Awaitable[dict]]
    ) -> None:
        """Read the feed's articles' edit activity with each of its snapshots."""
        self._edit_context[feed.key] = edit_context

    def cached(self, feed: Feed) -> Any:
        """The feed's decoded snapshot if read recently enough (None: there is none), else STALE."""
        cached = self._cache.get(feed.key)
        if cached is not None and time.monotonic() - cached.fetched_at < self.cache_seconds:
            return cached.value
        return STALE

    def edits(self, feed: Feed) -> tuple[dict[tuple[str, str], dict] | None, str]:
        """The feed's articles' edit context, read with its snapshot, and a version of it for caches."""
        cached = self._cache.get(feed.key)
        return (cached.edits, cached.edits_version) if cached else (None, "")

    def changes(self, feed: Feed) -> ArticleChanges | None:
        """What changed for each of the feed's articles since the earlier lists (None: not read)."""
        cached = self._cache.get(feed.key)
        return cached.changes if cached else None

    def navigation(self, feed: Feed) -> ListNavigation | None:
        """Where the readers of the feed's articles come from, read with its snapshot (None: not yet)."""
        cached = self._cache.get(feed.key)
        return cached.navigation if cached else None

    async def load(self, feed: Feed) -> Any:
        """The feed's decoded snapshot (None when there is none), from the cache or Redis."""
        cached = self.cached(feed)
        if cached is not STALE:
            return cached
        # One Redis read per key at a time: when the cached value expires under load, the
        # requests that arrive meanwhile wait for that read instead of each making their own.
        key = feed.key
        fetching = self._fetching.get(key)
        if fetching is None:
            fetching = self._fetching[key] = asyncio.ensure_future(self._fetch(feed))
            fetching.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(fetching)

    async def _fetch(self, feed: Feed) -> Any:
        try:
            # The list and its navigation in one round trip: a page view costs one Redis read at most.
            raw, raw_navigation = await self.client.mget([feed.key, feed.navigation_key])
        except (RedisError, OSError) as error:
            self._cache.pop(feed.key, None)
            raise RedisUnavailable(f"Redis at {self.settings.url} is not answering ({error})") from error
        value = feed.decode(raw) if raw is not None else None
        navigation = decode_list_navigation(raw_navigation) if raw_navigation is not None else None
        edits, edits_version = await self._edits_of(feed, value)
        changes = await self._changes_of(feed, value)
        self._cache[feed.key] = _Cached(time.monotonic(), value, navigation, edits, edits_version, changes)
        return value

    async def _changes_of(self, feed: Feed, snapshot: Any) -> ArticleChanges | None:
        """What changed since the earlier lists, read once per snapshot; None when it cannot be read (the
        list is still shown)."""
        if not snapshot or not snapshot.articles:
            return None
        cached = self._cache.get(feed.key)
        if cached is not None and cached.value == snapshot and cached.changes is not None:
            return cached.changes
        try:
            earlier = await self.client.mget(feed.history.keys(snapshot))
        except (RedisError, OSError):
            return None
        return feed.history.changes(snapshot, earlier)

    async def _edits_of(self, feed: Feed, snapshot: Any) -> tuple[dict | None, str]:
        """The feed's articles' edit context; None when there is none to show (the list still is)."""
        edit_context = self._edit_context.get(feed.key)
        if edit_context is None or not snapshot or not snapshot.articles:
            return None, ""
        try:
            edits = await edit_context([(a.project, a.title) for a in snapshot.articles])
        except RedisUnavailable:
            return None, ""
        version = hashlib.sha1(json.dumps(sorted(map(list, edits.items())), default=str).encode()).hexdigest()
        return edits, version

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as error:
            raise RedisUnavailable(f"Redis at {self.settings.url} is not answering ({error})") from error
