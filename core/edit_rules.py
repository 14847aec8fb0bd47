"""The edit side's alert rules, all by event time, on watch-list entities and articles.

- ``WatchList``: an entity is a set of title variants; a title matches an entity only when its
  normalised form equals one of the variants' (never by substring: "Oscar" does not match
  "Oscar_Wilde").
- ``is_large_edit`` (|new length − old length| > threshold), ``RapidEdits`` (≥ N edits of one entity
  within a span of S seconds, once per burst, in any arrival order) and ``EditWars`` (≥ N reverts of
  one article within a window, by ≥ 2 users, once per window); bot edits on watched entities.
- ``EntityAlerts`` and ``ArticleEditWar``: the rules per key, as the edit job keeps them;
  ``alerts_of_stream`` runs them over a whole stream (the tests' reference).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from core.bots import DETECTED, FLAGGED, LISTED
from core.edit_events import Edit, normalise_title
from core.windows import iso_time


def is_large_edit(edit: Edit, threshold_bytes: int) -> bool:
    """LARGE_EDIT: the page grew or shrank by more than ``threshold_bytes``."""
    return abs(edit.size_change) > threshold_bytes


class WatchList:
    """Entities, each a set of title variants, matched on normalised titles only."""

    def __init__(self, entities: dict[str, list[str]]) -> None:
        self._entity_of: dict[str, str] = {}
        for entity, variants in entities.items():
            for variant in [entity, *variants]:
                self._entity_of[normalise_title(variant)] = entity

    def entity_of(self, title: str) -> str | None:
        """The entity ``title`` is a variant of, or None."""
        return self._entity_of.get(normalise_title(title))


class RapidEdits:
    """RAPID_EDIT: at least ``count`` edits of one key (an entity) within ``span_ms`` of event time.

    Edits may arrive out of order; each key keeps its edit times sorted. One alert per burst: a new
    qualifying run whose span overlaps or lies within ``span_ms`` of an alerted one is the same burst.
    Times older than ``retention_ms`` behind the newest seen are forgotten.
    """

    def __init__(self, count: int = 3, span_ms: int = 60_000, retention_ms: int = 3_600_000) -> None:
        self.count, self.span_ms, self.retention_ms = count, span_ms, retention_ms
        self._times: dict[str, list[int]] = defaultdict(list)
        self._alerted: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self._newest = 0

    def add(self, key: str, timestamp_ms: int) -> tuple[int, int] | None:
        """Record an edit; the (first, last) times of a newly qualifying burst, or None."""
        self._newest = max(self._newest, timestamp_ms)
        times = self._times[key]
        bisect.insort(times, timestamp_ms)
        horizon = self._newest - self.retention_ms
        del times[: bisect.bisect_left(times, horizon)]
        self._alerted[key] = [(a, b) for a, b in self._alerted[key] if b >= horizon]
        at = bisect.bisect_left(times, timestamp_ms)
        # Every run of `count` consecutive edit times that contains the new one.
        for first in range(max(0, at - self.count + 1), min(at, len(times) - self.count) + 1):
            span = (times[first], times[first + self.count - 1])
            if span[1] - span[0] <= self.span_ms:
                if any(
                    span[0] <= b + self.span_ms and a <= span[1] + self.span_ms for a, b in self._alerted[key]
                ):
                    return None
                self._alerted[key].append(span)
                return span
        return None


class EditWars:
    """EDIT_WAR: at least ``reverts`` reverts of one article within ``window_ms`` of event time, made by at
    least ``users`` different accounts (people undoing each other), alerted once per window."""

    def __init__(self, reverts: int = 3, users: int = 2, window_ms: int = 3_600_000) -> None:
        self.reverts, self.users, self.window_ms = reverts, users, window_ms
        self._reverts: dict[str, list[tuple[int, str]]] = defaultdict(list)
        self._alerted_at: dict[str, int] = {}

    def add(self, edit: Edit) -> bool:
        """Record an edit; True when it makes its article an edit war not alerted in this window."""
        if not edit.is_revert:
            return False
        key = war_key(edit)
        reverts = self._reverts[key]
        bisect.insort(reverts, (edit.timestamp_ms, edit.user))
        recent = [(t, u) for t, u in reverts if abs(t - edit.timestamp_ms) <= self.window_ms]
        self._reverts[key] = [(t, u) for t, u in reverts if t >= reverts[-1][0] - self.window_ms]
        # The window of the latest reverts around this one: at least `reverts` of them, by `users` accounts.
        for start in range(len(recent)):
            window = [(t, u) for t, u in recent if recent[start][0] <= t <= recent[start][0] + self.window_ms]
            if len(window) >= self.reverts and len({u for _, u in window}) >= self.users:
                alerted = self._alerted_at.get(key)
                if alerted is not None and abs(window[0][0] - alerted) <= self.window_ms:
                    return False
                self._alerted_at[key] = window[0][0]
                return True
        return False


# The alert types, as the alerts topic, Redis and the API name them. TRAFFIC_SPIKE is about readers,
# not an edit: a watched article's rise on the trending list (core/traffic_alerts.py).
LARGE_EDIT, BOT_EDIT, RAPID_EDIT, EDIT_WAR = "LARGE_EDIT", "BOT_EDIT", "RAPID_EDIT", "EDIT_WAR"
TRAFFIC_SPIKE = "TRAFFIC_SPIKE"
ALERT_TYPES = (LARGE_EDIT, BOT_EDIT, RAPID_EDIT, EDIT_WAR, TRAFFIC_SPIKE)


@dataclass(frozen=True)
class EditAlert:
    """An alert as stored in the alerts topic and Redis: about one edit (the one that set it off), or
    for TRAFFIC_SPIKE about an article's readers (no user, comment or revision; ``views`` carries the
    numbers behind it)."""

    alert_type: str
    alert_reason: str
    entity: str | None  # the watched entity; None for an edit war on an article nobody watches
    wiki: str
    project: str
    title: str
    user: str | None  # None for TRAFFIC_SPIKE
    is_bot: bool
    timestamp_ms: int
    comment: str
    size_change: int
    revision_id: int | None
    bot_reason: str | None = None
    views: dict | None = field(default=None, compare=False, hash=False)  # TRAFFIC_SPIKE's numbers

    @property
    def alert_id(self) -> str:
        """The same alert always has the same id, so a replay after a restart stores it once."""
        source = f"{self.views['source']}:" if self.views else ""  # TRAFFIC_SPIKE: trending or anomalies
        return f"{self.alert_type}:{source}{self.wiki}:{self.revision_id or self.timestamp_ms}:{self.title}"

    def to_json(self) -> dict:
        """The record as published: the documented fields (``timestamp`` in ISO 8601, ``bot_reason``),
        with ``alert_id`` and ``timestamp_ms`` beside them for storage and sorting."""
        return {"alert_id": self.alert_id, "timestamp": iso_time(self.timestamp_ms), **asdict(self)}


def alert_of(edit: Edit, alert_type: str, reason: str, entity: str | None) -> EditAlert:
    """The alert ``edit`` sets off."""
    return EditAlert(
        alert_type=alert_type,
        alert_reason=reason,
        entity=entity,
        wiki=edit.wiki,
        project=edit.project,
        title=edit.title,
        user=edit.user,
        is_bot=edit.is_bot,
        timestamp_ms=edit.timestamp_ms,
        comment=edit.comment,
        size_change=edit.size_change,
        revision_id=edit.revision_id,
        bot_reason=edit.bot_reason,
    )


# BOT_EDIT's reason, by how the edit is a bot's.
BOT_REASONS = {
    FLAGGED: "made by an account with the bot flag",
    LISTED: "made by an account on the list of flagged bots (the edit itself has no flag)",
    DETECTED: "made by an account the bot detector found editing like a bot",
}


@dataclass(frozen=True)
class AlertThresholds:
    """The rules' numbers ([edits] in the configuration)."""

    large_edit_bytes: int = 500
    rapid_edit_count: int = 3
    rapid_edit_seconds: float = 60
    edit_war_reverts: int = 3
    edit_war_users: int = 2
    edit_war_minutes: int = 60

    @classmethod
    def of(cls, edits) -> AlertThresholds:
        """From the configuration's [edits] section (core.config.EditsSettings)."""
        return cls(
            large_edit_bytes=edits.large_edit_bytes,
            rapid_edit_count=edits.rapid_edit_count,
            rapid_edit_seconds=edits.rapid_edit_seconds,
            edit_war_reverts=edits.edit_war_reverts,
            edit_war_users=edits.edit_war_users,
            edit_war_minutes=edits.edit_war_minutes,
        )


