"""An article's own page and JSON on real Redis and S3, filled by the jobs' own writers.

The hourly counts files are written as the streaming job writes them (core.hourly_counts, one object
per hour under core.contracts.hourly_counts_key), with filler articles on two wikis so that each file
has several row groups; the lists and edits by stores.snapshots and stores.edits
(tests/integration/web_site.py). Every hour's views are checked against the oracle the files were
made from.
"""

from __future__ import annotations

import urllib.parse

import pytest

from core.edit_rules import BOT_EDIT, EDIT_WAR, LARGE_EDIT
from tests.api_contract import check_alert_record
from tests.integration.web_site import (
    LONG_TITLE,
    MINUTE,
    QUOTE_TITLE,
    RTL_TITLE,
    SCRIPT_TITLE,
    TWO_WIKI_TITLE,
    Site,
    article_hourly_views,
)


def article_path(project: str, title: str, api: bool = True) -> str:
    return f"{'/api' if api else ''}/articles/{project}/{urllib.parse.quote(title, safe='')}"


def expected_hours(site: Site, project: str, title: str, document: dict) -> list:
    """What each hour of the answer should say: the file's views, or None for an hour without a file."""
    return [
        article_hourly_views(project, title, hour["hour_start"])
        if hour["hour_start"] in site.hours_written
        else None
        for hour in document["hours"]
    ]


def test_an_article_with_history_shows_its_hours_ranks_edits_and_alerts(site: Site) -> None:
    status, document = site.json(article_path("en.wikipedia", "Albert_Einstein"))
    assert status == 200
    hours = document["hours"]
    assert len(hours) == 24 and [h["hour_start"] for h in hours] == sorted(h["hour_start"] for h in hours)
    assert [h["views"] for h in hours] == expected_hours(site, "en.wikipedia", "Albert_Einstein", document)
    assert any(h["views"] is None for h in hours) and any(h["views"] for h in hours)
    # On the newest list first, and second on the list of an hour before (the two lists kept).
    trending = document["trending"]
    assert trending["minute"] == MINUTE and trending["now"]["rank"] == 1
    assert trending["now"]["counts"] == [6, 11, 16, 21, 26, 99]
    assert trending["ranks"] == [{"minute": MINUTE - 3_600_000, "rank": 2}, {"minute": MINUTE, "rank": 1}]
    assert document["edits"]["edits"] == 4 and document["edits"]["reverts"] == 1
    assert [a["alert_type"] for a in document["alerts"]] == [EDIT_WAR, BOT_EDIT, LARGE_EDIT]
    for alert in document["alerts"]:
        check_alert_record(alert)
    assert document["url"] == "https://en.wikipedia.org/wiki/Albert_Einstein"
    assert document["pageviews_url"].startswith("https://pageviews.wmcloud.org/?project=en.wikipedia.org&")


def test_an_article_listed_but_without_views_in_the_files_has_a_page_of_zeros(site: Site) -> None:
    status, document = site.json(article_path("en.wikipedia", "Deaths_in_2026"))
    assert status == 200 and document["trending"]["now"]["rank"] == 6
    assert [h["views"] for h in document["hours"]] == expected_hours(
        site, "en.wikipedia", "Deaths_in_2026", document
    )
    assert not any(h["views"] for h in document["hours"])
    assert document["edits"] is None and document["alerts"] == [] and document["anomalies"] == []


def test_the_same_title_on_two_wikis_gives_two_pages(site: Site) -> None:
    for project in ("en.wikipedia", "de.wikipedia"):
        status, document = site.json(article_path(project, TWO_WIKI_TITLE))
        assert status == 200 and document["project"] == project
        assert [h["views"] for h in document["hours"]] == expected_hours(
            site, project, TWO_WIKI_TITLE, document
        )
    en = site.json(article_path("en.wikipedia", TWO_WIKI_TITLE))[1]
    de = site.json(article_path("de.wikipedia", TWO_WIKI_TITLE))[1]
    assert [h["views"] for h in en["hours"]] != [h["views"] for h in de["hours"]]


def test_an_anomalous_article_shows_its_listings_and_its_hour_of_day_average(site: Site) -> None:
    status, document = site.json(article_path("de.wikipedia", "Köln"))
    assert status == 200
    assert [(a["hour"], a["rank"]) for a in document["anomalies"]] == [(3, 3)]
    by_hour_of_day = {int(h["hour_start_iso"][11:13]): h["average"] for h in document["hours"]}
    assert [by_hour_of_day[h] for h in range(4)] == [40.0, 40.0, 40.0, 40.0]  # the listing's history
    assert {by_hour_of_day[h] for h in range(4, 24)} == {None}


@pytest.mark.parametrize(
    ("project", "title"),
    [
        ("en.wikipedia", QUOTE_TITLE),
        ("en.wikipedia", LONG_TITLE),
        ("he.wikipedia", RTL_TITLE),
        ("ja.wikipedia", "東京"),
    ],
)
def test_hostile_titles_have_their_pages(site: Site, project: str, title: str) -> None:
    status, document = site.json(article_path(project, title))
    assert status == 200 and document["title"] == title
    assert [h["views"] for h in document["hours"]] == expected_hours(site, project, title, document)
    status, _, body = site.get(article_path(project, title, api=False))
    assert status == 200 and body.count(b'<rect class="hour') == 24


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        (article_path("en.wikipedia", "Nobody_reads_this"), 404, "nothing is known about Nobody_reads_this"),
        (article_path("not-a-wiki", "Albert_Einstein"), 400, "unknown project"),
        (article_path("en.wikipedia", LONG_TITLE + "y"), 400, "longer than 255 bytes"),
        (article_path("en.wikipedia", SCRIPT_TITLE), 400, "characters no title may hold"),
        (article_path("en.wikipedia", "_"), 400, "the title is empty"),
    ],
)
def test_malformed_and_unknown_articles_are_answered_with_a_reason(
    site: Site, path: str, status: int, reason: str
) -> None:
    answer, document = site.json(path)
    assert answer == status and reason in document["reason"]
    page_status, headers, body = site.get(path.removeprefix("/api"))
    assert page_status == status and headers["Content-Type"].startswith("text/html")
    assert b"<script>alert" not in body


def test_every_listed_title_links_to_its_page(site: Site) -> None:
    for page in ("/", "/anomalies", "/alerts"):
        status, _, body = site.get(page + ("?limit=20" if page != "/alerts" else ""))
        assert status == 200
        text = body.decode()
        expected = {
            "/": [("en.wikipedia", "Albert_Einstein"), ("ja.wikipedia", "東京")],
            "/anomalies": [("en.wikipedia", "Sudden_spike"), ("de.wikipedia", "Köln")],
            "/alerts": [("en.wikipedia", "Albert_Einstein"), ("de.wikipedia", "Köln")],
        }[page]
        for project, title in expected:
            assert f'href="{article_path(project, title, api=False)}"' in text, (page, title)
