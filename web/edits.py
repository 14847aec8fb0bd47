"""The edit side of the site (issue 10): alerts, watched entities, the watch list and edit activity.

    GET    /alerts?entity=&type=&wiki=&limit=       the alerts page, newest first, refreshing itself
    GET    /api/alerts?entity=&type=&wiki=&limit=   the same as JSON (400 for an unknown type or a bad wiki)
    GET    /api/entities                            each watched entity with its edits of the kept history
    GET    /api/watchlist                           the watch list in use
    PUT    /api/watchlist/<entity>                  body {"variants": [...]}: add or replace an entity
    DELETE /api/watchlist/<entity>                  remove one

The write endpoints need ``Authorization: Bearer <[edits] watchlist_token>``:
401 without it, 403 with a wrong one (compared in constant time), 403 for
every write when no token is configured (the list is then read-only). The
edit job picks a change up within ``[edits] watchlist_poll_seconds``.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from core.edit_activity import entity_metrics
from core.edit_rules import ALERT_TYPES
from core.events import MAX_TITLE_CHARS
from core.windows import MINUTE_MS
from stores.edits import (
    CLOCK_MEMBER,
    EditKeys,
    alert_matches,
    article_field,
    change_watchlist_args,
    change_watchlist_script,
    decode_activity,
    watchlist_in_use,
)
from web.snapshots import RedisUnavailable
from web.views import BadParameter, parse_limit

DEFAULT_ALERTS_LIMIT = 20
MAX_VARIANTS = 50
_WIKI = re.compile(r"^[a-z][a-z0-9_]{1,39}$")  # a wiki's database name: enwiki, zh_min_nanwiki, wikidatawiki


@dataclass(frozen=True)
class AlertQuery:
    """The filters of /alerts and /api/alerts; None means any."""

    entity: str | None
    alert_type: str | None
    wiki: str | None
    limit: int


def parse_alert_query(argument: Callable[[str], str | None], max_limit: int) -> AlertQuery:
    """The alert filters from ``argument(name)`` (the query string); BadParameter with the reason."""
    entity = argument("entity")
    return AlertQuery(
        entity=parse_entity(entity) if entity else None,
        alert_type=parse_alert_type(argument("type")),
        wiki=parse_wiki(argument("wiki")),
        limit=parse_limit(argument("limit"), DEFAULT_ALERTS_LIMIT, max_limit),
    )


class EditReader:
    """Reads what the edit job writes (stores/edits.py) through the site's asyncio client."""

    def __init__(self, client, settings) -> None:
        self.client, self.settings, self.keys = client, settings, EditKeys(settings.redis)
        self._change = change_watchlist_script(client)

    async def _call(self, coroutine):
        try:
            return await coroutine
        except (RedisError, OSError) as error:
            raise RedisUnavailable(
                f"Redis at {self.settings.redis.url} is not answering ({error})"
            ) from error

    async def watchlist(self) -> dict[str, tuple[str, ...]]:
        raw = await self._call(self.client.hgetall(self.keys.watchlist))
        return watchlist_in_use(raw, self.settings.edits.watchlist)

    async def alerts(self, query: AlertQuery) -> list[dict]:
        """The newest alerts that pass the filters, newest first."""
        key = self.keys.entity_alerts(query.entity) if query.entity else self.keys.alerts
        members = await self._call(self.client.zrevrange(key, 0, self.settings.edits.alerts_kept - 1))
        found = [a for a in map(json.loads, members) if alert_matches(a, query.alert_type, query.wiki)]
        return found[: query.limit]

    async def article_alerts(self, project: str, title: str, limit: int) -> list[dict]:
        """The newest alerts about one article among those kept, newest first."""
        members = await self._call(
            self.client.zrevrange(self.keys.alerts, 0, self.settings.edits.alerts_kept - 1)
        )
        return alerts_of_article(members, project, title, limit)

    async def entities(self) -> list[dict]:
        watched = await self.watchlist()
        pipe = self.client.pipeline(transaction=False)
        for entity in watched:
            pipe.zrange(self.keys.entity(entity), 0, -1)
        lists = await self._call(pipe.execute())
        return [
            entity_metrics(entity, variants, map(json.loads, members)).to_json()
            for (entity, variants), members in zip(watched.items(), lists, strict=True)
        ]

    async def activity(self, articles: list[tuple[str, str]]) -> dict[tuple[str, str], dict]:
        """Each (project, title)'s edits in the activity window before the newest edit published, and
        its newest alert; articles with neither are left out."""
        if not articles:
            return {}
        # One round trip: each article's whole set is small (the writer trims it to the window and
        # lets it expire), so the window's start is applied here once the clock is known.
        pipe = self.client.pipeline(transaction=False)
        pipe.zscore(self.keys.clock, CLOCK_MEMBER)
        pipe.hmget(self.keys.last_alert, [article_field(project, title) for project, title in articles])
        for project, title in articles:
            pipe.zrange(self.keys.article(project, title), 0, -1, withscores=True)
        clock, last_alerts, *sets = await self._call(pipe.execute())
        if clock is None:  # the edit job has published nothing yet
            return {}
        since = int(clock) - self.settings.edits.activity_minutes * MINUTE_MS
        windows = [[(member, score) for member, score in pairs if score >= since] for pairs in sets]
        context = {}
        for article, members, alert in zip(articles, windows, last_alerts, strict=True):
            activity = decode_activity(members)
            if activity.edits or alert:
                context[article] = {**activity.to_json(), "last_alert": json.loads(alert) if alert else None}
        return context

    async def change_watchlist(self, entity: str, variants: list[str] | None) -> bool:
        """Put (variants given) or delete an entity; True when it was there before."""
        args = change_watchlist_args(self.settings, entity, variants)
        keys = [self.keys.watchlist, self.keys.watchlist_version]
        return bool(await self._call(self._change(keys=keys, args=args)))


