"""What the site shows, as pure functions: request parameters, titles, links, charts, JSON items.

No I/O here; the handlers (web/feed_handlers.py, web/edit_handlers.py) are thin shells around these.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from urllib.parse import quote

from core.clickstream import SOURCES, ListNavigation, Navigation
from core.dumps import PROJECT_SUFFIXES
from core.list_changes import HOUR_MINUTES, TrendingChange
from core.snapshots import AnomalousArticle, AnomalySnapshot, TrendingArticle, TrendingSnapshot
from core.windows import iso_time

DEFAULT_LIMIT = 5
# A project is <language or site>.<family>, as core.dumps.project_of writes them.
_FAMILIES = sorted({*PROJECT_SUFFIXES.values(), "wikimedia"})
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{0,30}\.(" + "|".join(_FAMILIES) + r")$")


# Characters MediaWiki never allows in a title (and control characters), and its length limit in bytes.
_TITLE_FORBIDDEN = re.compile(r"[#<>\[\]{}|\x00-\x1f\x7f]")
TITLE_MAX_BYTES = 255


class BadParameter(ValueError):
    """A request parameter that cannot be used; the message is the reason given to the client."""


def parse_limit(raw: str | None, default: int, maximum: int) -> int:
    """``?limit=``: a whole number from 1 to ``maximum``; absent means ``default``."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise BadParameter(f"limit must be a whole number from 1 to {maximum}, got {raw!r}")
    limit = int(raw)
    if not 1 <= limit <= maximum:
        raise BadParameter(f"limit must be from 1 to {maximum}, got {limit}")
    return limit


def parse_project(raw: str | None) -> str | None:
    """``?project=``: a wiki like ``en.wikipedia`` or ``de.wiktionary``; absent means every project."""
    if raw is None or raw == "":
        return None
    project = raw.strip().lower()
    if not _PROJECT.match(project):
        raise BadParameter(
            f"unknown project {raw!r}: use a wiki like en.wikipedia (families: {', '.join(_FAMILIES)})"
        )
    return project


def parse_title(raw: str) -> str:
    """A title from a URL path, spaces as underscores; BadParameter when MediaWiki would refuse it."""
    title = raw.strip().replace(" ", "_")
    if not title.strip("_"):
        raise BadParameter("the title is empty")
    if _TITLE_FORBIDDEN.search(title):
        raise BadParameter(
            f"title {raw!r} has characters no title may hold (#<>[]{{}}| or control characters)"
        )
    if len(title.encode()) > TITLE_MAX_BYTES:
        raise BadParameter(f"title {raw[:40]!r}… is longer than {TITLE_MAX_BYTES} bytes")
    return title


def parse_article(raw_project: str, raw_title: str) -> tuple[str, str]:
    """(project, title) from an article's path (/articles/<project>/<title>); BadParameter with the reason."""
    project = parse_project(raw_project)
    if project is None:
        raise BadParameter("the project is empty")
    return project, parse_title(raw_title)


def display_title(title: str) -> str:
    """How a reader writes a title: underscores as spaces."""
    return title.replace("_", " ")


def article_url(project: str, title: str) -> str:
    """The article on its wiki, e.g. https://en.wikipedia.org/wiki/Caf%C3%A9 (title percent-encoded)."""
    return f"https://{project}.org/wiki/{quote(title, safe='')}"


def chart_points(values: list[float], width: float, height: float, top: float | None = None) -> str:
    """SVG polyline points for ``values`` spread over ``width``, scaled so ``top`` (default: max) fills
    ``height``; y grows downwards in SVG, so a larger value is drawn higher."""
    if not values:
        return ""
    top = top if top is not None else max(values)
    scale = height / top if top > 0 else 0.0
    step = width / (len(values) - 1) if len(values) > 1 else 0.0
    return " ".join(f"{i * step:.1f},{height - v * scale:.1f}" for i, v in enumerate(values))


def select(articles: list, project: str | None, limit: int) -> list:
    """The first ``limit`` articles of ``project`` (all projects when None), in rank order."""
    return [a for a in articles if project is None or a.project == project][:limit]


