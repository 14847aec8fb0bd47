"""The web tests' shared site: Redis filled by the jobs' own writer, the site run as users run it.

Used by test_web.py (the JSON API and a Redis outage) and test_web_pages.py (the pages in Chromium).
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
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import hourly_counts_key
from core.edit_events import Edit
from core.edit_rules import BOT_EDIT, EDIT_WAR, LARGE_EDIT, EditAlert, alert_of
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import (
    AnomalousArticle,
    AnomalySnapshot,
    TrendingArticle,
    TrendingSnapshot,
)
from core.windows import HOUR_MS
from stores.edits import EditWriter
from stores.snapshots import SnapshotWriter
from tests.api_contract import check_answer

MINUTE = 1_772_438_400_000  # 2026-03-02 08:00 UTC
SCRIPT_TITLE = "<script>alert(1)</script>"
IMG_TITLE = '<img src=x onerror="window.xssRan=1">'
TRENDING_TITLES = ["Albert_Einstein", SCRIPT_TITLE, "東京", "Москва", IMG_TITLE, "Deaths_in_2026", "Zürich"]
HOUR_AGO_TITLES = ["Listed_an_hour_ago", "Albert_Einstein"]
# Edits come from strangers: a comment or a user name may carry markup or right-to-left text.
HOSTILE_COMMENT = '<script>window.xssRan=1</script><img src=x onerror="window.xssRan=1"> expanded'
RTL_USER = "משתמש_ותיק"
RTL_COMMENT = "הרחבה גדולה של הערך"
ARTIFACTS = Path(os.environ.get("WIKITRENDS_ARTIFACTS", REPO_ROOT / "test-artifacts"))


# The article pages' hourly views: files for the hours from 26 to 5 hours before the site starts (so
# the last 24 hours always show some hours without a file, even when the hour turns during the tests).
HOURS_BACK_WRITTEN = range(5, 27)
QUOTE_TITLE = 'Don\'t_"Stop"_Me_Now'
LONG_TITLE = "é" * 127 + "x"  # 255 bytes: MediaWiki's limit
RTL_TITLE = "ירושלים"
TWO_WIKI_TITLE = "Mercury"
FILLER_ARTICLES = 20_000  # per wiki: each file has several row groups, the articles in different ones


def article_hourly_views(project: str, title: str, hour_start_ms: int) -> int:
    """The oracle of the hourly files the site fixture writes: an article's views in an hour."""
    hour = hour_start_ms // HOUR_MS % 24
    views = {
        ("en.wikipedia", "Albert_Einstein"): 100 + 3 * hour,
        ("en.wikipedia", TWO_WIKI_TITLE): 10 + hour,
        ("de.wikipedia", TWO_WIKI_TITLE): 3,
        ("en.wikipedia", QUOTE_TITLE): 7,
        ("en.wikipedia", LONG_TITLE): 5,
        ("he.wikipedia", RTL_TITLE): 4,
        ("ja.wikipedia", "東京"): 50 + hour,
        ("de.wikipedia", "Köln"): 41,
    }
    return views.get((project, title), 0)


def hourly_rows(hour_start_ms: int) -> list[HourlyRow]:
    """One hour's rows: the articles of ``article_hourly_views`` and filler on two wikis."""
    named = [
        ("en.wikipedia", "Albert_Einstein"),
        ("en.wikipedia", TWO_WIKI_TITLE),
        ("de.wikipedia", TWO_WIKI_TITLE),
        ("en.wikipedia", QUOTE_TITLE),
        ("en.wikipedia", LONG_TITLE),
        ("he.wikipedia", RTL_TITLE),
        ("ja.wikipedia", "東京"),
        ("de.wikipedia", "Köln"),
    ]
    rows = [HourlyRow(p, t, article_hourly_views(p, t, hour_start_ms)) for p, t in named]
    for project in ("de.wikipedia", "en.wikipedia"):
        rows += [HourlyRow(project, f"Filler_{n:05d}", 1 + n % 9) for n in range(FILLER_ARTICLES)]
    return rows


def write_hourly_history(s3, settings: Settings, now_ms: int) -> list[int]:
    """Writes the hourly counts files of HOURS_BACK_WRITTEN as the streaming job does; their hour starts."""
    current = now_ms - now_ms % HOUR_MS
    written = [current - k * HOUR_MS for k in HOURS_BACK_WRITTEN]
    for hour_start in written:
        s3.put_object(
            Bucket=settings.s3.bucket,
            Key=hourly_counts_key(settings.s3, hour_start),
            Body=hourly_counts_parquet(hourly_rows(hour_start)),
        )
    return written


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
            expected=[5.0 + rank] * 6,
            growth=4.5 - rank / 10,
            z=10.0 - rank,
        )
        for rank, title in enumerate(titles, start=1)
    ]
    return TrendingSnapshot(
        minute=minute,
        computed_at=minute + 4_000,
        min_volume=20,
        articles=articles,
        rule="rise",
        min_z=5.0,
        min_growth=1.3,
        candidates=812,
    )


