"""What every handler of the site shares: security headers, the snapshot reader, JSON answers, live pages.

Every response, static files and 404s included, carries the security headers
of ``SECURITY_HEADERS``: the pages load only their own script and style, and
no other site may frame them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import tornado.web

from core.config import Settings
from web.article_views import article_page_path
from web.feeds import Feed
from web.snapshots import SnapshotReader
from web.views import (
    SOURCE_LABELS,
    article_url,
    chart_points,
    display_title,
    iso_time,
    lag_note,
    parse_limit,
    parse_project,
    rank_change,
    source_bar,
    streak_text,
)

# Seconds a client is told to wait (Retry-After) when a data store does not answer.
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
            article_page_path=article_page_path,
            rank_change=rank_change,
            streak_text=streak_text,
            lag_note=lambda minute_ms: lag_note(minute_ms, int(time.time() * 1000)),
            chart_points=chart_points,
            iso_time=iso_time,
            source_bar=source_bar,
            SOURCE_LABELS=SOURCE_LABELS,
        )
        return namespace
