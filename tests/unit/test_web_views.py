"""The site's pure parts: parameters, titles, links, charts and the JSON documents."""

from __future__ import annotations

import pytest

from core.snapshots import AnomalousArticle, AnomalySnapshot, TrendingArticle, TrendingSnapshot
from web.views import (
    BadParameter,
    anomalies_document,
    article_url,
    chart_points,
    display_title,
    lag_note,
    parse_limit,
    parse_project,
    rank_change,
    seconds_until_next_minute,
    trending_document,
)


@pytest.mark.parametrize("raw", ["-1", "abc", "0", "100000", "1.5", " 3"])
def test_bad_limits_are_refused_with_a_reason(raw: str) -> None:
    with pytest.raises(BadParameter, match="limit must be"):
        parse_limit(raw, default=5, maximum=100)


def test_limit_defaults_and_bounds() -> None:
    assert parse_limit(None, default=5, maximum=100) == 5
    assert parse_limit("", default=5, maximum=100) == 5
    assert parse_limit("1", default=5, maximum=100) == 1
    assert parse_limit("100", default=5, maximum=100) == 100


def test_projects() -> None:
    assert parse_project(None) is None
    assert parse_project("en.wikipedia") == "en.wikipedia"
    assert parse_project("DE.Wiktionary") == "de.wiktionary"
    assert parse_project("commons.wikimedia") == "commons.wikimedia"
    for raw in ("en", "en.wikipediax", "evil.com", "en.wikipedia/../x", "<b>.wikipedia"):
        with pytest.raises(BadParameter, match="unknown project"):
            parse_project(raw)


def test_titles_and_links() -> None:
    assert display_title("Albert_Einstein") == "Albert Einstein"
    assert article_url("en.wikipedia", "Café_(film)") == "https://en.wikipedia.org/wiki/Caf%C3%A9_%28film%29"
    assert article_url("en.wikipedia", 'a"><script>') == "https://en.wikipedia.org/wiki/a%22%3E%3Cscript%3E"
    assert article_url("ja.wikipedia", "東京") == "https://ja.wikipedia.org/wiki/%E6%9D%B1%E4%BA%AC"


def test_chart_points_put_the_largest_value_at_the_top() -> None:
    assert chart_points([0, 5, 10], width=100, height=20) == "0.0,20.0 50.0,10.0 100.0,0.0"
    assert chart_points([0, 0], width=10, height=20) == "0.0,20.0 10.0,20.0"  # all zero: a flat line
    assert chart_points([5, 10], width=10, height=20, top=20) == "0.0,15.0 10.0,10.0"
    assert chart_points([], width=10, height=20) == ""


def test_cache_lifetime_is_what_is_left_of_the_minute() -> None:
    assert seconds_until_next_minute(1_772_438_400_000) == 60
    assert seconds_until_next_minute(1_772_438_459_000) == 1
    assert seconds_until_next_minute(1_772_438_430_500) == 30


def trending_snapshot() -> TrendingSnapshot:
    articles = [
        TrendingArticle(1, "en.wikipedia", "A", [1, 2, 3, 4, 5, 30], [60_000 * k for k in range(1, 7)], 3.5),
        TrendingArticle(2, "de.wikipedia", "B", [1, 1, 2, 2, 3, 25], [60_000 * k for k in range(1, 7)], 2.0),
        TrendingArticle(3, "en.wikipedia", "C", [2, 2, 2, 3, 3, 21], [60_000 * k for k in range(1, 7)], 1.0),
    ]
    return TrendingSnapshot(
        minute=1_772_438_400_000, computed_at=1_772_438_405_000, min_volume=20, articles=articles
    )


