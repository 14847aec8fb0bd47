"""Gathering what the site knows about one article, from every store, for its page and JSON.

    its views per hour     the hourly counts files on S3, one row group each (stores/hourly_views.py)
    its trending ranks     the minute lists the streaming job keeps in Redis
    its anomaly listings   today's hourly anomaly lists in Redis
    its edits and alerts   what the edit job writes to Redis (web/edits.py)
    where readers come from  the newest clickstream month on S3 (stores/navigation.py)

Lists kept in Redis do not change once written, so each is read and decoded once per web process
(``KeptLists``); the S3 lookups run in worker threads and an article's hours are kept until the next
hour. A store that does not answer leaves its part of the page empty and says so in the log; only
Redis down makes the page a 503 (as the lists' pages).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError
from redis.exceptions import RedisError

from core.config import Settings
from core.contracts import Keys
from core.list_changes import listed_ranks
from core.snapshots import AnomalySnapshot, decode_anomalies
from core.windows import HOUR_MS, MINUTE_MS
from stores.hourly_views import HourlyViewsReader
from stores.navigation import NavigationStore, NoClickstream
from stores.recent import RecentEntries
from web.article_views import AnomalyListing, ArticleFacts, completed_hours
from web.edits import EditReader
from web.feeds import Feed
from web.snapshots import RedisUnavailable, SnapshotReader

log = logging.getLogger("web.articles")

ARTICLE_ALERTS_SHOWN = 10
HOURS_CACHED = 4096  # articles whose last 24 hours are kept until the hour turns
FACTS_CACHED = 1024  # articles whose whole answer is kept for a few seconds


class KeptLists:
    """Decoded lists from Redis by key, read once each: a kept list is never rewritten (a missing one is
    asked for again)."""

    def __init__(self, client, decode, size: int) -> None:
        self.client, self.decode = client, decode
        self._decoded = RecentEntries(size)

    async def get(self, keys: list[str]) -> list:
        found = [self._decoded.get(key) for key in keys]
        missing = [key for key, value in zip(keys, found, strict=True) if value is None]
        if not missing:
            return found
        try:
            documents = await self.client.mget(missing)
        except (RedisError, OSError) as error:
            raise RedisUnavailable(f"Redis is not answering ({error})") from error
        for key, document in zip(missing, documents, strict=True):
            if document is not None:
                self._decoded.put(key, self.decode(document))
        return [self._decoded.get(key) for key in keys]


class ArticleReader:
    def __init__(
        self,
        settings: Settings,
        reader: SnapshotReader,
        trending: Feed,
        anomalies: Feed,
        edits: EditReader,
        navigation: NavigationStore,
        hourly_views: HourlyViewsReader | None = None,
    ) -> None:
        self.settings, self.reader, self.trending, self.anomalies = settings, reader, trending, anomalies
        self.edits, self.navigation = edits, navigation
        self.hourly = hourly_views or HourlyViewsReader(settings)
        self.keys = Keys(settings.redis)
        kept_minutes = settings.streaming.trending_retention_minutes
        self.minute_lists = KeptLists(reader.client, listed_ranks, kept_minutes + 5)
        self.hour_lists = KeptLists(reader.client, decode_anomalies, 2 * 24)
        self._hours = RecentEntries(HOURS_CACHED)  # (project, title, newest hour) -> views per hour
        # Whole answers, kept as long as the lists' snapshots are ([web] snapshot_cache_seconds).
        self._facts = RecentEntries(FACTS_CACHED)  # (project, title) -> (when, ArticleFacts)
        self._gathering: dict[tuple[str, str], asyncio.Future] = {}
        # (project, title, "json" or "page") -> (the facts it shows, its encoded body)
        self._rendered = RecentEntries(2 * FACTS_CACHED)

    async def facts(self, project: str, title: str) -> ArticleFacts:
        """Everything known about ``(project, title)``; RedisUnavailable when Redis does not answer."""
        article = (project, title)
        cached = self._facts.get(article)
        if cached and time.monotonic() - cached[0] < self.settings.web.snapshot_cache_seconds:
            return cached[1]
        # One gathering per article at a time: the requests that arrive meanwhile wait for it.
        gathering = self._gathering.get(article)
        if gathering is None:
            gathering = self._gathering[article] = asyncio.ensure_future(self._gather(project, title))
            gathering.add_done_callback(lambda _: self._gathering.pop(article, None))
        facts = await asyncio.shield(gathering)
        self._facts.put(article, (time.monotonic(), facts))
        return facts

    def rendered(self, facts: ArticleFacts, kind: str, render: Callable[[], bytes]) -> bytes:
        """``render()`` of these facts, made once per gathering (answers are cached as the facts are)."""
        key = (facts.project, facts.title, kind)
        cached = self._rendered.get(key)
        if cached is None or cached[0] is not facts:
            cached = (facts, render())
            self._rendered.put(key, cached)
        return cached[1]

    async def _gather(self, project: str, title: str) -> ArticleFacts:
        now_ms = int(time.time() * 1000)
        hours, navigation = await asyncio.gather(
            self._hourly_views(project, title, now_ms), self._navigation(project, title)
        )
        facts = ArticleFacts(project, title, computed_at=now_ms, hourly_views=hours)
        facts.navigation_month, facts.navigation = navigation
        await self._trending(facts)
        await self._anomalies(facts)
        facts.edits = (await self.edits.activity([(project, title)])).get((project, title))
        facts.alerts = await self.edits.article_alerts(project, title, ARTICLE_ALERTS_SHOWN)
        return facts

    async def _trending(self, facts: ArticleFacts) -> None:
        snapshot = await self.reader.load(self.trending)
        if snapshot is None:
            return
        facts.trending_minute = snapshot.minute
        facts.trending_now = next(
            (a for a in snapshot.articles if (a.project, a.title) == (facts.project, facts.title)), None
        )
        kept = self.settings.streaming.trending_retention_minutes
        minutes = [snapshot.minute - k * MINUTE_MS for k in range(kept - 1, -1, -1)]
        lists = await self.minute_lists.get([self.keys.trending_minute(m) for m in minutes])
        facts.minutes_kept = sum(ranks is not None for ranks in lists)
        article = (facts.project, facts.title)
        listed = zip(minutes, lists, strict=True)
        facts.ranks = [(minute, ranks[article]) for minute, ranks in listed if ranks and article in ranks]

    async def _anomalies(self, facts: ArticleFacts) -> None:
        latest: AnomalySnapshot | None = await self.reader.load(self.anomalies)
        if latest is None:
            return
        day_start = latest.hour_start - latest.hour * HOUR_MS
        hours = [day_start + h * HOUR_MS for h in range(latest.hour + 1)]
        lists = await self.hour_lists.get([self.keys.anomalies_hour(h) for h in hours])
        article = (facts.project, facts.title)
        for snapshot in filter(None, lists):
            for item in snapshot.articles:
                if (item.project, item.title) == article:
                    facts.anomalies.append(
                        AnomalyListing(snapshot.hour_start, snapshot.date, snapshot.hour, item)
                    )

    async def _hourly_views(self, project: str, title: str, now_ms: int) -> dict[int, int | None]:
        hours = completed_hours(now_ms)
        key = (project, title, hours[-1])
        cached = self._hours.get(key)
        if cached is not None:
            return cached
        loop = asyncio.get_running_loop()
        try:
            views = await loop.run_in_executor(None, self.hourly.views, project, title, hours)
        except (BotoCoreError, ClientError, OSError) as error:
            log.warning(
                "S3 did not give %s %s's hourly views (%s): the page shows none", project, title, error
            )
            return dict.fromkeys(hours)
        self._hours.put(key, views)
        return views

    async def _navigation(self, project: str, title: str) -> tuple[str | None, object]:
        loop = asyncio.get_running_loop()
        try:
            month, navigation = await loop.run_in_executor(None, self.navigation.find, project, title)
        except NoClickstream:
            return None, None
        except (BotoCoreError, ClientError, OSError) as error:
            log.warning("S3 did not give %s %s's navigation (%s): the page shows none", project, title, error)
            return None, None
        return month, navigation
