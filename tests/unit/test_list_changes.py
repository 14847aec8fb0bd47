"""What changed since the earlier lists (core/list_changes.py): ranks an hour ago, streaks, "new"."""

from __future__ import annotations

import json

from core.list_changes import listed_before, listed_ranks, trending_changes
from web.views import streak_text

A, B, C = ("en.wikipedia", "A"), ("en.wikipedia", "B"), ("de.wikipedia", "C")


def test_a_stored_list_gives_each_article_its_rank_and_a_missing_one_gives_none() -> None:
    document = json.dumps({"articles": [{"project": "en.wikipedia", "title": "A", "rank": 1, "z": 9.0}]})
    assert listed_ranks(document) == {A: 1}
    assert listed_ranks(document.encode()) == {A: 1}
    assert listed_ranks(None) is None


def test_rank_an_hour_ago_new_and_the_streak_over_a_full_hour_of_lists() -> None:
    # 60 earlier minutes, newest first: A on every list (rank 3 an hour ago); B on the last 10 only;
    # C on none of them.
    earlier = [{A: 2, B: 1} if k < 10 else {A: 3} for k in range(60)]
    changes = trending_changes({A: 1, B: 2, C: 3}, earlier)
    assert (changes[A].rank_an_hour_ago, changes[A].new) == (3, False)
    assert (changes[A].listed_minutes, changes[A].listed_at_least) == (61, True)  # every list read
    assert (changes[B].rank_an_hour_ago, changes[B].new) == (None, True)
    assert (changes[B].listed_minutes, changes[B].listed_at_least) == (11, False)
    assert (changes[C].new, changes[C].listed_minutes, changes[C].listed_at_least) == (True, 1, False)


def test_a_minute_without_a_list_ends_the_streak_as_at_least_and_an_unkept_hour_is_unknown() -> None:
    # The job published nothing 4 minutes ago (a restart): the streak cannot be told beyond it.
    earlier = [{A: 1}, {A: 1}, {A: 1}, None, {A: 1}]
    change = trending_changes({A: 1}, earlier)[A]
    assert (change.listed_minutes, change.listed_at_least) == (4, True)
    # Fewer than 60 earlier lists kept (or the one of an hour ago missing): rank and "new" unknown.
    assert (change.rank_an_hour_ago, change.new) == (None, None)
    hour_missing = [{A: 1}] * 59 + [None]
    assert trending_changes({A: 1}, hour_missing)[A].new is None


def test_anomalies_listed_the_hour_before_or_unknown_without_that_list() -> None:
    assert listed_before([A, B], {A: 1}) == {A: True, B: False}
    assert listed_before([A], None) == {A: None}


def test_streaks_read_as_people_say_them() -> None:
    assert streak_text(1, False) == "listed for 1 min"
    assert streak_text(60, False) == "listed for 1 h"
    assert streak_text(125, False) == "listed for 2 h 5 min"
    assert streak_text(181, True) == "listed for at least 3 h 1 min"
