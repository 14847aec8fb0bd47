"""The edit side of the site (issue 10): alerts, watched entities, the watch list and edit activity.

    GET    /api/alerts?entity=&type=&wiki=&limit=   newest alerts first (400 for an unknown type)
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

from redis.exceptions import RedisError

from core.edit_store import (
    EditKeys,
    alert_matches,
    change_watchlist_args,
    change_watchlist_script,
    watchlist_in_use,
)
from core.edits import ALERT_TYPES, entity_metrics
from core.events import MAX_TITLE_CHARS
from web.snapshots import RedisUnavailable
from web.views import BadParameter

DEFAULT_ALERTS_LIMIT = 20
MAX_VARIANTS = 50


class EditReader:
    """Reads what the edit job writes (core/edit_store.py) through the site's asyncio client."""

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

    async def alerts(self, entity: str | None, alert_type: str | None, wiki: str | None, limit: int) -> list:
        """The newest alerts that pass the filters, newest first."""
        key = self.keys.entity_alerts(entity) if entity else self.keys.alerts
        members = await self._call(self.client.zrevrange(key, 0, self.settings.edits.alerts_kept - 1))
        found = [alert for alert in map(json.loads, members) if alert_matches(alert, alert_type, wiki)]
        return found[:limit]

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

    async def change_watchlist(self, entity: str, variants: list[str] | None) -> bool:
        """Put (variants given) or delete an entity; True when it was there before."""
        args = change_watchlist_args(self.settings, entity, variants)
        keys = [self.keys.watchlist, self.keys.watchlist_version]
        return bool(await self._call(self._change(keys=keys, args=args)))


def parse_alert_type(raw: str | None) -> str | None:
    """``?type=``: one of the alert types (case-insensitive), absent for all; ValueError otherwise."""
    if raw is None or raw == "":
        return None
    if raw.upper() not in ALERT_TYPES:
        raise ValueError(f"unknown alert type {raw!r}: use one of {', '.join(ALERT_TYPES)}")
    return raw.upper()


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
