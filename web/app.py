"""The Tornado application: the trending and anomaly pages, the JSON API and the health check.

    GET /                 trending articles now (HTML; ?project=&limit=)
    GET /anomalies        anomalous articles of the latest hour (HTML; ?project=&limit=)
    GET /api/trending     the same as JSON (?limit=N default 5, ?project=P)
    GET /api/anomalies    the same as JSON (?limit=N default 5, ?project=P)
    GET /api/articles/<project>/<title>/navigation
                          where an article's readers come from and go next, in the newest clickstream
                          month of its wiki (400 for a malformed project or title, 404 for an article
                          that month does not have or a wiki without clickstream)
    GET /healthz          200 when Redis answers, 503 with the reason when it does not
    GET /alerts           watch-list alerts, newest first (HTML; ?entity=&type=&wiki=&limit=)
    GET /api/alerts, /api/entities, /api/watchlist; PUT and DELETE /api/watchlist/<entity>
                          the edit side (web/edits.py says how)

Every GET also answers HEAD (monitors and link checkers use it). Every
response, static files and 404s included, carries the security headers of
``SECURITY_HEADERS``: the pages load only their own script and style, and
no other site may frame them.

A bad parameter is a 400 with the reason; Redis unreachable is a 503 with the
reason (JSON for the API, a page for people), and the next request tries
again. API responses carry the time the data was computed and cache headers
that match how often it changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import tornado.web
from botocore.exceptions import BotoCoreError, ClientError

from core.config import Settings
from core.edits import ALERT_TYPES
from core.navigation_store import NavigationStore, NoClickstream
from web.access_log import AccessLog
from web.edits import (
    AlertQuery,
    EditReader,
    authorised,
    parse_alert_query,
    parse_entity,
    parse_variants,
)
from web.feeds import Feed, feeds
from web.snapshots import STALE, RedisUnavailable, SnapshotReader
from web.views import (
    DEFAULT_LIMIT,
    SOURCE_LABELS,
    BadParameter,
    article_url,
    chart_points,
    display_title,
    iso_time,
    navigation_block,
    parse_limit,
    parse_project,
    parse_title,
    select,
    source_bar,
)

HERE = Path(__file__).parent
RETRY_AFTER_SECONDS = 5
NAVIGATION_MAX_AGE = 3600  # a clickstream month changes once a month
# The pages use only their own stylesheet and script (inline SVG charts, no inline script or style).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Referrer-Policy": "same-origin",  # a click through to Wikipedia does not say where it came from
}


class SecurityHeaders(tornado.web.RequestHandler):
    """Sets ``SECURITY_HEADERS`` on every response of a handler, errors included."""

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)


class StaticFiles(SecurityHeaders, tornado.web.StaticFileHandler):
    pass


class NotFound(SecurityHeaders):
    def prepare(self) -> None:
        raise tornado.web.HTTPError(404)


class BaseHandler(SecurityHeaders):
    def initialize(self, reader: SnapshotReader, settings: Settings, feed: Feed | None = None) -> None:
        self.reader = reader
        self.config = settings
        self.feed = feed  # what the request shows (route table); the health check shows none

    def query(self, default_limit: int) -> tuple[int, str | None]:
        """The ``limit`` and ``project`` parameters, or BadParameter."""
        limit = parse_limit(self.get_query_argument("limit", None), default_limit, self.config.web.max_limit)
        return limit, parse_project(self.get_query_argument("project", None))

    def cache_for(self, seconds: int) -> None:
        self.set_header("Cache-Control", f"public, max-age={seconds}")


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


def encode_json(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class JsonHandler(BaseHandler):
    """Answers in JSON, errors included."""

    def send_json(self, status: int, body: dict[str, Any] | bytes) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body if isinstance(body, bytes) else encode_json(body))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.send_json(status_code, {"error": self._reason, "status": status_code})


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
        key = (
            feed.name,
            snapshot.computed_at,
            len(snapshot.articles),
            navigation_version,
            edits_version,
            project,
            limit,
        )
        rendered = self.bodies.get(
            key, snapshot.computed_at, lambda: feed.document(snapshot, navigation, project, limit, edits)
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


class LivePage(BaseHandler):
    """A page with a live list; ``?fragment=1`` returns the list alone, for the page's refresh."""

    template = ""  # the whole page
    list_template = ""  # the list alone (the fragment)

    def page_name(self) -> str:
        """Which navigation link is the current page."""
        return self.feed.name

    def render_page(self, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        fragment = self.get_query_argument("fragment", None) == "1"
        self.render(
            self.list_template if fragment else self.template,
            page=self.page_name(),
            refresh_seconds=self.config.web.refresh_seconds,
            **values,
        )

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            display_title=display_title,
            article_url=article_url,
            chart_points=chart_points,
            iso_time=iso_time,
            source_bar=source_bar,
            SOURCE_LABELS=SOURCE_LABELS,
        )
        return namespace


