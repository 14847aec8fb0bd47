"""One article's page and JSON: GET /articles/<project>/<title> and /api/articles/<project>/<title>.

400 for a malformed project or title, 404 when nothing about the article is known (no views in the
last 24 hours' files, on no kept list, no edits, no alerts, no clickstream), 503 when Redis does not
answer. The page is server-rendered (its chart is SVG) and does not refresh itself.
"""

from __future__ import annotations

from typing import Any

from core.config import Settings
from web.article_views import (
    ArticleFacts,
    article_api_path,
    article_document,
    chart_hours,
    chart_top,
    hourly_series,
    pageviews_url,
    rank_runs,
)
from web.articles import ArticleReader
from web.base import RETRY_AFTER_SECONDS, JsonHandler, LivePage, encode_json
from web.snapshots import RedisUnavailable, SnapshotReader
from web.views import BadParameter, parse_article

ARTICLE_MAX_AGE = 60  # its hours change hourly, its ranks every minute


def not_known(project: str, title: str) -> str:
    return f"nothing is known about {title} on {project}: no views in the last 24 hours, no lists, no edits"


class ArticleApi(JsonHandler):
    def initialize(self, reader: SnapshotReader, settings: Settings, articles: ArticleReader) -> None:
        super().initialize(reader, settings)
        self.articles = articles

    async def get(self, raw_project: str, raw_title: str) -> None:
        try:
            project, title = parse_article(raw_project, raw_title)
        except BadParameter as error:
            self.send_json(400, {"error": "bad parameter", "reason": str(error)})
            return
        try:
            facts = await self.articles.facts(project, title)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.send_json(503, {"error": "data store unavailable", "reason": str(error)})
            return
        if not facts.known():
            self.send_json(404, {"error": "not found", "reason": not_known(project, title)})
            return
        self.cache_for(ARTICLE_MAX_AGE)
        self.send_json(
            200, self.articles.rendered(facts, "json", lambda: encode_json(article_document(facts)))
        )

    async def head(self, raw_project: str, raw_title: str) -> None:
        await self.get(raw_project, raw_title)


class ArticlePage(LivePage):
    template = "article.html"

    def initialize(self, reader: SnapshotReader, settings: Settings, articles: ArticleReader) -> None:
        super().initialize(reader, settings)
        self.articles = articles

    def page_name(self) -> str:
        return "article"

    def page_values(self, values: dict[str, Any]) -> dict[str, Any]:
        facts = values.get("facts")
        extra = article_page_values(facts) if facts else {}
        return {"page": self.page_name(), "refresh_seconds": 0, **values, **extra}

    def render_page(self, status: int = 200, **values: Any) -> None:
        self.set_status(status)
        self.render(self.template, **self.page_values(values))

    async def get(self, raw_project: str, raw_title: str) -> None:
        values: dict[str, Any] = {"facts": None, "problem": None, "project": None, "title": raw_title}
        try:
            project, title = parse_article(raw_project, raw_title)
            values |= {"project": project, "title": title}
        except BadParameter as error:
            self.render_page(400, **values | {"problem": str(error)})
            return
        try:
            facts = await self.articles.facts(project, title)
        except RedisUnavailable as error:
            self.set_header("Retry-After", str(RETRY_AFTER_SECONDS))
            self.render_page(503, **values | {"problem": f"The data store is not answering: {error}"})
            return
        if not facts.known():
            self.render_page(404, **values | {"problem": not_known(project, title).capitalize() + "."})
            return
        self.set_header("Cache-Control", "no-cache")
        values |= {"facts": facts}
        self.finish(
            self.articles.rendered(
                facts, "page", lambda: self.render_string(self.template, **self.page_values(values))
            )
        )

    async def head(self, raw_project: str, raw_title: str) -> None:
        await self.get(raw_project, raw_title)


def article_page_values(facts: ArticleFacts) -> dict[str, Any]:
    series = hourly_series(facts)
    return {
        "bars": chart_hours(series, 480, 120),
        "chart_top": chart_top(series),
        "has_averages": any(hour["average"] is not None for hour in series),
        "rank_runs": rank_runs(facts.ranks),
        "pageviews_url": pageviews_url(facts.project, facts.title),
        "article_api_path": article_api_path,
    }
