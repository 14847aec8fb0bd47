"""The site on a real Redis: JSON API over HTTP, pages in headless Chromium, and a Redis outage.

Redis is filled with core.snapshots.SnapshotWriter, the code the streaming and
batch jobs publish with. The site runs as users run it (``python -m web``),
with its own key prefix and a 2-second page refresh. Screenshots go to
``test-artifacts/`` (WIKITRENDS_ARTIFACTS moves it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import redis as redis_lib

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.snapshots import (
    AnomalousArticle,
    AnomalySnapshot,
    SnapshotWriter,
    TrendingArticle,
    TrendingSnapshot,
)
from tests.integration.helpers import listeners_beyond_loopback

MINUTE = 1_772_438_400_000  # 2026-03-02 08:00 UTC
SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE = '<img src=x onerror="window.xssRan=1">'
TRENDING_TITLES = ["Albert_Einstein", SCRIPT_TITLE, "東京", "Москва", IMG_TITLE, "Deaths_in_2026", "Zürich"]
ARTIFACTS = Path(os.environ.get("WIKITRENDS_ARTIFACTS", REPO_ROOT / "test-artifacts"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def trending_snapshot(minute: int, titles: list[str]) -> TrendingSnapshot:
    ends = [minute - 10 * 60_000 * k for k in range(5, -1, -1)]
    articles = [
        TrendingArticle(
            rank,
            "en.wikipedia" if rank != 3 else "ja.wikipedia",
            title,
            [5 * k + rank for k in range(1, 6)] + [100 - rank],
            ends,
            10.0 - rank,
        )
        for rank, title in enumerate(titles, start=1)
    ]
    return TrendingSnapshot(minute=minute, computed_at=minute + 4_000, min_volume=20, articles=articles)


def anomaly_snapshot() -> AnomalySnapshot:
    spike = AnomalousArticle(
        1, "en.wikipedia", "Sudden_spike", 5.25, [3.0, 2.0, 310.0, 295.0], [2.5, 3.0, 2.0, 2.5]
    )
    quiet = AnomalousArticle(
        2, "en.wikipedia", "Gone_quiet", 3.75, [120.0, 0, 0, 0], [118.0, 121.5, 119.0, 117.0]
    )
    busier = AnomalousArticle(
        3, "de.wikipedia", "Köln", 1.5, [40.0, 41.0, 90.0, 88.0], [40.0, 40.0, 40.0, 40.0]
    )
    articles = [spike, quiet, busier]
    return AnomalySnapshot("2026-03-02", 3, MINUTE - 5 * 3_600_000, MINUTE - 3_600_000, articles)


@dataclass
class Site:
    url: str
    settings: Settings
    writer: SnapshotWriter
    process: subprocess.Popen

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str) -> tuple[int, dict]:
        status, headers, body = self.get(path)
        assert headers["Content-Type"].startswith("application/json"), headers
        return status, json.loads(body)


def start_site(env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "web", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/api/trending", timeout=2).close()
            return url, process
        except urllib.error.HTTPError:
            return url, process
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"python -m web exited: {process.stdout.read()}")
            time.sleep(0.2)
    process.kill()
    pytest.fail("python -m web did not answer within 30 s")


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def site_env(tag: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **private_names(tag),
        "WIKITRENDS_WEB_REFRESH_SECONDS": "2",
        "WIKITRENDS_WEB_SNAPSHOT_CACHE_SECONDS": "0",
        **extra,
    }


@pytest.fixture(scope="module")
def site(redis_client) -> Iterator[Site]:
    env = site_env(f"web{uuid.uuid4().hex[:6]}")
    settings = load_settings(env)
    writer = SnapshotWriter(redis_client, settings.redis)
    writer.write_trending(trending_snapshot(MINUTE, TRENDING_TITLES), retention_minutes=60)
    writer.write_anomalies(anomaly_snapshot())
    url, process = start_site(env)
    yield Site(url, settings, writer, process)
    stop(process)


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
    assert spike["distance"] == 5.25
    assert (document["date"], document["hour"]) == ("2026-03-02", 3)


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
    "path", ["/", "/anomalies", "/api/trending", "/api/anomalies", "/healthz", "/static/style.css", "/nope"]
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


@pytest.mark.parametrize("path", ["/", "/anomalies", "/api/trending", "/api/anomalies", "/healthz"])
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
    site = Site(url, settings, None, site_process)  # type: ignore[arg-type]
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


# --- pages in a real browser ---------------------------------------------------------------------------


def chromium(javascript: bool = True):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1600"):
        options.add_argument(argument)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture(scope="module")
def browser() -> Iterator:
    driver = chromium()
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def no_alert(driver) -> bool:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        driver.switch_to.alert  # noqa: B018 - the property raises when there is no alert
    except NoAlertPresentException:
        return True
    return False


def shown_titles(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [element.text for element in driver.find_elements(By.CSS_SELECTOR, "#live-list .article .title")]


def test_trending_page_lists_the_articles_in_order_with_charts(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/?limit=10")
    assert shown_titles(browser) == [t.replace("_", " ") for t in TRENDING_TITLES]
    charts = browser.find_elements(By.CSS_SELECTOR, "#live-list .article svg.chart polyline")
    assert len(charts) == len(TRENDING_TITLES)
    for chart in charts:
        assert len(chart.get_attribute("points").split()) == 6
        box = browser.execute_script("const b = arguments[0].getBBox(); return [b.width, b.height];", chart)
        assert box[0] > 100 and box[1] > 10  # drawn across the chart, rising
    link = browser.find_elements(By.CSS_SELECTOR, "#live-list .article .title")[2]
    assert link.get_attribute("href") == "https://ja.wikipedia.org/wiki/%E6%9D%B1%E4%BA%AC"
    screenshot(browser, "trending")


def test_titles_from_outside_are_text_and_run_nothing(site: Site, browser) -> None:
    browser.get(site.url + "/?limit=10")
    assert SCRIPT_TITLE in shown_titles(browser) and IMG_TITLE in shown_titles(browser)
    assert no_alert(browser)
    assert browser.execute_script("return window.xssRan === undefined")
    time.sleep(3)  # a refresh replaces the list: still text, still inert
    assert SCRIPT_TITLE in shown_titles(browser) and no_alert(browser)
    assert browser.execute_script("return window.xssRan === undefined")


def test_the_page_refreshes_itself_without_a_reload(site: Site, browser) -> None:
    browser.get(site.url + "/?limit=10")
    browser.execute_script("window.__same_page = 42")
    site.writer.write_trending(trending_snapshot(MINUTE + 60_000, ["Breaking_news", *TRENDING_TITLES]), 60)
    deadline = time.monotonic() + 20
    while "Breaking news" not in shown_titles(browser):
        assert time.monotonic() < deadline, "the list did not refresh within 20 s"
        time.sleep(0.5)
    assert browser.execute_script("return window.__same_page") == 42
    assert shown_titles(browser)[0] == "Breaking news"
    site.writer.write_trending(trending_snapshot(MINUTE + 120_000, TRENDING_TITLES), 60)


def test_anomalies_page_shows_both_vectors_and_the_distance(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/anomalies")
    assert shown_titles(browser) == ["Sudden spike", "Gone quiet", "Köln"]
    first = browser.find_elements(By.CSS_SELECTOR, "#live-list .article")[0]
    today = [td.text for td in first.find_elements(By.CSS_SELECTOR, "tr.today td")]
    average = [td.text for td in first.find_elements(By.CSS_SELECTOR, "tr.history td")]
    assert today == ["3", "2", "310", "295"] and average == ["2.5", "3.0", "2.0", "2.5"]
    assert "distance 5.250" in first.text
    assert len(first.find_elements(By.CSS_SELECTOR, "svg.chart polyline")) == 2
    screenshot(browser, "anomalies")


def test_filters_and_bad_parameters_on_the_page(site: Site, browser) -> None:
    browser.get(site.url + "/?project=ja.wikipedia")
    assert shown_titles(browser) == ["東京"]
    browser.get(site.url + "/?limit=abc")
    assert "limit must be a whole number" in browser.page_source


def test_the_list_is_there_with_javascript_off(site: Site) -> None:
    driver = chromium(javascript=False)
    try:
        driver.get(site.url + "/?limit=3")
        assert shown_titles(driver) == ["Albert Einstein", SCRIPT_TITLE, "東京"]
        assert no_alert(driver)
    finally:
        driver.quit()