def test_trending_document_filters_by_project_keeps_rank_order_and_the_numbers() -> None:
    document = trending_document(trending_snapshot(), None, project="en.wikipedia", limit=5)
    assert [a["title"] for a in document["articles"]] == ["A", "C"]
    assert document["count"] == 2 and document["minute_iso"] == "2026-03-02T08:00:00Z"
    first = document["articles"][0]
    assert set(first) == {
        "rank",
        "project",
        "title",
        "counts",
        "window_ends",
        "score",
        "expected",
        "growth",
        "z",
        "url",
        "referrers",
        "edits",
        "rank_an_hour_ago",
        "new",
        "listed_minutes",
        "listed_at_least",
        "mobile_share",
        "likely_automated",
    }
    assert first["counts"] == [1, 2, 3, 4, 5, 30] and first["score"] == 3.5
    # Without the earlier lists, what changed is unknown: null, not "new".
    assert first["new"] is None and first["listed_minutes"] is None
    assert trending_document(trending_snapshot(), None, None, 1)["count"] == 1


def test_trending_articles_carry_their_edits_of_the_hour_when_they_have_any() -> None:
    activity = {"edits": 4, "editors": 3, "bytes_added": 900, "bytes_removed": 12, "last_alert": None}
    document = trending_document(trending_snapshot(), None, None, 5, {("en.wikipedia", "C"): activity})
    assert [a["edits"] for a in document["articles"]] == [None, None, activity]


def test_anomalies_document_carries_both_vectors_and_the_distance() -> None:
    article = AnomalousArticle(1, "en.wikipedia", "X", 2.5, [0, 0, 300], [40, 42, 41], 0.3, 9.5, 7.1, 9.5)
    snapshot = AnomalySnapshot("2026-03-02", 2, 1_772_416_800_000, 1_772_420_700_000, 6.0, 812, [article])
    document = anomalies_document(snapshot, None, None, 5)
    assert document["articles"][0]["today"] == [0, 0, 300]
    assert document["articles"][0]["history"] == [40, 42, 41]
    assert document["articles"][0]["distance"] == 2.5
    assert (document["date"], document["hour"], document["hour_start_iso"]) == (
        "2026-03-02",
        2,
        "2026-03-02T02:00:00Z",
    )


def test_trending_items_carry_what_changed_and_the_page_says_it_in_words() -> None:
    changes = {
        ("en.wikipedia", "A"): {
            "rank_an_hour_ago": 4,
            "new": False,
            "listed_minutes": 75,
            "listed_at_least": False,
        },
        ("en.wikipedia", "C"): {
            "rank_an_hour_ago": None,
            "new": True,
            "listed_minutes": 3,
            "listed_at_least": False,
        },
    }
    document = trending_document(trending_snapshot(), None, None, 5, None, changes)
    a, b, c = document["articles"]
    assert (a["rank_an_hour_ago"], a["new"], a["listed_minutes"]) == (4, False, 75)
    assert b["new"] is None and (c["new"], c["listed_minutes"]) == (True, 3)
    assert rank_change(1, changes[("en.wikipedia", "A")]) == "up from 4"
    assert rank_change(3, changes[("en.wikipedia", "C")]) == "new"
    assert rank_change(2, {"rank_an_hour_ago": 1, "new": False}) == "down from 1"
    assert rank_change(2, {"rank_an_hour_ago": 2, "new": False}) == "same rank"
    assert rank_change(2, {"rank_an_hour_ago": None, "new": None}) == "" and rank_change(2, None) == ""


def test_anomaly_items_say_whether_they_were_listed_the_hour_before() -> None:
    article = AnomalousArticle(1, "en.wikipedia", "X", 2.5, [0, 0, 300], [40, 42, 41], 0.3, 9.5, 7.1, 9.5)
    snapshot = AnomalySnapshot("2026-03-02", 2, 1_772_416_800_000, 1_772_420_700_000, 6.0, 812, [article])
    assert anomalies_document(snapshot, None, None, 5)["articles"][0]["listed_hour_before"] is None
    changes = {("en.wikipedia", "X"): {"listed_hour_before": False}}
    assert (
        anomalies_document(snapshot, None, None, 5, None, changes)["articles"][0]["listed_hour_before"]
        is False
    )


def test_a_list_well_behind_the_clock_says_why() -> None:
    minute = 1_772_438_400_000
    assert lag_note(minute, minute + 5 * 60_000) == ""
    assert lag_note(minute, minute + 95 * 60_000).startswith(
        "These views are of the hour ending 95 minutes ago"
    )
