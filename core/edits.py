"""Edit activity: Wikimedia ``recentchange`` events, watch-list entities and the alert rules.

Pure logic for the edit side of the product (issue 10): the edit job and its tests build on it.

- ``parse_recentchange``: one EventStreams ``recentchange`` event (JSON) -> an ``Edit`` (for
  ``edit`` and ``new`` events), None for other types (``categorize``, ``log``), or
  MalformedEditEvent with the reason.
- ``normalise_title`` and ``WatchList``: an entity is a set of title variants; a title matches an
  entity only when its normalised form equals one of the variants' (never by substring: "Oscar"
  does not match "Oscar_Wilde").
- Alert rules, all by event time: ``is_large_edit`` (|new length − old length| > threshold),
  ``RapidEdits`` (≥ N edits of one entity within a span of S seconds, once per burst, in any arrival
  order) and ``EditWars`` (≥ N reverts of one article within a window, by ≥ 2 users, once per window).
"""

from __future__ import annotations

import bisect
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import datetime

from core.bots import DETECTED, FLAGGED, LISTED
from core.events import project_of_server

EDIT_TYPES = frozenset({"edit", "new"})
# Comments MediaWiki and the common tools write when they revert (undo, rollback, Twinkle, ClueBot …).
_REVERT_COMMENT = re.compile(
    r"^\s*(undid revision|reverted \d* ?edits? by|reverting possible vandalism|revert(ed|ing)? to revision"
    r"|rv\b|rvv\b|restored revision)",
    re.IGNORECASE,
)
# Change tags MediaWiki puts on reverts, when an event carries them.
REVERT_TAGS = frozenset({"mw-undo", "mw-rollback", "mw-manual-revert"})


class MalformedEditEvent(ValueError):
    """An event that is not a usable recentchange edit; the message says why."""


@dataclass(frozen=True)
class Edit:
    """One edit of one page, as the edit job sees it."""

    wiki: str  # enwiki
    project: str  # en.wikipedia, as page requests name it (from server_name; the wiki when absent)
    title: str  # normalised (core.edits.normalise_title)
    namespace: int
    user: str
    is_bot: bool  # a bot made it: the event's bot flag, or the account is on the bot lists
    timestamp_ms: int  # event time
    comment: str
    size_change: int  # new length − old length (the whole length for a new page)
    revision_id: int | None
    is_revert: bool
    bot_source: str | None = None  # how it is a bot's: core.bots FLAGGED, LISTED or DETECTED


def normalise_title(title: str) -> str:
    """A title as MediaWiki stores it: underscores for spaces, no outer or repeated ones, first letter
    upper case (the rule of every big Wikipedia)."""
    collapsed = re.sub(r"_+", "_", title.replace(" ", "_")).strip("_")
    return collapsed[:1].upper() + collapsed[1:]


def is_revert(comment: str, tags: list[str] | None = None) -> bool:
    """True when the edit reverts others: by its change tags, else by its comment."""
    return bool(REVERT_TAGS.intersection(tags or ())) or bool(_REVERT_COMMENT.match(comment or ""))


