"""Where readers come from, on real Spark, S3 and Redis: the ingest job, the serving step, the API, the page.

One ingest run (deploy/local/spark-submit batch/clickstream.py, as users run it; its re-run in this
process's SparkSession) of the real 2015 sample and a generated month of the synthetic world with
hostile titles and malformed lines; every summary is checked against core.clickstream.navigation_of
over the same lines, computed here.
"""

from __future__ import annotations

import contextlib
import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest

from core.clickstream import (
    Click,
    MalformedClickstreamLine,
    is_header,
    navigation_of,
    parse_clickstream_line,
)
from stores.navigation import NavigationStore, clickstream_months
from stores.snapshots import SnapshotWriter
from tests.api_contract import check_answer
from tests.data import SHARED_DATA
from tests.integration.test_batch import Run, private_run
from tests.integration.test_web_pages import chromium, no_alert, screenshot
from tests.integration.web_site import IMG_TITLE, MINUTE, SCRIPT_TITLE, start_site, stop, trending_snapshot
from web.views import navigation_block

GENERATED_MONTH, SAMPLE_MONTH = "2026-10", "2015-02"
WORLD = ["--catalogue-size", "3000", "--views-per-minute", "500", "--seed", "7", "--top-ranks", "3000"]
HOSTILE_LINES = [
    f"{SCRIPT_TITLE}\tArticle_50\tlink\t90000",
    f"other-search\t{IMG_TITLE}\texternal\t400",
    f"Article_50\t{IMG_TITLE}\tlink\t120",
]
MALFORMED_LINES = ["other-search\tArticle_1\texternal\tmany", "Tab\tin\ttitle\tlink\t12", "only\ttwo"]


@dataclass
class Ingested:
    run: Run
    store: NavigationStore
    generated: list[Click]
    sample: list[Click]
    log: str
    dumps_uri: str


def read_clicks(text: str) -> list[Click]:
    clicks = []
    for line in text.splitlines():
        if is_header(line):
            continue
        with contextlib.suppress(MalformedClickstreamLine):  # the job skips them too (tested below)
            clicks.append(parse_clickstream_line(line))
    return clicks


@pytest.fixture(scope="module")
def ingested(s3_client, tmp_path_factory) -> Ingested:
    run = private_run()
    folder = tmp_path_factory.mktemp("clickstream")
    run.producer("clickstream", *WORLD, "--month", GENERATED_MONTH, "--out", str(folder))
    name = f"clickstream-enwiki-{GENERATED_MONTH}.tsv.gz"
    text = gzip.decompress((folder / name).read_bytes()).decode() + "\n".join(HOSTILE_LINES + MALFORMED_LINES)
    dumps = f"runs/{run.env['WIKITRENDS_REDIS_KEY_PREFIX']}/clickstream-dumps"
    bucket = run.settings.s3.bucket
    s3_client.put_object(Bucket=bucket, Key=f"{dumps}/{name}", Body=gzip.compress(text.encode()))
    sample_text = (SHARED_DATA / "clickstream-sample-2015.tsv").read_text(encoding="utf-8")
    s3_client.put_object(Bucket=bucket, Key=f"{dumps}/2015/sample.tsv", Body=sample_text.encode())
    log = run.job(
        "clickstream.py",
        *("--input", f"s3a://{bucket}/{dumps}/{name}"),
        *("--input", f"s3a://{bucket}/{dumps}/2015/", "--wiki", "enwiki", "--month", SAMPLE_MONTH),
    )
    return Ingested(
        run,
        NavigationStore(run.settings, s3_client),
        read_clicks(text),
        read_clicks(sample_text),
        log,
        f"s3a://{bucket}/{dumps}/{name}",
    )


def expected(clicks: list[Click], title: str, month: str, run: Run):
    top = run.settings.navigation
    return navigation_of(clicks, "en.wikipedia", title, month, top.top_referrers, top.top_outgoing)


def titles_of(clicks: list[Click]) -> set[str]:
    return {c.article for c in clicks} | {c.referrer for c in clicks if c.source == "link"}


def test_every_article_of_the_real_2015_sample_equals_a_direct_computation(ingested: Ingested) -> None:
    titles = titles_of(ingested.sample)
    assert '"Crocodile"_Dundee' in titles and len(titles) > 40
    for title in titles:
        _, got = ingested.store.find("en.wikipedia", title, month=SAMPLE_MONTH)
        assert got == expected(ingested.sample, title, SAMPLE_MONTH, ingested.run), title
    assert ingested.store.find("en.wikipedia", "Not_in_the_sample", month=SAMPLE_MONTH)[1] is None


