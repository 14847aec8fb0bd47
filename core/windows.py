"""Window arithmetic: 10-minute windows sliding every minute, routed to ten topics.

A window is named by its start; it covers [start, start + 10 min). Windows
whose start minutes end in the same digit d never overlap and tile time, so
six consecutive ones in topic d make an hour.
"""

from __future__ import annotations

from datetime import UTC, datetime

MINUTE_MS = 60_000
WINDOW_MS = 10 * MINUTE_MS
SLIDE_MS = MINUTE_MS
HOUR_MS = 60 * MINUTE_MS
WINDOWS_PER_HOUR = HOUR_MS // WINDOW_MS
# One topic per last digit of a window's start minute.
WINDOW_TOPIC_COUNT = 10


def topic_digit(window_start_ms: int) -> int:
    """The topic a window goes to: the last digit of its start minute."""
    if window_start_ms % MINUTE_MS:
        raise ValueError(f"window start {window_start_ms} is not on a whole minute")
    return (window_start_ms // MINUTE_MS) % WINDOW_TOPIC_COUNT


def hour_window_ends(minute_ms: int) -> list[int]:
    """The ends of the six windows of one topic that make the hour ending at ``minute_ms``, oldest first."""
    return [minute_ms - WINDOW_MS * back for back in range(WINDOWS_PER_HOUR - 1, -1, -1)]


def window_starts_of(ts_ms: int) -> range:
    """Starts of the ten sliding windows an event at ``ts_ms`` belongs to, oldest first."""
    last = ts_ms - ts_ms % SLIDE_MS
    return range(last - WINDOW_MS + SLIDE_MS, last + 1, SLIDE_MS)


def hour_start_of(ts_ms: int) -> int:
    """The start of the hour ``ts_ms`` falls in."""
    return ts_ms - ts_ms % HOUR_MS


def iso_time(epoch_ms: int) -> str:
    """``epoch_ms`` as UTC ISO 8601 to the second, e.g. 2026-03-02T08:40:00Z (logs, pages, the API)."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
