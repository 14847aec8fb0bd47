"""Edits as they come: Wikimedia ``recentchange`` events parsed into ``Edit``s.

- ``parse_recentchange``: one EventStreams ``recentchange`` event (JSON) -> an ``Edit`` (for
  ``edit`` and ``new`` events), None for other types (``categorize``, ``log``), or
  MalformedEditEvent with the reason.
- ``normalise_title``, ``is_revert``, ``marked_bot``; ``event_line`` reads a server-sent events line.

Pure: the edit job, the producers and the tests build on it (the alert rules: core/edit_rules.py;
what the site shows of an article's or an entity's edits: core/edit_activity.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from core.bots import FLAGGED
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
    bot_reason: str | None = None  # how it is a bot's: core.bots FLAGGED, LISTED or DETECTED


def normalise_title(title: str) -> str:
    """A title as MediaWiki stores it: underscores for spaces, no outer or repeated ones, first letter
    upper case (the rule of every big Wikipedia)."""
    collapsed = re.sub(r"_+", "_", title.replace(" ", "_")).strip("_")
    return collapsed[:1].upper() + collapsed[1:]


def is_revert(comment: str, tags: list[str] | None = None) -> bool:
    """True when the edit reverts others: by its change tags, else by its comment."""
    return bool(REVERT_TAGS.intersection(tags or ())) or bool(_REVERT_COMMENT.match(comment or ""))


def _event_time_ms(event: dict) -> int:
    """The event's time: ``meta.dt`` (ISO 8601; without an offset, UTC), else the Unix ``timestamp``.

    streaming/jvm's EditTimes reads the same time for the edit job's watermarks.
    """
    dt = (event.get("meta") or {}).get("dt")
    if isinstance(dt, str):
        try:
            moment = datetime.fromisoformat(dt.replace("Z", "+00:00"))
        except ValueError as error:
            raise MalformedEditEvent(f"meta.dt {dt!r} is not a time") from error
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
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
        bot_reason=FLAGGED if event.get("bot") is True else None,
    )


def marked_bot(edit: Edit, bot_reason: str | None) -> Edit:
    """The edit marked as a bot's when the bot lists say so (an edit with the flag stays FLAGGED)."""
    if bot_reason is None or edit.is_bot:
        return edit
    return replace(edit, is_bot=True, bot_reason=bot_reason)


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