def anomaly_snapshot() -> AnomalySnapshot:
    spike = AnomalousArticle(
        1,
        "en.wikipedia",
        "Sudden_spike",
        2.26,
        [3.0, 2.0, 310.0, 295.0],
        [2.5, 3.0, 2.0, 2.5],
        0.5,
        14.5,
        14.5,
        11.0,
        61.8,
        47.2,
    )
    quiet = AnomalousArticle(
        2,
        "en.wikipedia",
        "Gone_quiet",
        3.01,
        [120.0, 0, 0, 0],
        [118.0, 121.5, 119.0, 117.0],
        0.2,
        14.1,
        14.1,
        8.0,
        -19.5,
        -15.3,
    )
    busier = AnomalousArticle(
        3,
        "de.wikipedia",
        "Köln",
        0.77,
        [40.0, 41.0, 90.0, 88.0],
        [40.0, 40.0, 40.0, 40.0],
        0.3,
        6.5,
        4.9,
        6.5,
        7.2,
        6.5,
    )
    articles = [spike, quiet, busier]
    return AnomalySnapshot(
        "2026-03-02", 3, MINUTE - 5 * 3_600_000, MINUTE - 3_600_000, 6.0, 1234, articles, 5.5
    )


def anomaly_snapshot_hour_before() -> AnomalySnapshot:
    """The list of the hour before anomaly_snapshot's: only the quiet page was on it."""
    now = anomaly_snapshot()
    return replace(
        now, hour=2, hour_start=now.hour_start - 3_600_000, articles=[replace(now.articles[1], rank=1)]
    )


def edit(minute_offset: float, user: str, size_change: int, **fields) -> Edit:
    """An edit of Albert Einstein on enwiki, ``minute_offset`` minutes after MINUTE."""
    return Edit(
        **{
            "wiki": "enwiki",
            "project": "en.wikipedia",
            "title": "Albert_Einstein",
            "namespace": 0,
            "user": user,
            "is_bot": False,
            "timestamp_ms": MINUTE + int(minute_offset * 60_000),
            "comment": "copyedit",
            "size_change": size_change,
            "revision_id": 1_000 + int(minute_offset * 10),
            "is_revert": False,
            **fields,
        }
    )


def edit_history() -> tuple[list[tuple[Edit, str | None]], list[EditAlert]]:
    """The edit side the pages show: four edits of a trending article (a large one by a right-to-left user
    name with a hostile comment, one by a bot, a revert), one of Köln with a right-to-left comment, and
    four alerts."""
    large = edit(-30, RTL_USER, 812, comment=HOSTILE_COMMENT)
    bot = edit(-20, "ExampleBot", 3, is_bot=True)
    revert = edit(-10, "Editor_B", -812, comment="Undid revision 1700 by " + RTL_USER, is_revert=True)
    quiet = edit(-5, RTL_USER, 40)
    koeln = replace(
        edit(-25, "Kölner", 1_200, comment=RTL_COMMENT), wiki="dewiki", project="de.wikipedia", title="Köln"
    )
    edits = [(large, "Albert Einstein"), (bot, "Albert Einstein"), (revert, "Albert Einstein"), (quiet, None)]
    alerts = [
        alert_of(large, LARGE_EDIT, "the page grew by 812 bytes (more than 500)", "Albert Einstein"),
        alert_of(koeln, LARGE_EDIT, "the page grew by 1200 bytes (more than 500)", "Köln"),
        alert_of(bot, BOT_EDIT, "ExampleBot is flagged as a bot", "Albert Einstein"),
        alert_of(revert, EDIT_WAR, "3 reverts by 2 accounts within 60 minutes", None),
    ]
    return [*edits, (koeln, "Köln")], alerts


@dataclass
class Site:
    url: str
    settings: Settings
    writer: SnapshotWriter
    process: subprocess.Popen
    hours_written: list[int]  # the hour starts of the hourly counts files on S3

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, path: str) -> tuple[int, dict]:
        """A GET's status and JSON body, the body checked against docs/openapi.yaml."""
        status, headers, body = self.get(path)
        assert headers["Content-Type"].startswith("application/json"), headers
        document = json.loads(body)
        check_answer("GET", path, status, document)
        return status, document


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
def site(redis_client, s3_client) -> Iterator[Site]:
    env = site_env(f"web{uuid.uuid4().hex[:6]}")
    settings = load_settings(env)
    writer = SnapshotWriter(redis_client, settings.redis)
    # The list of an hour before (what changed): Albert Einstein second, none of the others on it.
    writer.write_trending(trending_snapshot(MINUTE - 3_600_000, HOUR_AGO_TITLES), retention_minutes=60)
    writer.write_trending(trending_snapshot(MINUTE, TRENDING_TITLES), retention_minutes=60)
    writer.write_anomalies(anomaly_snapshot_hour_before())
    writer.write_anomalies(anomaly_snapshot())
    EditWriter(redis_client, settings.redis, settings.edits).write(*edit_history())
    hours_written = write_hourly_history(s3_client, settings, int(time.time() * 1000))
    url, process = start_site(env)
    yield Site(url, settings, writer, process, hours_written)
    stop(process)