class EntityAlerts:
    """The alerts of one watched entity's edits: LARGE_EDIT, BOT_EDIT and RAPID_EDIT (by event time)."""

    def __init__(self, thresholds: AlertThresholds) -> None:
        self.thresholds = thresholds
        self.rapid = RapidEdits(thresholds.rapid_edit_count, int(thresholds.rapid_edit_seconds * 1000))

    def add(self, edit: Edit, entity: str) -> list[EditAlert]:
        """Record a watched edit; the alerts it sets off, in a fixed order."""
        found = []
        limit = self.thresholds.large_edit_bytes
        if is_large_edit(edit, limit):
            found.append(
                alert_of(edit, LARGE_EDIT, f"{edit.size_change:+,} bytes (more than {limit:,})", entity)
            )
        if edit.is_bot:
            found.append(alert_of(edit, BOT_EDIT, BOT_REASONS[edit.bot_reason or FLAGGED], entity))
        burst = self.rapid.add(entity, edit.timestamp_ms)
        if burst is not None:
            count, seconds = self.thresholds.rapid_edit_count, (burst[1] - burst[0]) / 1000
            found.append(
                alert_of(edit, RAPID_EDIT, f"{count} edits of {entity} within {seconds:.1f} s", entity)
            )
        return found


class ArticleEditWar:
    """EDIT_WAR on one article (any article, watched or not)."""

    def __init__(self, thresholds: AlertThresholds) -> None:
        self.thresholds = thresholds
        self.wars = EditWars(
            thresholds.edit_war_reverts, thresholds.edit_war_users, thresholds.edit_war_minutes * 60_000
        )

    def add(self, edit: Edit, entity: str | None) -> list[EditAlert]:
        """Record an edit; an EDIT_WAR alert when its reverts make the article a new edit war."""
        if not self.wars.add(edit):
            return []
        t = self.thresholds
        reason = (
            f"{t.edit_war_reverts} or more reverts by {t.edit_war_users} or more accounts "
            f"within {t.edit_war_minutes} min"
        )
        return [alert_of(edit, EDIT_WAR, reason, entity)]


def war_key(edit: Edit) -> str:
    """The article an edit war is about: wiki and title."""
    return f"{edit.wiki}|{edit.title}"


def alerts_of_stream(
    edits: Iterable[Edit], watchlist: WatchList, thresholds: AlertThresholds
) -> list[EditAlert]:
    """Every alert a stream of edits sets off, in arrival order: what the edit job computes, key by key."""
    entities: dict[str, EntityAlerts] = {}
    wars: dict[str, ArticleEditWar] = {}
    found: list[EditAlert] = []
    for edit in edits:
        entity = watchlist.entity_of(edit.title)
        if entity is not None:
            found += entities.setdefault(entity, EntityAlerts(thresholds)).add(edit, entity)
        if edit.is_revert:
            found += wars.setdefault(war_key(edit), ArticleEditWar(thresholds)).add(edit, entity)
    return found
