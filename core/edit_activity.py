"""What the site shows of edits: an article's activity over the last hour, a watched entity's metrics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

from core.edit_events import Edit


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
        "bot_reason": edit.bot_reason,
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
