"""The trending and anomaly feeds as pages and JSON, one article's navigation, and the health check."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from core.config import Settings
from stores.navigation import NavigationStore, NoClickstream
from web.base import RETRY_AFTER_SECONDS, JsonHandler, LivePage, encode_json
from web.feeds import Feed
from web.snapshots import STALE, RedisUnavailable, SnapshotReader
from web.views import (
    DEFAULT_LIMIT,
    BadParameter,
    navigation_block,
    parse_article,
    select,
)

NAVIGATION_MAX_AGE = 3600  # a clickstream month changes once a month


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: str


class RenderedBodies:
    """Encoded API responses per snapshot and query: a snapshot changes once a minute while requests
    come thousands of times a second, so each (snapshot, project, limit) is encoded and hashed once."""

    MAX_ENTRIES = 1024

    def __init__(self) -> None:
        self._rendered: dict[tuple, Rendered] = {}

    def get(self, key: tuple, computed_at: int, render: Callable[[], dict[str, Any]]) -> Rendered:
        rendered = self._rendered.get(key)
        if rendered is None:
            if len(self._rendered) >= self.MAX_ENTRIES:
                self._rendered.clear()
            body = encode_json(render())
            rendered = self._rendered[key] = Rendered(
                body, f'"{hashlib.sha1(body).hexdigest()}"', formatdate(computed_at / 1000, usegmt=True)
            )
        return rendered


class FeedApi(JsonHandler):
    """A feed as JSON, from the cached snapshot without a coroutine when it is fresh (the common case)."""

    def initialize(
        self, reader: SnapshotReader, settings: Settings, feed: Feed, bodies: RenderedBodies
    ) -> None:
        super().initialize(reader, settings, feed)
        self.bodies = bodies
        self.etag: str | None = None

    def compute_etag(self) -> str | None:
        return self.etag or super().compute_etag()

    def get(self) -> Awaitable[None] | None:
        try:
            limit, project = self.query(DEFAULT_LIMIT)
        except BadParameter as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
            return None
        snapshot = self.reader.cached(self.feed)
        if snapshot is STALE:
            return self.load_and_answer(project, limit)
        self.answer(snapshot, project, limit)
        return None

    def head(self) -> Awaitable[None] | None:
        return self.get()  # Tornado sends the headers only

    async def load_and_answer(self, project: str | None, limit: int) -> None:
        try:
            snapshot = await self.reader.load(self.feed)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.send_json(503, {"error": "data store unavailable", "reason": str(error)})
            return
        self.answer(snapshot, project, limit)

    def answer(self, snapshot: Any, project: str | None, limit: int) -> None:
        if snapshot is None:
            self.cache_for(RETRY_AFTER_SECONDS)
            self.send_json(200, {"computed_at": None, "count": 0, "articles": [], "message": "no data yet"})
            return
        feed = self.feed
        navigation = self.reader.navigation(feed)
        navigation_version = (
            (navigation.list_computed_at, tuple(sorted(navigation.months.items()))) if navigation else None
        )
        edits, edits_version = self.reader.edits(feed)
        changes = self.reader.changes(feed)
        key = (
            feed.name,
            snapshot.computed_at,
            len(snapshot.articles),
            navigation_version,
            edits_version,
            changes is not None,  # read once per snapshot: known or not is all that can differ
            project,
            limit,
        )
        rendered = self.bodies.get(
            key,
            snapshot.computed_at,
            lambda: feed.document(snapshot, navigation, project, limit, edits, changes),
        )
        self.cache_for(feed.max_age())
        self.set_header("Last-Modified", rendered.last_modified)
        self.etag = rendered.etag
        self.send_json(200, rendered.body)


class HealthHandler(JsonHandler):
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            await self.reader.ping()
        except RedisUnavailable as error:
            self.send_json(503, {"status": "unavailable", "redis": "down", "reason": str(error)})
            return
        self.send_json(200, {"status": "ok", "redis": "up"})

    async def head(self) -> None:
        await self.get()  # Tornado sends the headers only


class PageHandler(LivePage):
    """A feed (trending or anomalies) as a page."""

    items = "articles"  # which list of the snapshot the page shows

    async def get(self) -> None:
        values: dict[str, Any] = {
            "snapshot": None,
            "articles": [],
            "problem": None,
            "project": None,
            "navigation": None,
            "edits": {},
            "changes": {},
            "automated": [],
        }
        try:
            limit, project = self.query(self.feed.page_limit)
            values |= {"limit": limit, "project": project}
        except BadParameter as error:
            values |= {"limit": self.feed.page_limit, "problem": str(error)}
            self.render_page(400, **values)
            return
        try:
            snapshot = await self.reader.load(self.feed)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.render_page(503, **values | {"problem": f"The data store is not answering: {error}"})
            return
        if snapshot is not None:
            values |= {
                "snapshot": snapshot,
                "articles": select(getattr(snapshot, self.items), project, limit),
                "automated": select(getattr(snapshot, "automated", []), project, limit),
                "navigation": self.reader.navigation(self.feed),
                "edits": self.reader.edits(self.feed)[0] or {},
                "changes": self.reader.changes(self.feed) or {},
            }
        self.set_header("Cache-Control", "no-cache")
        self.render_page(**values)

    async def head(self) -> None:
        await self.get()


class TrendingPage(PageHandler):
    template = "trending.html"
    list_template = "trending_list.html"


class AutomatedPage(PageHandler):
    """The trending articles left out as likely automated traffic (core/automated.py): nothing hidden."""

    template = "automated.html"
    list_template = "automated_list.html"
    items = "automated"

    def page_name(self) -> str:
        return "automated"


class AnomaliesPage(PageHandler):
    template = "anomalies.html"
    list_template = "anomalies_list.html"


class ArticleNavigationApi(JsonHandler):
    """One article's navigation, looked up on S3 (stores.navigation) in a worker thread."""

    def initialize(self, reader: SnapshotReader, settings: Settings, store: NavigationStore) -> None:
        super().initialize(reader, settings)
        self.store = store

    async def get(self, raw_project: str, raw_title: str) -> None:
        try:
            project, title = parse_article(raw_project, raw_title)
        except BadParameter as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
            return
        loop = asyncio.get_running_loop()
        try:
            month, navigation = await loop.run_in_executor(None, self.store.find, project, title)
        except NoClickstream as error:
            self.send_json(404, {"error": "not found", "reason": str(error)})
            return
        except (BotoCoreError, ClientError, OSError) as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.send_json(503, {"error": "clickstream store unavailable", "reason": str(error)})
            return
        if navigation is None:
            reason = f"{title} is not in the clickstream of {project} for {month}"
            self.send_json(404, {"error": "not found", "reason": reason})
            return
        self.cache_for(NAVIGATION_MAX_AGE)
        self.send_json(200, {"project": project, "title": title, **navigation_block(navigation)})

    async def head(self, raw_project: str, raw_title: str) -> None:
        await self.get(raw_project, raw_title)
