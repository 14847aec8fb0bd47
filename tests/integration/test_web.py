"""The site on a real Redis: the JSON API over HTTP, HEAD, headers, loopback, and a Redis outage.

Redis is filled with stores.snapshots.SnapshotWriter, the code the streaming and
batch jobs publish with. The site runs as users run it (``python -m web``),
with its own key prefix and a 2-second page refresh (tests/integration/web_site.py).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from email.utils import parsedate_to_datetime

import pytest
import redis as redis_lib

from core.config import load_settings
from stores.snapshots import SnapshotWriter
from tests.integration.helpers import listeners_beyond_loopback
from tests.integration.web_site import (
    HOSTILE_COMMENT,
    MINUTE,
    RTL_USER,
    SCRIPT_TITLE,
    TRENDING_TITLES,
    Site,
    anomaly_snapshot,
    free_port,
    site_env,
    start_site,
    stop,
)

# --- JSON API ------------------------------------------------------------------------------------------


def test_api_trending_lists_articles_in_rank_order_with_their_numbers(site: Site) -> None:
    status, document = site.json("/api/trending?limit=10")
    assert status == 200
    assert [a["title"] for a in document["articles"]] == TRENDING_TITLES
    assert [a["rank"] for a in document["articles"]] == list(range(1, 8))
    first = document["articles"][0]
    assert (
        first["counts"] == [6, 11, 16, 21, 26, 99]
        and first["score"] == 9.0
        and len(first["window_ends"]) == 6
    )
    assert first["url"] == "https://en.wikipedia.org/wiki/Albert_Einstein"
    assert document["minute"] == MINUTE and document["computed_at"] == MINUTE + 4_000
    assert site.json("/api/trending")[1]["count"] == 5  # default limit
    # What changed, against the list of an hour before: Einstein was second, the others not on it; no
    # list for the minute before this one, so each has been listed for at least this minute.
    changes = [
        (a["rank_an_hour_ago"], a["new"], a["listed_minutes"], a["listed_at_least"])
        for a in document["articles"]
    ]
    assert changes == [(2, False, 1, True)] + [(None, True, 1, True)] * 6


def test_api_trending_carries_each_articles_edits_of_the_last_hour_and_its_last_alert(site: Site) -> None:
    _, document = site.json("/api/trending?limit=10")
    einstein, *others = document["articles"]
    assert {k: v for k, v in einstein["edits"].items() if k != "last_alert"} == {
        "edits": 4,
        "editors": 3,
        "bytes_added": 855,
        "bytes_removed": 812,
        "bot_edits": 1,
        "reverts": 1,
        "last_edit_ms": MINUTE - 5 * 60_000,
    }
    last_alert = einstein["edits"]["last_alert"]
    assert (last_alert["alert_type"], last_alert["user"]) == ("EDIT_WAR", "Editor_B")
    assert [a["edits"] for a in others] == [None] * len(others)  # no edits, no alert: null


def test_api_alerts_newest_first_with_every_filter(site: Site) -> None:
    def alerts(query: str) -> list[tuple[str, str]]:
        status, document = site.json(f"/api/alerts?{query}")
        assert status == 200 and document["count"] == len(document["alerts"]), document
        return [(a["alert_type"], a["title"]) for a in document["alerts"]]

    everything = [
        ("EDIT_WAR", "Albert_Einstein"),
        ("BOT_EDIT", "Albert_Einstein"),
        ("LARGE_EDIT", "Köln"),
        ("LARGE_EDIT", "Albert_Einstein"),
    ]
    assert alerts("") == everything
    assert alerts("limit=2") == everything[:2]
    assert alerts("type=large_edit") == [everything[2], everything[3]]
    assert alerts("wiki=dewiki") == [everything[2]]
    assert alerts("entity=Albert%20Einstein") == [everything[1], everything[3]]
    assert alerts("entity=Albert%20Einstein&type=BOT_EDIT&wiki=enwiki") == [everything[1]]
    assert alerts("entity=Nobody%20watches%20this") == []
    _, document = site.json("/api/alerts?type=large_edit&wiki=enwiki")
    (large,) = document["alerts"]
    assert (large["user"], large["comment"], large["size_change"]) == (RTL_USER, HOSTILE_COMMENT, 812)


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("type=HUGE_EDIT", "unknown alert type"),
        ("wiki=en.wikipedia", "unknown wiki"),
        ("limit=0", "limit must be"),
        ("entity=" + "x" * 300, "the entity must be"),
    ],
)
def test_bad_alert_filters_are_400_with_a_reason_on_the_api_and_the_page(
    site: Site, query: str, reason: str
) -> None:
    status, document = site.json(f"/api/alerts?{query}")
    assert status == 400 and reason in document["reason"], document
    status, _, page = site.get(f"/alerts?{query}")
    assert status == 400 and reason in page.decode()


def test_api_filters_by_project_and_limit(site: Site) -> None:
    _, document = site.json("/api/trending?project=ja.wikipedia")
    assert [a["title"] for a in document["articles"]] == ["東京"]
    _, document = site.json("/api/trending?limit=2&project=en.wikipedia")
    assert [a["title"] for a in document["articles"]] == ["Albert_Einstein", SCRIPT_TITLE]
    _, document = site.json("/api/anomalies?limit=1")
    assert [a["title"] for a in document["articles"]] == ["Sudden_spike"]


def test_api_anomalies_carry_both_vectors_and_the_distance(site: Site) -> None:
    status, document = site.json("/api/anomalies")
    assert status == 200 and document["count"] == 3
    spike = document["articles"][0]
    assert spike["today"] == [3.0, 2.0, 310.0, 295.0] and spike["history"] == [2.5, 3.0, 2.0, 2.5]
    assert (spike["distance"], spike["expected_distance"], spike["score"]) == (2.26, 0.5, 14.5)
    assert (spike["day_poisson_z"], spike["hour_poisson_z"]) == (61.8, 47.2)
    assert (document["date"], document["hour"], document["compared"]) == ("2026-03-02", 3, 1234)
    assert (document["min_score"], document["min_poisson_z"]) == (6.0, 5.5)
    assert "standard deviations" in document["explanation"]
    # Against the hour before's list, which had only the quiet page.
    assert [a["listed_hour_before"] for a in document["articles"]] == [False, True, False]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=-1", "limit must be"),
        ("limit=abc", "limit must be"),
        ("limit=100000", "limit must be from 1 to 100"),
        ("project=nowhere.example", "unknown project"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(site: Site, query: str, reason: str) -> None:
    for endpoint in ("/api/trending", "/api/anomalies"):
        status, document = site.json(f"{endpoint}?{query}")
        assert status == 400 and reason in document["reason"], document


def test_responses_say_when_the_data_was_computed_and_how_long_to_cache_it(site: Site) -> None:
    _, headers, _ = site.get("/api/trending")
    max_age = int(headers["Cache-Control"].split("max-age=")[1])
    assert "public" in headers["Cache-Control"] and 1 <= max_age <= 60
    assert parsedate_to_datetime(headers["Last-Modified"]).timestamp() == (MINUTE + 4_000) // 1000
    assert headers.get("Etag")
    _, headers, _ = site.get("/api/anomalies")
    assert "max-age=300" in headers["Cache-Control"]
    status, health = site.json("/healthz")
    assert status == 200 and health["redis"] == "up"


@pytest.mark.parametrize(
    "path",
    [
        *("/", "/anomalies", "/alerts", "/api/trending", "/api/anomalies", "/api/alerts", "/healthz"),
        *("/static/style.css", "/nope"),
    ],
)
def test_every_response_carries_the_security_headers(site: Site, path: str) -> None:
    status, headers, _ = site.get(path)
    assert status == (404 if path == "/nope" else 200)
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_the_site_listens_on_loopback_only(site: Site) -> None:
    # `python -m web` with no --host, as make run starts it.
    assert listeners_beyond_loopback(site.settings, [site.process.pid]) == []


@pytest.mark.parametrize(
    "path", ["/", "/anomalies", "/alerts", "/api/trending", "/api/anomalies", "/api/alerts", "/healthz"]
)
def test_head_answers_like_get_without_a_body(site: Site, path: str) -> None:
    request = urllib.request.Request(site.url + path, method="HEAD")
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith(("text/html", "application/json"))
        assert response.read() == b""


def test_with_no_data_yet_the_api_and_pages_say_so(redis_client) -> None:
    url, process = start_site(site_env(f"empty{uuid.uuid4().hex[:6]}"))
    try:
        body = json.loads(urllib.request.urlopen(url + "/api/trending", timeout=5).read())
        assert body["articles"] == [] and body["message"] == "no data yet"
        assert "No trending list yet" in urllib.request.urlopen(url + "/", timeout=5).read().decode()
        assert "No anomalies yet" in urllib.request.urlopen(url + "/anomalies", timeout=5).read().decode()
        assert "No alerts yet" in urllib.request.urlopen(url + "/alerts", timeout=5).read().decode()
    finally:
        stop(process)


# --- Redis outage --------------------------------------------------------------------------------------


def start_private_redis(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis_lib.Redis(port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis_lib.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_redis_down_gives_503_and_the_site_recovers_when_it_returns() -> None:
    """A Redis of this test's own (the shared one keeps serving the other tests) is stopped and started."""
    port = free_port()
    redis_process = start_private_redis(port)
    env = site_env("outage", WIKITRENDS_REDIS_PORT=str(port))
    settings = load_settings(env)
    SnapshotWriter(redis_lib.Redis(port=port), settings.redis).write_anomalies(anomaly_snapshot())
    url, site_process = start_site(env)
    site = Site(url, settings, None, site_process, [])  # type: ignore[arg-type]
    try:
        assert site.json("/api/anomalies")[0] == 200
        redis_process.send_signal(signal.SIGTERM)
        redis_process.wait(timeout=10)

        status, document = site.json("/api/anomalies")
        assert status == 503 and f"127.0.0.1:{port}" in document["reason"]
        assert site.json("/healthz")[0] == 503
        status, _, page = site.get("/anomalies")
        assert status == 503 and "The data store is not answering" in page.decode()

        redis_process = start_private_redis(port)
        SnapshotWriter(redis_lib.Redis(port=port), settings.redis).write_anomalies(anomaly_snapshot())
        status, document = site.json("/api/anomalies")
        assert status == 200 and document["articles"][0]["title"] == "Sudden_spike"
        assert site.json("/healthz")[0] == 200
    finally:
        stop(site_process)
        redis_process.send_signal(signal.SIGTERM)
        redis_process.wait(timeout=10)