def navigation_block(navigation: Navigation) -> dict:
    """Where an article's readers come from and go next, as the API gives it (shares of the totals)."""
    shares = navigation.source_shares()
    return {
        "found": True,
        "month": navigation.month,
        "incoming": navigation.incoming,
        "sources": {
            s: {"clicks": navigation.sources.get(s, 0), "share": round(shares[s], 6)} for s in SOURCES
        },
        "top": [
            {**asdict(r), "url": article_url(navigation.project, r.title) if r.source == "link" else None}
            for r in navigation.top_referrers
        ],
        "outgoing": navigation.outgoing,
        "top_outgoing": [
            {**asdict(o), "url": article_url(navigation.project, o.title)} for o in navigation.top_outgoing
        ],
    }


def referrers_block(navigation: ListNavigation | None, project: str, title: str) -> dict | None:
    """An article's ``referrers`` in a list: its navigation block; ``found: false`` with the month when
    the newest month of its wiki does not have it; None when its wiki has no clickstream or the list's
    navigation is not computed yet."""
    if navigation is None or not navigation.covers(project, title):
        return None
    found = navigation.of(project, title)
    if found is None:
        return {"found": False, "month": navigation.month_for(project)}
    return navigation_block(found)


# What changed, per item (core/list_changes.py); null when the earlier lists could not be read.
TRENDING_CHANGE_FIELDS = {field: None for field in TrendingChange.__dataclass_fields__}
ANOMALY_CHANGE_FIELDS = {"listed_hour_before": None}


def trending_item(
    article: TrendingArticle,
    navigation: ListNavigation | None = None,
    edits: dict | None = None,
    changes: dict | None = None,
) -> dict:
    """One trending article as the API gives it: the numbers behind its rank, what changed since the
    earlier lists, its link, its readers, and its edits of the last hour with its last alert (null
    when it has neither)."""
    key = (article.project, article.title)
    return {
        **asdict(article),
        **TRENDING_CHANGE_FIELDS,
        **(changes or {}).get(key, {}),
        "url": article_url(article.project, article.title),
        "referrers": referrers_block(navigation, article.project, article.title),
        "edits": (edits or {}).get(key),
    }


def anomaly_item(
    article: AnomalousArticle, navigation: ListNavigation | None = None, changes: dict | None = None
) -> dict:
    return {
        **asdict(article),
        **ANOMALY_CHANGE_FIELDS,
        **(changes or {}).get((article.project, article.title), {}),
        "url": article_url(article.project, article.title),
        "referrers": referrers_block(navigation, article.project, article.title),
    }


def streak_text(minutes: int, at_least: bool) -> str:
    """How long an article has been listed, as a reader says it: "listed for 1 h 5 min", "listed for at
    least 3 h"."""
    hours, rest = divmod(minutes, HOUR_MINUTES)
    length = " ".join([f"{hours} h"] * bool(hours) + [f"{rest} min"] * bool(rest))
    return f"listed for {'at least ' if at_least else ''}{length}"


# A list this far behind the clock says why: real traffic arrives an hour late (producer/wikipedia.py).
LAG_NOTE_MINUTES = 20


def lag_note(minute_ms: int, now_ms: int) -> str:
    """What a reader should know about a list whose hour ended well before now ("" when it is current)."""
    behind = (now_ms - minute_ms) // 60_000
    if behind < LAG_NOTE_MINUTES:
        return ""
    return (
        f"These views are of the hour ending {behind} minutes ago: Wikimedia publishes each hour's page "
        "views about an hour after it ends, so lists of real traffic trail the clock by that much."
    )


def rank_change(rank: int, change: dict | None) -> str:
    """A trending item's move since an hour before, as its page shows it: "new", "up from 7",
    "down from 2", "same rank", or "" when the list of an hour before is not kept."""
    if not change or change.get("new") is None:
        return ""
    before = change["rank_an_hour_ago"]
    if change["new"]:
        return "new"
    if before == rank:
        return "same rank"
    return f"{'up' if before > rank else 'down'} from {before}"


