"""The Tornado application: the trending and anomaly pages, the JSON API and the health check.

    GET /                 trending articles now (HTML; ?project=&limit=)
    GET /anomalies        anomalous articles of the latest hour (HTML; ?project=&limit=)
    GET /api/trending     the same as JSON (?limit=N default 5, ?project=P)
    GET /api/anomalies    the same as JSON (?limit=N default 5, ?project=P)
    GET /healthz          200 when Redis answers, 503 with the reason when it does not

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

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import tornado.web

from core.config import Settings
from core.snapshots import AnomalySnapshot, TrendingSnapshot
from web.access_log import AccessLog
from web.snapshots import STALE, RedisUnavailable, SnapshotReader
from web.views import (
    DEFAULT_LIMIT,
    BadParameter,
    anomalies_document,
    article_url,
    chart_points,
    display_title,
    iso_time,
    parse_limit,
    parse_project,
    seconds_until_next_minute,
    select,
    trending_document,
)

HERE = Path(__file__).parent
PAGE_LIMITS = {"trending": 20, "anomalies": DEFAULT_LIMIT}
ANOMALIES_MAX_AGE = 300  # an hourly value: five minutes of caching is harmless
RETRY_AFTER_SECONDS = 5
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
    def initialize(self, reader: SnapshotReader, settings: Settings) -> None:
        self.reader = reader
        self.config = settings

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


class ApiHandler(BaseHandler):
    """Answers from the cached snapshot without a coroutine when it is fresh (the common case)."""

    def initialize(
        self, reader: SnapshotReader, settings: Settings, bodies: RenderedBodies, snapshot_key: str = ""
    ) -> None:
        super().initialize(reader, settings)
        self.bodies = bodies
        self.snapshot_key = snapshot_key  # the Redis key this endpoint serves, named once per app
        self.etag: str | None = None

    def document(self, snapshot: Any, project: str | None, limit: int) -> dict[str, Any]:
        raise NotImplementedError

    def max_age(self) -> int:
        raise NotImplementedError

    def send_json(self, status: int, body: dict[str, Any] | bytes) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body if isinstance(body, bytes) else encode_json(body))

    def compute_etag(self) -> str | None:
        return self.etag or super().compute_etag()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.send_json(status_code, {"error": self._reason, "status": status_code})

    def get(self) -> Awaitable[None] | None:
        try:
            limit, project = self.query(DEFAULT_LIMIT)
        except BadParameter as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
            return None
        snapshot = self.reader.cached(self.snapshot_key)
        if snapshot is STALE:
            return self.load_and_answer(project, limit)
        self.answer(snapshot, project, limit)
        return None

    def head(self) -> Awaitable[None] | None:
        return self.get()  # Tornado sends the headers only

    async def load_and_answer(self, project: str | None, limit: int) -> None:
        try:
            snapshot = await self.reader.load(self.snapshot_key)
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
        key = (self.snapshot_key, snapshot.computed_at, len(snapshot.articles), project, limit)
        rendered = self.bodies.get(key, snapshot.computed_at, lambda: self.document(snapshot, project, limit))
        self.cache_for(self.max_age())
        self.set_header("Last-Modified", rendered.last_modified)
        self.etag = rendered.etag
        self.send_json(200, rendered.body)


class TrendingApi(ApiHandler):
    def document(self, snapshot: TrendingSnapshot, project: str | None, limit: int) -> dict[str, Any]:
        return trending_document(snapshot, project, limit)

    def max_age(self) -> int:
        return seconds_until_next_minute(int(time.time() * 1000))


class AnomaliesApi(ApiHandler):
    def document(self, snapshot: AnomalySnapshot, project: str | None, limit: int) -> dict[str, Any]:
        return anomalies_document(snapshot, project, limit)

    def max_age(self) -> int:
        return ANOMALIES_MAX_AGE


class HealthHandler(ApiHandler):
    async def get(self) -> None:
        self.set_header("Cache-Control", "no-store")
        try:
            await self.reader.ping()
        except RedisUnavailable as error:
            self.send_json(503, {"status": "unavailable", "redis": "down", "reason": str(error)})
            return
        self.send_json(200, {"status": "ok", "redis": "up"})


class PageHandler(BaseHandler):
    """A page with a live list: ``?fragment=1`` returns just the list, for the page's own refresh."""

    page = ""

    def render_page(self, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        fragment = self.get_query_argument("fragment", None) == "1"
        template = f"{self.page}_list.html" if fragment else f"{self.page}.html"
        self.render(template, page=self.page, refresh_seconds=self.config.web.refresh_seconds, **values)

    async def show(self, load) -> None:
        values: dict[str, Any] = {"snapshot": None, "articles": [], "problem": None, "project": None}
        try:
            limit, project = self.query(PAGE_LIMITS[self.page])
            values |= {"limit": limit, "project": project}
        except BadParameter as error:
            values |= {"limit": PAGE_LIMITS[self.page], "problem": str(error)}
            self.render_page(400, **values)
            return
        try:
            snapshot = await load()
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.render_page(503, **values | {"problem": f"The data store is not answering: {error}"})
            return
        if snapshot is not None:
            values |= {"snapshot": snapshot, "articles": select(snapshot.articles, project, limit)}
        self.set_header("Cache-Control", "no-cache")
        self.render_page(**values)

    async def head(self) -> None:
        await self.get()

    def get_template_namespace(self) -> dict[str, Any]:
        namespace = super().get_template_namespace()
        namespace.update(
            display_title=display_title, article_url=article_url, chart_points=chart_points, iso_time=iso_time
        )
        return namespace


class TrendingPage(PageHandler):
    page = "trending"

    async def get(self) -> None:
        await self.show(self.reader.trending)


class AnomaliesPage(PageHandler):
    page = "anomalies"

    async def get(self) -> None:
        await self.show(self.reader.anomalies)


def make_app(
    settings: Settings, reader: SnapshotReader, debug: bool = False, access_log: AccessLog | None = None
) -> tornado.web.Application:
    """The application; ``reader`` is shared by every handler; requests are logged to ``access_log``."""
    shared = {"reader": reader, "settings": settings}
    api = {**shared, "bodies": RenderedBodies()}
    return tornado.web.Application(
        [
            (r"/", TrendingPage, shared),
            (r"/anomalies", AnomaliesPage, shared),
            (r"/api/trending", TrendingApi, {**api, "snapshot_key": reader.keys.trending_latest}),
            (r"/api/anomalies", AnomaliesApi, {**api, "snapshot_key": reader.keys.anomalies_latest}),
            (r"/healthz", HealthHandler, api),
        ],
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_handler_class=StaticFiles,
        default_handler_class=NotFound,
        compiled_template_cache=not debug,
        debug=debug,
        **({"log_function": access_log} if access_log else {}),
    )
