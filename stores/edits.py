"""The edit side's Redis layout: what the edit job writes and the site reads (issue 10).

Keys, under the project's prefix:

  edits:clock                       the newest event time published (a one-member sorted set, ZADD GT)
  edits:article:<project>:<title>   an article's edits of the activity window, scored by event time
  edits:entity:<entity>             a watched entity's edit events of the kept history, by event time
  edits:alerts                      the newest alerts (JSON), scored by event time
  edits:alerts:entity:<entity>      the same per watched entity
  edits:last-alert                  hash: <project>|<title> -> the article's newest alert
  edits:watchlist                   hash: entity -> its variants (JSON), once the API changed the list
  edits:watchlist:version           bumped by every change; the edit job polls it

Every member is the JSON of one edit or alert, the same bytes whenever the
same event is published again, so a job that replays after a restart
rewrites what is there instead of counting twice. Windows are in event time
(``edits:clock``), so a replay of old events shows their hour, not an empty one.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

from core.config import Settings
from core.contracts import EditKeys
from core.edit_activity import EditActivity, activity_record, edit_activity, edit_event
from core.edit_events import Edit
from core.edit_rules import EditAlert, WatchList
from core.settings import EditsSettings, RedisSettings
from core.windows import HOUR_MS, MINUTE_MS

log = logging.getLogger("stores.edits")

CLOCK_MEMBER = "newest"
# Keys of articles and entities outlive their window a little, then Redis drops the quiet ones.
EXPIRY_MARGIN_S = 600


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def encode_alert(alert: EditAlert) -> str:
    """An alert as the alerts topic and Redis hold it (the same text for the same alert)."""
    return _json(alert.to_json())


def article_field(project: str, title: str) -> str:
    """The field of an article in ``edits:last-alert``."""
    return f"{project}|{title}"


class EditWriter:
    """Publishes a batch of edits and alerts in one pipeline (the edit job's side, synchronous client)."""

    def __init__(self, client, redis: RedisSettings, edits: EditsSettings) -> None:
        self.client, self.keys, self.settings = client, EditKeys(redis), edits

    def write(self, edits: Iterable[tuple[Edit, str | None]], alerts: Iterable[EditAlert]) -> None:
        """Store (edit, watched entity or None) pairs and alerts; raises redis errors for the caller."""
        s = self.settings
        activity_ms, history_ms = s.activity_minutes * MINUTE_MS, s.entity_history_hours * HOUR_MS
        pipe = self.client.pipeline(transaction=False)
        newest = 0
        articles: set[str] = set()
        entities: set[str] = set()
        for edit, entity in edits:
            newest = max(newest, edit.timestamp_ms)
            key = self.keys.article(edit.project, edit.title)
            pipe.zadd(key, {_json(activity_record(edit)): edit.timestamp_ms})
            articles.add(key)
            if entity is not None:
                pipe.zadd(self.keys.entity(entity), {_json(edit_event(edit, entity)): edit.timestamp_ms})
                entities.add(self.keys.entity(entity))
        for key in articles:
            pipe.zremrangebyscore(key, "-inf", f"({newest - activity_ms}")
            pipe.expire(key, activity_ms // 1000 + EXPIRY_MARGIN_S)
        for key in entities:
            pipe.zremrangebyscore(key, "-inf", f"({newest - history_ms}")
        lists = set()
        for alert in alerts:
            member = encode_alert(alert)
            lists.add(self.keys.alerts)
            pipe.zadd(self.keys.alerts, {member: alert.timestamp_ms})
            if alert.entity is not None:
                lists.add(self.keys.entity_alerts(alert.entity))
                pipe.zadd(self.keys.entity_alerts(alert.entity), {member: alert.timestamp_ms})
            pipe.hset(self.keys.last_alert, article_field(alert.project, alert.title), member)
        for key in lists:
            pipe.zremrangebyrank(key, 0, -(s.alerts_kept + 1))
        if newest:
            pipe.zadd(self.keys.clock, {CLOCK_MEMBER: newest}, gt=True)
        pipe.execute()


def decode_activity(members: Iterable[tuple[bytes | str, float]]) -> EditActivity:
    """An article's activity from its sorted set's (member, score) pairs of the window."""
    return edit_activity((json.loads(member), int(score)) for member, score in members)


def alert_matches(alert: dict, alert_type: str | None, wiki: str | None) -> bool:
    """The /alerts filters (the entity filter picks the per-entity list instead)."""
    return (alert_type is None or alert["alert_type"] == alert_type) and (
        wiki is None or alert["wiki"] == wiki
    )


# Changes the watch list atomically: the first change copies the configured list in, then sets
# (variants given) or deletes (none given) one entity and bumps the version.
# KEYS: watch list hash, version; ARGV: entity, variants JSON or "", configured list JSON
_CHANGE_WATCHLIST = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  for entity, variants in pairs(cjson.decode(ARGV[3])) do
    redis.call('HSET', KEYS[1], entity, cjson.encode(variants))
  end
end
local existed = redis.call('HEXISTS', KEYS[1], ARGV[1])
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('INCR', KEYS[2])
return existed
"""


def watchlist_in_use(raw: dict, configured: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """The watch list from its Redis hash (entity -> variants JSON), or the configured one while the API
    has never changed it (no hash)."""
    if not raw:
        return dict(configured)
    return {(k.decode() if isinstance(k, bytes) else k): tuple(json.loads(v)) for k, v in raw.items()}


class WatchListStore:
    """The watch list at run time: the API's changes in Redis, else the configured list."""

    def __init__(self, client, settings: Settings) -> None:
        self.client, self.keys, self.configured = client, EditKeys(settings.redis), settings.edits.watchlist
        self._seen_version: bytes | None = None

    def current(self) -> dict[str, tuple[str, ...]]:
        return watchlist_in_use(self.client.hgetall(self.keys.watchlist), self.configured)

    def changed_watchlist(self) -> dict[str, tuple[str, ...]] | None:
        """The list if it changed since the last call (the first call: if the API ever changed it)."""
        import redis

        try:
            version = self.client.get(self.keys.watchlist_version)
            if version == self._seen_version:
                return None
            self._seen_version = version
            return self.current()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("cannot read the watch list from Redis (%s); keeping the one in use", error)
            return None


class WatchListPoller:
    """The watch list a job matches with: the configured one, then the API's changes, looked for at most
    every ``[edits] watchlist_poll_seconds`` (Redis down: the list in use is kept)."""

    def __init__(self, client, settings: Settings) -> None:
        self.store = WatchListStore(client, settings)
        self.poll_seconds = settings.edits.watchlist_poll_seconds
        self.watchlist = WatchList(settings.edits.watchlist)
        self.next_poll = 0.0

    def current(self) -> WatchList:
        """The watch list in use."""
        now = time.monotonic()
        if now >= self.next_poll:
            self.next_poll = now + self.poll_seconds
            changed = self.store.changed_watchlist()
            if changed is not None:
                log.info("watch list changed: now %d entities", len(changed))
                self.watchlist = WatchList(changed)
        return self.watchlist


def change_watchlist_script(client):
    """The registered script that puts or deletes one entity (see _CHANGE_WATCHLIST)."""
    return client.register_script(_CHANGE_WATCHLIST)


def change_watchlist_args(settings: Settings, entity: str, variants: list[str] | None) -> list[str]:
    configured = {name: list(v) for name, v in settings.edits.watchlist.items()}
    return [entity, json.dumps(variants) if variants is not None else "", json.dumps(configured)]
