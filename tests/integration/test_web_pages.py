"""The site's pages in headless Chromium: lists in order with charts, hostile titles inert, the live
refresh, filters and bad parameters, and the list without JavaScript. Screenshots go to
``test-artifacts/`` (WIKITRENDS_ARTIFACTS moves it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.web_site import (
    ARTIFACTS,
    IMG_TITLE,
    MINUTE,
    SCRIPT_TITLE,
    TRENDING_TITLES,
    Site,
    trending_snapshot,
)

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
    assert "distance 2.26, usually 0.50: score 14.5" in first.text
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