TRENDING_EXPLANATION = (
    "counts: an article's views in the six 10-minute windows of the last hour, oldest first; expected: what "
    "its share of its wiki's views over the 90 minutes before the last half hour predicts for each window, "
    "given the wiki's own traffic then (its daily rhythm); growth: the last half hour's views over their "
    "expectation; z: how many units of counting (Poisson) noise the last half hour stands above it. Under "
    "the rule 'rise' an article is listed when its newest window has at least min_volume views, z is at "
    "least min_z, growth at least min_growth, each window of the last half hour is above its expectation on "
    "its own, and the last half hour is also clearly above the hour's first half (still rising now); the "
    "list is ranked by score, which is z. An empty list means nothing is rising beyond its usual rhythm. "
    "rank_an_hour_ago: the article's rank in the list of the minute an hour before (null: not on it, or that "
    "list is not kept); new: it was not on that list; listed_minutes: minutes on the list without a break, "
    "this one included (listed_at_least: the run reaches back to the oldest list kept or to a minute without "
    "a list, so it may be longer)."
)


def trending_document(
    snapshot: TrendingSnapshot,
    navigation: ListNavigation | None,
    project: str | None,
    limit: int,
    edits: dict | None = None,
    changes: dict | None = None,
) -> dict:
    """The /api/trending body."""
    articles = select(snapshot.articles, project, limit)
    return {
        "minute": snapshot.minute,
        "minute_iso": iso_time(snapshot.minute),
        "computed_at": snapshot.computed_at,
        "computed_at_iso": iso_time(snapshot.computed_at),
        "rule": snapshot.rule,
        "min_volume": snapshot.min_volume,
        "min_z": snapshot.min_z,
        "min_growth": snapshot.min_growth,
        "candidates": snapshot.candidates,
        "project": project,
        "count": len(articles),
        "explanation": TRENDING_EXPLANATION,
        "articles": [trending_item(a, navigation, edits, changes) for a in articles],
        "automated": [
            trending_item(a, navigation, edits, changes) for a in select(snapshot.automated, project, limit)
        ],
    }


ANOMALY_EXPLANATION = (
    "distance: Canberra distance between today's hourly views and the article's averages for the same hours; "
    "expected_distance: the distance its own past days had; score: how many standard deviations today is "
    "above that, for the day so far or the latest hour, whichever is larger, each counted only when views "
    "are also at least min_poisson_z standard deviations of counting noise from the average at the day's "
    "own level (hour_poisson_z for the latest hour, day_poisson_z the largest of the day's hours). "
    "Articles scoring at least min_score are listed; an empty list means no article's traffic is outside "
    "its normal variability. listed_hour_before: whether the article was on the hour before's list (null: "
    "that hour has no list)."
)


def anomalies_document(
    snapshot: AnomalySnapshot,
    navigation: ListNavigation | None,
    project: str | None,
    limit: int,
    edits: dict | None = None,  # the anomaly list shows no edit context (yet)
    changes: dict | None = None,
) -> dict:
    """The /api/anomalies body."""
    articles = select(snapshot.articles, project, limit)
    return {
        "date": snapshot.date,
        "hour": snapshot.hour,
        "hour_start": snapshot.hour_start,
        "hour_start_iso": iso_time(snapshot.hour_start),
        "computed_at": snapshot.computed_at,
        "computed_at_iso": iso_time(snapshot.computed_at),
        "min_score": snapshot.min_score,
        "min_poisson_z": snapshot.min_poisson_z,
        "compared": snapshot.compared,
        "project": project,
        "count": len(articles),
        "explanation": ANOMALY_EXPLANATION,
        "articles": [anomaly_item(a, navigation, changes) for a in articles],
    }


def seconds_until_next_minute(now_ms: int) -> int:
    """Cache lifetime of a value that changes each minute: what is left of the current minute (1..60)."""
    return max(1, 60 - (now_ms // 1000) % 60)


SOURCE_LABELS = {
    "search": "search engines",
    "link": "links from articles",
    "external": "other websites",
    "internal": "other Wikimedia projects",
    "empty": "no referrer (typed, bookmarks, apps)",
    "other": "other",
}


def source_bar(navigation: Navigation, width: float) -> list[tuple[str, float, float, float]]:
    """The type split as a bar: (source, share, x, width) of each source with clicks, in SOURCES order."""
    shares = navigation.source_shares()
    segments, x = [], 0.0
    for source in SOURCES:
        if shares[source] > 0:
            segments.append((source, shares[source], round(x, 2), round(shares[source] * width, 2)))
            x += shares[source] * width
    return segments
