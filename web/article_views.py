"""One article's page and JSON, as pure functions: what the site gathered about it, laid out.

No I/O here: web/articles.py gathers the facts (S3's hourly counts, the lists kept in Redis, the edit
side, the clickstream) and web/article_handlers.py serves them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from core.clickstream import Navigation
from core.snapshots import AnomalousArticle, TrendingArticle
from core.windows import HOUR_MS, MINUTE_MS, iso_time
from web.views import article_url, navigation_block

HOURS_SHOWN = 24


def article_page_path(project: str, title: str) -> str:
    """The site's page of an article, e.g. /articles/en.wikipedia/AC%2FDC (the title percent-encoded)."""
    return f"/articles/{project}/{quote(title, safe='')}"


def article_api_path(project: str, title: str) -> str:
    """The same page as JSON: /api/articles/<project>/<title>."""
    return "/api" + article_page_path(project, title)


def pageviews_url(project: str, title: str) -> str:
    """Pageviews Analysis for the article's long range (the last 90 days)."""
    query = urlencode({"project": f"{project}.org", "pages": title, "range": "latest-90"})
    return f"https://pageviews.wmcloud.org/?{query}"


def completed_hours(now_ms: int, count: int = HOURS_SHOWN) -> list[int]:
    """The starts of the ``count`` whole hours before the one ``now_ms`` falls in, oldest first."""
    current = now_ms - now_ms % HOUR_MS
    return [current - k * HOUR_MS for k in range(count, 0, -1)]


def hour_of_day(hour_start_ms: int) -> int:
    return datetime.fromtimestamp(hour_start_ms / 1000, tz=UTC).hour


@dataclass(frozen=True)
class AnomalyListing:
    """The article on one hour's anomaly list."""

    hour_start: int
    date: str
    hour: int
    article: AnomalousArticle


@dataclass
class ArticleFacts:
    """What the site knows about one article, gathered from every store (web/articles.py)."""

    project: str
    title: str
    computed_at: int = 0  # epoch ms when they were gathered
    # The last completed hours' views, oldest first: None when that hour's file is not on S3.
    hourly_views: dict[int, int | None] = field(default_factory=dict)
    trending_minute: int | None = None  # the newest trending list's minute
    trending_now: TrendingArticle | None = None  # the article on it, if listed
    # (minute, rank) of each kept trending list that lists the article, oldest first, and how many
    # minutes of lists were looked at.
    ranks: list[tuple[int, int]] = field(default_factory=list)
    minutes_kept: int = 0
    anomalies: list[AnomalyListing] = field(default_factory=list)  # today's listings, oldest first
    edits: dict | None = None  # the last hour's edit activity and last alert (web/edits.py)
    alerts: list[dict] = field(default_factory=list)  # its alerts among those kept, newest first
    navigation: Navigation | None = None
    navigation_month: str | None = None  # the month looked in; None when its wiki has no clickstream

    def known(self) -> bool:
        """Whether anything about the article was found (otherwise the site answers 404)."""
        return bool(
            any(self.hourly_views.values())
            or self.trending_now
            or self.ranks
            or self.anomalies
            or self.edits
            or self.alerts
            or self.navigation
        )

    def hour_averages(self) -> dict[int, float]:
        """The article's historical average by hour of day, from its newest anomaly listing (the averages
        are only read for articles the hourly job scores and lists)."""
        if not self.anomalies:
            return {}
        return dict(enumerate(self.anomalies[-1].article.history))


def hourly_series(facts: ArticleFacts) -> list[dict]:
    """The chart's hours: each hour's views (None: no file) and its hour-of-day average (None: unknown)."""
    averages = facts.hour_averages()
    return [
        {
            "hour_start": hour,
            "hour_start_iso": iso_time(hour),
            "views": views,
            "average": averages.get(hour_of_day(hour)),
        }
        for hour, views in sorted(facts.hourly_views.items())
    ]


def rank_runs(ranks: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """The minutes listed as runs without a break: (first minute, last minute, best rank) each."""
    runs: list[tuple[int, int, int]] = []
    for minute, rank in ranks:
        if runs and minute - runs[-1][1] == MINUTE_MS:
            first, _, best = runs[-1]
            runs[-1] = (first, minute, min(best, rank))
        else:
            runs.append((minute, minute, rank))
    return runs


def article_document(facts: ArticleFacts) -> dict:
    """The /api/articles/<project>/<title> body."""
    now = facts.trending_now
    return {
        "project": facts.project,
        "title": facts.title,
        "url": article_url(facts.project, facts.title),
        "pageviews_url": pageviews_url(facts.project, facts.title),
        "computed_at": facts.computed_at,
        "computed_at_iso": iso_time(facts.computed_at),
        "hours": hourly_series(facts),
        "trending": {
            "minute": facts.trending_minute,
            "now": asdict(now) if now else None,
            "minutes_kept": facts.minutes_kept,
            "ranks": [{"minute": minute, "rank": rank} for minute, rank in facts.ranks],
        },
        "anomalies": [
            {
                "hour_start": listing.hour_start,
                "date": listing.date,
                "hour": listing.hour,
                "rank": listing.article.rank,
                "score": listing.article.score,
                "distance": listing.article.distance,
                "expected_distance": listing.article.expected_distance,
            }
            for listing in facts.anomalies
        ],
        "edits": facts.edits,
        "alerts": facts.alerts,
        "referrers": (
            navigation_block(facts.navigation)
            if facts.navigation
            else ({"found": False, "month": facts.navigation_month} if facts.navigation_month else None)
        ),
    }


def chart_top(series: list[dict]) -> float:
    """The value the hourly chart's full height stands for: the largest views or average shown."""
    return max([s["views"] or 0 for s in series] + [s["average"] or 0 for s in series] + [1])


def chart_hours(series: list[dict], width: float, height: float) -> list[dict]:
    """The page's bars: one per hour, x and height scaled to ``chart_top``."""
    top = chart_top(series)
    step = width / max(len(series), 1)
    bars = []
    for i, hour in enumerate(series):
        views = hour["views"] or 0
        bar_height = round(views / top * height, 1)
        average = hour["average"]
        bars.append(
            {
                **hour,
                "x": round(i * step, 1),
                "width": round(step * 0.8, 1),
                "y": round(height - bar_height, 1),
                "height": bar_height,
                "average_y": None if average is None else round(height - average / top * height, 1),
                # Every sixth hour is named under its bar (the table below names them all).
                "tick": hour["hour_start_iso"][11:13] if hour_of_day(hour["hour_start"]) % 6 == 0 else None,
            }
        )
    return bars
