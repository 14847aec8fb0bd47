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
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from core.config import RedisSettings
from core.snapshots import AnomalySnapshot, Keys, TrendingSnapshot, decode_anomalies, decode_trending

STALE = object()  # what cached() returns when the key must be read from Redis again


class RedisUnavailable(RuntimeError):
    """Redis did not answer; the message says where and why."""


@dataclass
class _Cached:
    fetched_at: float
    value: Any


def redis_connection(settings: RedisSettings) -> aioredis.Redis:
    """An asyncio client that fails fast (the site answers 503 rather than hang) and reconnects."""
    return aioredis.Redis(
        host=settings.host,
        port=settings.port,
        db=settings.db,
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
        self._decoders = {
            self.keys.trending_latest: decode_trending,
            self.keys.anomalies_latest: decode_anomalies,
        }

    def cached(self, key: str) -> Any:
        """The decoded snapshot under ``key`` if read recently enough (None: there is none), else STALE."""
        cached = self._cache.get(key)
        if cached is not None and time.monotonic() - cached.fetched_at < self.cache_seconds:
            return cached.value
        return STALE

    async def load(self, key: str) -> Any:
        """The decoded snapshot under ``key`` (None when there is none), from the cache or Redis."""
        cached = self.cached(key)
        if cached is not STALE:
            return cached
        # One Redis read per key at a time: when the cached value expires under load, the
        # requests that arrive meanwhile wait for that read instead of each making their own.
        fetching = self._fetching.get(key)
        if fetching is None:
            fetching = self._fetching[key] = asyncio.ensure_future(self._fetch(key))
            fetching.add_done_callback(lambda _: self._fetching.pop(key, None))
        return await asyncio.shield(fetching)

    async def _fetch(self, key: str) -> Any:
        try:
            raw = await self.client.get(key)
        except (RedisError, OSError) as error:
            self._cache.pop(key, None)
            raise RedisUnavailable(f"Redis at {self.settings.url} is not answering ({error})") from error
        value = self._decoders[key](raw) if raw is not None else None
        self._cache[key] = _Cached(time.monotonic(), value)
        return value

    async def trending(self) -> TrendingSnapshot | None:
        """The newest minute's trending list, or None before the first one."""
        return await self.load(self.keys.trending_latest)

    async def anomalies(self) -> AnomalySnapshot | None:
        """The newest hour's anomaly list, or None before the first one."""
        return await self.load(self.keys.anomalies_latest)

    async def ping(self) -> None:
        try:
            await self.client.ping()
        except (RedisError, OSError) as error:
            raise RedisUnavailable(f"Redis at {self.settings.url} is not answering ({error})") from error