def _event_time_ms(event: dict) -> int:
    """The event's time: ``meta.dt`` (ISO 8601), else the Unix ``timestamp``."""
    dt = (event.get("meta") or {}).get("dt")
    if isinstance(dt, str):
        try:
            return int(datetime.fromisoformat(dt.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError as error:
            raise MalformedEditEvent(f"meta.dt {dt!r} is not a time") from error
    timestamp = event.get("timestamp")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        return int(timestamp * 1000)
    raise MalformedEditEvent("the event has neither meta.dt nor a numeric timestamp")


def parse_recentchange(raw: str | bytes | dict) -> Edit | None:
    """An Edit for an ``edit`` or ``new`` event, None for another type; MalformedEditEvent otherwise."""
    if isinstance(raw, dict):
        event = raw
    else:
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise MalformedEditEvent(f"not JSON: {error}") from error
    if not isinstance(event, dict):
        raise MalformedEditEvent("not a JSON object")
    if event.get("type") not in EDIT_TYPES:
        if isinstance(event.get("type"), str):
            return None
        raise MalformedEditEvent("the event has no type")
    bad = [f for f in ("wiki", "title", "user") if not isinstance(event.get(f), str) or not event[f]]
    bad += [] if isinstance(event.get("namespace"), int) else ["namespace"]
    if bad:
        raise MalformedEditEvent(f"missing or bad field(s): {', '.join(bad)}")
    length = event.get("length") or {}
    if not isinstance(length, dict) or not all(isinstance(length.get(e) or 0, int) for e in ("old", "new")):
        raise MalformedEditEvent("length is not {old, new} numbers")
    revision = event.get("revision") or {}
    comment = event.get("comment") or ""
    server = event.get("server_name")
    return Edit(
        wiki=event["wiki"],
        project=project_of_server(server) if isinstance(server, str) and server else event["wiki"],
        title=normalise_title(event["title"]),
        namespace=event["namespace"],
        user=event["user"],
        is_bot=event.get("bot") is True,
        timestamp_ms=_event_time_ms(event),
        comment=comment,
        size_change=(length.get("new") or 0) - (length.get("old") or 0),
        revision_id=revision.get("new") if isinstance(revision, dict) else None,
        is_revert=is_revert(comment, event.get("tags")),
        bot_source=FLAGGED if event.get("bot") is True else None,
    )


def marked_bot(edit: Edit, bot_source: str | None) -> Edit:
    """The edit marked as a bot's when the bot lists say so (an edit with the flag stays FLAGGED)."""
    if bot_source is None or edit.is_bot:
        return edit
    return replace(edit, is_bot=True, bot_source=bot_source)


SSE_DATA = "data:"
_SSE_OTHER = (":", "event:", "id:", "retry:")


def event_line(line: str) -> str | None:
    """The event JSON of one line of a recorded file (ndjson, or an SSE ``data:`` line); None for a
    blank line or another SSE line (comment, event, id, retry)."""
    line = line.strip()
    if line.startswith(SSE_DATA):
        return line[len(SSE_DATA) :].strip()
    if not line or line.startswith(_SSE_OTHER):
        return None
    return line


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


# The alert types, as the alerts topic, Redis and the API name them.
LARGE_EDIT, BOT_EDIT, RAPID_EDIT, EDIT_WAR = "LARGE_EDIT", "BOT_EDIT", "RAPID_EDIT", "EDIT_WAR"
ALERT_TYPES = (LARGE_EDIT, BOT_EDIT, RAPID_EDIT, EDIT_WAR)


@dataclass(frozen=True)
class EditAlert:
    """An alert about one edit (the one that set it off), as stored in the alerts topic and Redis."""

    alert_type: str
    alert_reason: str
    entity: str | None  # the watched entity; None for an edit war on an article nobody watches
    wiki: str
    project: str
    title: str
    user: str
    is_bot: bool
    timestamp_ms: int
    comment: str
    size_change: int
    revision_id: int | None
    bot_source: str | None = None

    @property
    def alert_id(self) -> str:
        """The same alert always has the same id, so a replay after a restart stores it once."""
        return f"{self.alert_type}:{self.wiki}:{self.revision_id or self.timestamp_ms}:{self.title}"

    def to_json(self) -> dict:
        return {"alert_id": self.alert_id, **asdict(self)}


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
        bot_source=edit.bot_source,
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
            found.append(alert_of(edit, BOT_EDIT, BOT_REASONS[edit.bot_source or FLAGGED], entity))
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


@dataclass(frozen=True)
class EditActivity:
    """One article's edits over the activity window (the trending page's edit context)."""

    edits: int
    editors: int
    bytes_added: int
    bytes_removed: int
    bot_edits: int
    reverts: int
    last_edit_ms: int | None

    def to_json(self) -> dict:
        return asdict(self)


def activity_record(edit: Edit) -> list:
    """What the edit job keeps of an edit for the activity window: revision, user, size, bot, revert."""
    return [edit.revision_id, edit.user, edit.size_change, edit.is_bot, edit.is_revert]


def edit_activity(records: Iterable[tuple[list, int]]) -> EditActivity:
    """The activity of an article from its (activity_record, event time) pairs of the window."""
    edits = added = removed = bots = reverts = 0
    users: set[str] = set()
    last: int | None = None
    for (_revision, user, size_change, is_bot, revert), timestamp_ms in records:
        edits += 1
        users.add(user)
        added += max(size_change, 0)
        removed += max(-size_change, 0)
        bots += bool(is_bot)
        reverts += bool(revert)
        last = timestamp_ms if last is None else max(last, timestamp_ms)
    return EditActivity(edits, len(users), added, removed, bots, reverts, last)


@dataclass(frozen=True)
class EntityMetrics:
    """A watched entity's edits over the kept history (/api/entities)."""

    entity: str
    variants: tuple[str, ...]
    edits: int
    bot_edits: int
    human_edits: int
    bytes_changed: int  # the sum of |size change|
    distinct_users: int
    last_edit: dict | None  # the newest stored edit event

    def to_json(self) -> dict:
        return {**asdict(self), "variants": list(self.variants)}


def edit_event(edit: Edit, entity: str | None) -> dict:
    """An edit as stored per entity: the fields the issue names, for the entity tracker."""
    return {
        "entity": entity,
        "timestamp_ms": edit.timestamp_ms,
        "user": edit.user,
        "is_bot": edit.is_bot,
        "bot_source": edit.bot_source,
        "title": edit.title,
        "comment": edit.comment,
        "size_change": edit.size_change,
        "wiki": edit.wiki,
        "revision_id": edit.revision_id,
    }


def entity_metrics(entity: str, variants: Iterable[str], events: Iterable[dict]) -> EntityMetrics:
    """Sum a watched entity's stored edit events (edit_event)."""
    edits = bots = changed = 0
    users: set[str] = set()
    last: dict | None = None
    for event in events:
        edits += 1
        bots += bool(event["is_bot"])
        changed += abs(event["size_change"])
        users.add(event["user"])
        if last is None or event["timestamp_ms"] >= last["timestamp_ms"]:
            last = event
    return EntityMetrics(entity, tuple(variants), edits, bots, edits - bots, changed, len(users), last)


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