def alerts_of_article(members: list[bytes | str], project: str, title: str, limit: int) -> list[dict]:
    """The first ``limit`` alerts about ``(project, title)`` among stored alert records, in their order."""
    found = []
    for alert in map(json.loads, members):
        if alert["project"] == project and alert["title"] == title:
            found.append(alert)
            if len(found) == limit:
                break
    return found


def parse_alert_type(raw: str | None) -> str | None:
    """``?type=``: one of the alert types (case-insensitive), absent for all; BadParameter otherwise."""
    if raw is None or raw == "":
        return None
    if raw.upper() not in ALERT_TYPES:
        raise BadParameter(f"unknown alert type {raw!r}: use one of {', '.join(ALERT_TYPES)}")
    return raw.upper()


def parse_wiki(raw: str | None) -> str | None:
    """``?wiki=``: a wiki's database name such as enwiki (case-insensitive), absent for all."""
    if raw is None or raw.strip() == "":
        return None
    wiki = raw.strip().lower()
    if not _WIKI.match(wiki):
        raise BadParameter(f"unknown wiki {raw!r}: use a database name such as enwiki or dewiki")
    return wiki


def parse_variants(body: bytes) -> list[str]:
    """A PUT body ``{"variants": ["Title", …]}``: 1 to MAX_VARIANTS non-empty titles; ValueError otherwise."""
    try:
        document = json.loads(body or b"null")
    except ValueError as error:
        raise ValueError(f"the body is not JSON ({error})") from None
    variants = document.get("variants") if isinstance(document, dict) else None
    if not isinstance(variants, list) or not 1 <= len(variants) <= MAX_VARIANTS:
        raise ValueError(f'the body must be {{"variants": [1 to {MAX_VARIANTS} titles]}}')
    if not all(isinstance(v, str) and v.strip() and len(v) <= MAX_TITLE_CHARS for v in variants):
        raise ValueError(f"every variant must be a non-empty title of at most {MAX_TITLE_CHARS} characters")
    return [v.strip() for v in variants]


def parse_entity(raw: str) -> str:
    """An entity name from the URL: 1 to MAX_TITLE_CHARS characters, no control characters."""
    entity = raw.strip()
    if not entity or len(entity) > MAX_TITLE_CHARS or any(ord(c) < 32 for c in entity):
        raise BadParameter(f"the entity must be 1 to {MAX_TITLE_CHARS} printable characters")
    return entity


def authorised(configured_token: str, header: str | None) -> tuple[int, str] | None:
    """None when a write may go on, else (status, reason): 401 no token given, 403 wrong or read-only."""
    if not configured_token:
        return 403, "the watch list is read-only here: no [edits] watchlist_token is configured"
    if not header or not header.startswith("Bearer "):
        return 401, "a token is needed: Authorization: Bearer <token>"
    if not hmac.compare_digest(header.removeprefix("Bearer ").encode(), configured_token.encode()):
        return 403, "the token is wrong"
    return None