def test_the_generated_month_equals_a_direct_computation_and_is_the_newest(ingested: Ingested) -> None:
    titles = sorted(titles_of(ingested.generated))
    checked = [*titles[:: max(1, len(titles) // 150)], SCRIPT_TITLE, IMG_TITLE, "Article_50"]
    for title in checked:
        _, got = ingested.store.find("en.wikipedia", title)  # the newest month
        assert got == expected(ingested.generated, title, GENERATED_MONTH, ingested.run), title
    _, script = ingested.store.find("en.wikipedia", SCRIPT_TITLE)
    assert script.incoming == 0 and script.top_outgoing[0].title == "Article_50"  # a referrer only
    assert ingested.store.month_version("enwiki")[0] == GENERATED_MONTH


def test_malformed_lines_are_counted_and_sampled_not_fatal(ingested: Ingested) -> None:
    assert "skipped 3 malformed line(s)" in ingested.log
    assert "count 'many' is not a whole number" in ingested.log
    assert "expected 4 or 6 tab-separated fields, got 5" in ingested.log


def test_re_running_a_month_changes_nothing(ingested: Ingested, s3_client, spark) -> None:
    settings = ingested.run.settings
    before = clickstream_months(s3_client, settings)["enwiki"][GENERATED_MONTH]
    ingested.run.in_session("clickstream.py", "--input", ingested.dumps_uri)  # in this process's session
    months = clickstream_months(s3_client, settings)
    after = months["enwiki"][GENERATED_MONTH]
    assert after != before and months["enwiki"][SAMPLE_MONTH]  # the other month is untouched
    month_prefix = f"{settings.s3.clickstream_prefix}/wiki=enwiki/month={GENERATED_MONTH}/"
    listed = s3_client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=month_prefix)["Contents"]
    assert {item["Key"][len(month_prefix) :].split("/")[0] for item in listed} == {f"version={after}"}
    fresh = NavigationStore(settings, s3_client)
    for title in ["Article_50", "Article_1000", SCRIPT_TITLE]:
        assert fresh.find("en.wikipedia", title)[1] == expected(
            ingested.generated, title, GENERATED_MONTH, ingested.run
        )


# --- the serving step, the API and the page ---------------------------------------------------------------

# trending_snapshot puts the third on ja.wikipedia: a wiki without clickstream here.
LISTED = ["Article_50", IMG_TITLE, "Article_2", "Not_in_the_clickstream"]


@pytest.fixture(scope="module")
def served(ingested: Ingested, redis_client) -> Iterator[str]:
    run = ingested.run
    writer = SnapshotWriter(redis_client, run.settings.redis)
    snapshot = trending_snapshot(MINUTE, LISTED)
    writer.write_trending(snapshot, retention_minutes=60)
    log = run.module("batch.navigation", "--once")
    assert "navigation for 2, 1 not in their wiki's month, 1 without clickstream" in log, log
    url, process = start_site({**run.env, "WIKITRENDS_WEB_SNAPSHOT_CACHE_SECONDS": "0"})
    yield url
    stop(process)


def get_json(url: str) -> tuple[int, dict]:
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            status, document = response.status, json.load(response)
    except urllib.error.HTTPError as error:
        status, document = error.code, json.load(error)
    check_answer("GET", url, status, document)  # against docs/openapi.yaml
    return status, document


def test_trending_api_carries_each_articles_referrers(ingested: Ingested, served: str) -> None:
    status, document = get_json(served + "/api/trending?limit=10")
    assert status == 200
    by_title = {a["title"]: a["referrers"] for a in document["articles"]}
    for title in ["Article_50", IMG_TITLE]:
        want = navigation_block(expected(ingested.generated, title, GENERATED_MONTH, ingested.run))
        assert by_title[title] == want, title
    assert by_title["Not_in_the_clickstream"] == {"found": False, "month": GENERATED_MONTH}
    assert by_title["Article_2"] is None  # on ja.wikipedia, whose clickstream was not ingested
    article_50 = by_title["Article_50"]
    assert article_50["top"][0]["title"] == SCRIPT_TITLE and article_50["top"][0]["clicks"] == 90000
    assert sum(s["clicks"] for s in article_50["sources"].values()) == article_50["incoming"]


def test_navigation_endpoint_answers_any_article_and_refuses_bad_ones(
    ingested: Ingested, served: str
) -> None:
    status, document = get_json(served + "/api/articles/en.wikipedia/Article_1000/navigation")
    assert status == 200
    want = navigation_block(expected(ingested.generated, "Article_1000", GENERATED_MONTH, ingested.run))
    assert {k: document[k] for k in want} == want and document["title"] == "Article_1000"
    status, document = get_json(
        served + f"/api/articles/en.wikipedia/{quote(SCRIPT_TITLE, safe='')}/navigation"
    )
    assert status == 400 and "no title may hold" in document["reason"]  # MediaWiki forbids < and >
    for path, code in [
        ("/api/articles/en.wikipedia/Article_999999/navigation", 404),
        ("/api/articles/de.wikipedia/Berlin/navigation", 404),
        ("/api/articles/not%20a%20wiki/X/navigation", 400),
        ("/api/articles/en.wikipedia/A%7CB/navigation", 400),
        ("/api/articles/en.wikipedia/%20/navigation", 400),
    ]:
        status, document = get_json(served + path)
        assert status == code and document["reason"], (path, document)


def test_the_panel_shows_where_readers_come_from_and_hostile_titles_stay_text(served: str) -> None:
    from selenium.webdriver.common.by import By

    browser = chromium()
    try:
        browser.get(served + "/?limit=10")
        panels = browser.find_elements(By.CSS_SELECTOR, "#live-list .article details.navigation")
        assert len(panels) == 3  # not for the ja.wikipedia article
        for panel in panels:
            panel.find_element(By.TAG_NAME, "summary").click()
        time.sleep(0.5)
        first = panels[0]
        referrers = first.find_elements(By.CSS_SELECTOR, ".referrers li")
        assert referrers[0].find_element(By.TAG_NAME, "a").text == SCRIPT_TITLE.replace("_", " ")
        assert len(referrers) == 5, first.get_attribute("outerHTML")
        assert len(first.find_elements(By.CSS_SELECTOR, "svg.sources rect")) >= 3
        assert "Not in the clickstream" in panels[2].text
        assert no_alert(browser) and browser.execute_script("return window.xssRan === undefined")
        screenshot(browser, "navigation-panel")
    finally:
        browser.quit()