class PageHandler(LivePage):
    """A feed (trending or anomalies) as a page."""

    async def get(self) -> None:
        values: dict[str, Any] = {
            "snapshot": None,
            "articles": [],
            "problem": None,
            "project": None,
            "navigation": None,
            "edits": {},
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
                "articles": select(snapshot.articles, project, limit),
                "navigation": self.reader.navigation(self.feed),
                "edits": self.reader.edits(self.feed)[0] or {},
            }
        self.set_header("Cache-Control", "no-cache")
        self.render_page(**values)

    async def head(self) -> None:
        await self.get()


class ArticleNavigationApi(JsonHandler):
    """One article's navigation, looked up on S3 (core.navigation_store) in a worker thread."""

    def initialize(self, reader: SnapshotReader, settings: Settings, store: NavigationStore) -> None:
        super().initialize(reader, settings)
        self.store = store

    async def get(self, raw_project: str, raw_title: str) -> None:
        try:
            project = parse_project(raw_project)
            if project is None:
                raise BadParameter("the project is empty")
            title = parse_title(raw_title)
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


class EditApi(JsonHandler):
    """The edit side's endpoints: a Redis outage is a 503 with the reason, a bad parameter a 400."""

    def initialize(self, reader: SnapshotReader, settings: Settings, edits: EditReader) -> None:
        super().initialize(reader, settings)
        self.edits = edits

    async def answer(self, compute: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            self.send_json(200, await compute())
        except ValueError as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.send_json(503, {"error": "data store unavailable", "reason": str(error)})


def alert_query(handler: BaseHandler) -> AlertQuery:
    """The request's alert filters, or BadParameter."""
    max_limit = handler.config.web.max_limit
    return parse_alert_query(lambda name: handler.get_query_argument(name, None), max_limit)


class EditReadApi(EditApi):
    """A GET of the edit side; HEAD answers like it, without the body."""

    async def head(self) -> None:
        await self.get()  # type: ignore[attr-defined]


class AlertsApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            alerts = await self.edits.alerts(alert_query(self))
            return {"count": len(alerts), "alerts": alerts}

        await self.answer(compute)


class EntitiesApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            entities = await self.edits.entities()
            hours = self.config.edits.entity_history_hours
            return {"history_hours": hours, "count": len(entities), "entities": entities}

        await self.answer(compute)


class WatchListApi(EditReadApi):
    async def get(self) -> None:
        async def compute() -> dict[str, Any]:
            watched = await self.edits.watchlist()
            return {"entities": {entity: list(variants) for entity, variants in watched.items()}}

        await self.answer(compute)


class WatchListEntityApi(EditApi):
    """PUT or DELETE one entity, with the configured token."""

    def refused(self) -> bool:
        refusal = authorised(self.config.edits.watchlist_token, self.request.headers.get("Authorization"))
        if refusal is not None:
            status, reason = refusal
            self.send_json(status, {"error": "not allowed", "reason": reason})
        return refusal is not None

    async def put(self, raw_entity: str) -> None:
        if self.refused():
            return

        async def compute() -> dict[str, Any]:
            entity = parse_entity(raw_entity)
            variants = parse_variants(self.request.body)
            existed = await self.edits.change_watchlist(entity, variants)
            return {"entity": entity, "variants": variants, "replaced": existed}

        await self.answer(compute)

    async def delete(self, raw_entity: str) -> None:
        if self.refused():
            return

        async def compute() -> dict[str, Any]:
            entity = parse_entity(raw_entity)
            existed = await self.edits.change_watchlist(entity, None)
            return {"entity": entity, "deleted": existed}

        await self.answer(compute)


class AlertsPage(LivePage):
    """The watch-list alerts, newest first, with the filters of /api/alerts."""

    template = "alerts.html"
    list_template = "alerts_list.html"

    def initialize(self, reader: SnapshotReader, settings: Settings, edits: EditReader) -> None:
        super().initialize(reader, settings)
        self.edits = edits

    def page_name(self) -> str:
        return "alerts"

    async def get(self) -> None:
        self.set_header("Cache-Control", "no-cache")
        values: dict[str, Any] = {"alerts": [], "problem": None, "entities": [], "alert_types": ALERT_TYPES}
        raw = {name: self.get_query_argument(name, "") for name in ("entity", "type", "wiki", "limit")}
        try:
            query = alert_query(self)
        except BadParameter as error:
            self.render_page(400, **values | {"query": None, "raw": raw, "problem": str(error)})
            return
        try:
            values["entities"] = sorted(await self.edits.watchlist())
            values["alerts"] = await self.edits.alerts(query)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            problem = f"The data store is not answering: {error}"
            self.render_page(503, **values | {"query": query, "raw": raw, "problem": problem})
            return
        self.render_page(**values, query=query, raw=raw)

    async def head(self) -> None:
        await self.get()


class TrendingPage(PageHandler):
    template = "trending.html"
    list_template = "trending_list.html"


class AnomaliesPage(PageHandler):
    template = "anomalies.html"
    list_template = "anomalies_list.html"


def make_app(
    settings: Settings,
    reader: SnapshotReader,
    debug: bool = False,
    access_log: AccessLog | None = None,
    navigation_store: NavigationStore | None = None,
) -> tornado.web.Application:
    """The application; ``reader`` is shared by every handler; requests are logged to ``access_log``."""
    shared = {"reader": reader, "settings": settings}
    bodies = RenderedBodies()
    site_feeds = feeds(reader.keys)
    trending, anomalies = site_feeds.trending, site_feeds.anomalies
    store = navigation_store or NavigationStore(settings)
    edit_reader = EditReader(reader.client, settings)
    reader.attach_edit_context(trending, edit_reader.activity)
    edit_side = {**shared, "edits": edit_reader}
    return tornado.web.Application(
        [
            (r"/", TrendingPage, {**shared, "feed": trending}),
            (r"/anomalies", AnomaliesPage, {**shared, "feed": anomalies}),
            (r"/api/trending", FeedApi, {**shared, "feed": trending, "bodies": bodies}),
            (r"/api/anomalies", FeedApi, {**shared, "feed": anomalies, "bodies": bodies}),
            (r"/api/articles/([^/]+)/(.+)/navigation", ArticleNavigationApi, {**shared, "store": store}),
            (r"/healthz", HealthHandler, shared),
            (r"/alerts", AlertsPage, edit_side),
            (r"/api/alerts", AlertsApi, edit_side),
            (r"/api/entities", EntitiesApi, edit_side),
            (r"/api/watchlist", WatchListApi, edit_side),
            (r"/api/watchlist/(.+)", WatchListEntityApi, edit_side),
        ],
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=StaticFiles,
        default_handler_class=NotFound,
        compiled_template_cache=not debug,
        debug=debug,
        **({"log_function": access_log} if access_log else {}),
    )
