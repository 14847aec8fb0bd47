"""The trending rule and its growth score, over an article's last hour of six 10-minute counts.

At minute m the last hour of an article is the six windows of topic m mod 10
that end at m-50, m-40, ..., m (oldest first); a window without views counts 0.

An article trends when the six counts never decrease, the last is greater
than the first, and the last reaches a minimum volume.

Growth score: (last - first) / (first + min_volume). It is the hour's growth
relative to where the article started, damped by the minimum volume so that
a page going from 0 to a handful of views does not beat one going from 0 to
thousands. Always-popular pages (Main_Page) score low because their growth is
small next to their base, and they rarely rise six windows in a row at all.

The streaming job evaluates the rule in SQL (streaming/sql.py trending_query);
these functions are the tests' oracle for it, and the tests check both against
each other on the same inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.windows import HOUR_MS, WINDOW_MS

WINDOWS_PER_HOUR = HOUR_MS // WINDOW_MS


def is_trending(counts: Sequence[int], min_volume: int) -> bool:
    """The seed's rule: never decreasing, growing overall, and the last count at least min_volume."""
    if len(counts) != WINDOWS_PER_HOUR:
        raise ValueError(f"expected {WINDOWS_PER_HOUR} window counts, got {len(counts)}")
    never_decreases = all(a <= b for a, b in zip(counts, counts[1:], strict=False))
    return never_decreases and counts[-1] > counts[0] and counts[-1] >= min_volume


def growth_score(counts: Sequence[int], min_volume: int) -> float:
    """(last - first) / (first + min_volume): relative growth over the hour, damped for small bases."""
    return (counts[-1] - counts[0]) / (counts[0] + min_volume)


def hour_window_ends(minute_ms: int) -> list[int]:
    """The ends of the six windows that make the hour ending at ``minute_ms``, oldest first."""
    return [minute_ms - WINDOW_MS * back for back in range(WINDOWS_PER_HOUR - 1, -1, -1)]
