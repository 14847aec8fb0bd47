"""The Tornado application: the trending and anomaly pages, the JSON API and the health check.

    GET /                 trending articles now (HTML; ?project=&limit=)
    GET /anomalies        anomalous articles of the latest hour (HTML; ?project=&limit=)
    GET /api/trending     the same as JSON (?limit=N default 5, ?project=P)
    GET /api/anomalies    the same as JSON (?limit=N default 5, ?project=P)
    GET /api/articles/<project>/<title>/navigation
                          where an article's readers come from and go next, in the newest clickstream
                          month of its wiki (400 for a malformed project or title, 404 for an article
                          that month does not have or a wiki without clickstream)
    GET /articles/<project>/<title>, /api/articles/<project>/<title>
                          one article: its views per hour of the last 24 hours, its trending ranks and
                          anomaly listings, its edits and alerts, where its readers come from (400 for
                          a malformed project or title, 404 when nothing about it is known)
    GET /healthz          200 when Redis answers, 503 with the reason when it does not
    GET /alerts           watch-list alerts, newest first (HTML; ?entity=&type=&wiki=&limit=)
    GET /api/alerts, /api/entities, /api/watchlist; PUT and DELETE /api/watchlist/<entity>
                          the edit side (web/edits.py says how)

Every GET also answers HEAD (monitors and link checkers use it). Every
response, static files and 404s included, carries the security headers of
``web.base.SECURITY_HEADERS``: the pages load only their own script and
style, and no other site may frame them. The handlers are by feature:
web/feed_handlers.py (the feeds, navigation, health) and
web/edit_handlers.py (the edit side); this module is the route table.

A bad parameter is a 400 with the reason; Redis unreachable is a 503 with the
reason (JSON for the API, a page for people), and the next request tries
again. API responses carry the time the data was computed and cache headers
that match how often it changes.
"""

from __future__ import annotations

from pathlib import Path

import tornado.web

from core.config import Settings
from stores.navigation import NavigationStore
from web.access_log import AccessLog
from web.article_handlers import ArticleApi, ArticlePage
from web.articles import ArticleReader
from web.base import NotFound, StaticFiles
from web.edit_handlers import AlertsApi, AlertsPage, EntitiesApi, WatchListApi, WatchListEntityApi
from web.edits import EditReader
from web.feed_handlers import (
    AnomaliesPage,
    ArticleNavigationApi,
    AutomatedPage,
    FeedApi,
    HealthHandler,
    RenderedBodies,
    TrendingPage,
)
from web.feeds import feeds
from web.snapshots import SnapshotReader

HERE = Path(__file__).parent


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
    site_feeds = feeds(reader.keys, settings.streaming.trending_retention_minutes)
    trending, anomalies = site_feeds.trending, site_feeds.anomalies
    store = navigation_store or NavigationStore(settings)
    edit_reader = EditReader(reader.client, settings)
    reader.attach_edit_context(trending, edit_reader.activity)
    edit_side = {**shared, "edits": edit_reader}
    article_side = {
        **shared,
        "articles": ArticleReader(settings, reader, trending, anomalies, edit_reader, store),
    }
    return tornado.web.Application(
        [
            (r"/", TrendingPage, {**shared, "feed": trending}),
            (r"/anomalies", AnomaliesPage, {**shared, "feed": anomalies}),
            (r"/automated", AutomatedPage, {**shared, "feed": trending}),
            (r"/api/trending", FeedApi, {**shared, "feed": trending, "bodies": bodies}),
            (r"/api/anomalies", FeedApi, {**shared, "feed": anomalies, "bodies": bodies}),
            (r"/api/articles/([^/]+)/(.+)/navigation", ArticleNavigationApi, {**shared, "store": store}),
            (r"/api/articles/([^/]+)/(.+)", ArticleApi, article_side),
            (r"/articles/([^/]+)/(.+)", ArticlePage, article_side),
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
