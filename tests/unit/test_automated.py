"""Readers or automated traffic (core/automated.py), on hand-written hours."""

from __future__ import annotations

import pytest

from core.automated import (
    AccessRule,
    desktop_share,
    likely_automated,
    mobile_share,
    mobile_share_up_to,
    trending_lists,
)
from core.trending import Hour, TrendingRule

RULE = AccessRule()
# English Wikipedia's rhythm: a third of the views of known access on the desktop site.
WIKI = Hour((30_000,) * 6, 180_000, desktop=63_000, mobile=117_000)
RISING = (20, 20, 20, 60, 90, 120)


def test_a_desktop_only_burst_is_flagged() -> None:
    assert likely_automated(desktop=330, mobile=0, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)
    assert likely_automated(desktop=320, mobile=10, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)


def test_a_normal_mobile_heavy_article_is_not() -> None:
    assert not likely_automated(desktop=40, mobile=290, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)
    assert not likely_automated(desktop=200, mobile=130, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)


def test_a_wiki_read_almost_only_on_mobile_is_not_flagged_wholesale() -> None:
    # 5 % desktop on the wiki: its articles at 0-5 % are its readers, not bots.
    assert not likely_automated(desktop=2, mobile=300, wiki_desktop=5_000, wiki_mobile=95_000, rule=RULE)
    assert not likely_automated(desktop=0, mobile=300, wiki_desktop=5_000, wiki_mobile=95_000, rule=RULE)


def test_too_few_views_of_known_access_are_not_judged() -> None:
    assert not likely_automated(desktop=29, mobile=0, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)
    assert not likely_automated(desktop=0, mobile=0, wiki_desktop=63_000, wiki_mobile=117_000, rule=RULE)
    assert not likely_automated(desktop=300, mobile=0, wiki_desktop=0, wiki_mobile=0, rule=RULE)


def test_shares_of_known_access() -> None:
    assert desktop_share(1, 3) == 0.25 and mobile_share(1, 3) == 0.75
    assert desktop_share(0, 0) is None and mobile_share(0, 0) is None
    by_hour = {0: (10, 30), 1: (0, 0), 5: (50, 10)}  # an anomaly item's day so far
    assert mobile_share_up_to(by_hour, 1) == 0.75 and mobile_share_up_to(by_hour, 5) == 0.4
    assert mobile_share_up_to({}, 5) is None


def test_flagged_articles_leave_the_list_and_are_listed_apart() -> None:
    hours = [
        ("en.wikipedia", "Reader_news", Hour(RISING, 60, desktop=110, mobile=220)),
        ("en.wikipedia", "Scraped_page", Hour(RISING, 60, desktop=330, mobile=0)),
        ("en.wikipedia", "Unknown_access", Hour(RISING, 60)),
    ]
    listed, automated = trending_lists(hours, {"en.wikipedia": WIKI}, TrendingRule(), RULE, top=2)
    assert [item.title for item in automated] == ["Scraped_page"]
    # The list still holds two readers' articles: the flagged one does not take a place.
    assert sorted(item.title for item in listed) == ["Reader_news", "Unknown_access"]
    kept, apart = trending_lists(
        hours, {"en.wikipedia": WIKI}, TrendingRule(), AccessRule(leave_out=False), 3
    )
    assert "Scraped_page" in {item.title for item in kept} and [i.title for i in apart] == ["Scraped_page"]


def test_bounds_must_make_sense() -> None:
    with pytest.raises(ValueError):
        AccessRule(low=0.9, high=0.1)
