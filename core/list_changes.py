"""What changed since the earlier lists: the reader's "new", "up from 7", "listed for 45 min".

Pure functions over the lists the jobs keep in Redis (core/snapshots.py): a
trending article's rank in the list an hour before and how long it has been
on the list without a break; an anomaly's presence in the hour before. The
site reads the earlier lists (web/snapshots.py) and shows what these return.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from core.windows import HOUR_MS, MINUTE_MS

ArticleKey = tuple[str, str]  # (project, title)
HOUR_MINUTES = HOUR_MS // MINUTE_MS


@dataclass(frozen=True)
class TrendingChange:
    """One listed article against the earlier minutes' lists."""

    # Its rank in the list of the minute an hour before; None when it was not on it, or that list is
    # not kept (then ``new`` is None too: nobody knows).
    rank_an_hour_ago: int | None
    new: bool | None  # not on the list an hour before
    listed_minutes: int  # minutes on the list without a break, this one included
    # The run reaches back to the oldest list read, or to a minute without a list: it may be longer.
    listed_at_least: bool


def listed_ranks(document: bytes | str | None) -> dict[ArticleKey, int] | None:
    """(project, title) -> rank in a stored trending or anomaly list; None when there is no list."""
    if document is None:
        return None
    return {(a["project"], a["title"]): a["rank"] for a in json.loads(document)["articles"]}


def trending_changes(
    current: dict[ArticleKey, int], earlier: Sequence[dict[ArticleKey, int] | None]
) -> dict[ArticleKey, TrendingChange]:
    """Each listed article's change. ``current``: the list's (project, title) -> rank; ``earlier[k]``:
    the same for the list k + 1 minutes before (None: no list kept for that minute), newest first."""
    hour_ago = earlier[HOUR_MINUTES - 1] if len(earlier) >= HOUR_MINUTES else None
    changes = {}
    for article in current:
        listed, at_least = 1, True
        for ranks in earlier:
            if ranks is None:
                break
            if article not in ranks:
                at_least = False
                break
            listed += 1
        changes[article] = TrendingChange(
            rank_an_hour_ago=hour_ago.get(article) if hour_ago is not None else None,
            new=article not in hour_ago if hour_ago is not None else None,
            listed_minutes=listed,
            listed_at_least=at_least,
        )
    return changes


def listed_before(
    current: Sequence[ArticleKey], before: dict[ArticleKey, int] | None
) -> dict[ArticleKey, bool | None]:
    """Whether each article was on the list before (the anomaly list of the hour before); None when that
    list is not there."""
    return {article: (article in before if before is not None else None) for article in current}
