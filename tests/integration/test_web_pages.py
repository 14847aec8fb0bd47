"""The site's pages in headless Chromium: lists in order with charts, hostile titles inert, the live
refresh, filters and bad parameters, the list without JavaScript, the trending articles' edits and
the alerts page with hostile comments and right-to-left user names. Screenshots go to
``test-artifacts/`` (WIKITRENDS_ARTIFACTS moves it).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterator

import pytest

from tests.integration.web_site import (
    ARTIFACTS,
    HOSTILE_COMMENT,
    IMG_TITLE,
    MINUTE,
    QUOTE_TITLE,
    RTL_COMMENT,
    RTL_TITLE,
    RTL_USER,
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


def driver_texts(driver, selector: str) -> list[str]:
    """The text of every element ``selector`` finds as the reader sees it, read in one script: the page
    may replace its list between finding the elements and reading each one's text."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())", selector
    )


def shown_titles(driver) -> list[str]:
    """The listed titles."""
    return driver_texts(driver, "#live-list .article .title")


def test_trending_page_lists_the_articles_in_order_with_charts(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/?limit=10")
    assert shown_titles(browser) == [t.replace("_", " ") for t in TRENDING_TITLES]
    charts = browser.find_elements(By.CSS_SELECTOR, "#live-list .article svg.chart polyline.today")
    assert len(charts) == len(TRENDING_TITLES)
    # Each article's views beside what its wiki's rhythm predicted of it, on the same scale.
    expected = browser.find_elements(By.CSS_SELECTOR, "#live-list .article svg.chart polyline.history")
    assert len(expected) == len(TRENDING_TITLES)
    first, second = browser.find_elements(By.CSS_SELECTOR, "#live-list .article")[:2]
    assert "expected 6 → 6 → 6 → 6 → 6 → 6" in first.text and "×4.4, z 9.0" in first.text
    # What changed since the list of an hour before: Einstein was second; the others were not on it.
    assert "up from 2" in first.text and "listed for at least 1 min" in first.text
    assert second.find_element(By.CSS_SELECTOR, ".change.new").text == "new"
    for chart in charts:
        assert len(chart.get_attribute("points").split()) == 6
        box = browser.execute_script("const b = arguments[0].getBBox(); return [b.width, b.height];", chart)
        assert box[0] > 100 and box[1] > 10  # drawn across the chart, rising
    link = browser.find_elements(By.CSS_SELECTOR, "#live-list .article .title")[2]
    assert link.get_attribute("href") == site.url + "/articles/ja.wikipedia/%E6%9D%B1%E4%BA%AC"
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


def test_a_minute_with_nothing_rising_says_so(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    site.writer.write_trending(trending_snapshot(MINUTE + 180_000, []), 60)
    try:
        browser.get(site.url + "/")
        empty = browser.find_element(By.CSS_SELECTOR, "#live-list .empty").text
        assert empty == "Nothing is rising beyond its usual rhythm this minute."
        assert "812 articles were judged" in browser.find_element(By.CSS_SELECTOR, "#live-list .meta").text
    finally:
        site.writer.write_trending(trending_snapshot(MINUTE + 240_000, TRENDING_TITLES), 60)


def test_likely_automated_articles_are_left_out_and_shown_on_a_page_of_their_own(site: Site, browser) -> None:
    from dataclasses import replace

    from selenium.webdriver.common.by import By

    listed = trending_snapshot(MINUTE + 300_000, TRENDING_TITLES)
    readers = [replace(a, mobile_share=0.64) for a in listed.articles]
    scraped = replace(
        trending_snapshot(MINUTE + 300_000, ["Scraped_page"]).articles[0],
        mobile_share=0.0,
        likely_automated=True,
    )
    site.writer.write_trending(replace(listed, articles=readers, automated=[scraped]), 60)
    try:
        browser.get(site.url + "/")
        assert "Scraped page" not in shown_titles(browser)
        assert driver_texts(browser, "#live-list .article .access")[0] == "64 % mobile"
        note = browser.find_element(By.CSS_SELECTOR, "#live-list .automated-note")
        assert "1 rising article looks like automated traffic" in note.text
        note.find_element(By.TAG_NAME, "a").click()
        assert browser.current_url.endswith("/automated")
        assert shown_titles(browser) == ["Scraped page"]
        assert driver_texts(browser, "#live-list .article .access") == ["100 % desktop"]
        assert (
            "left out of the trending list" in browser.find_element(By.CSS_SELECTOR, "#live-list .meta").text
        )
        screenshot(browser, "automated")
    finally:
        site.writer.write_trending(trending_snapshot(MINUTE + 360_000, TRENDING_TITLES), 60)


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
    changes = driver_texts(browser, "#live-list .article .change")
    assert changes == ["new this hour", "listed the hour before too", "new this hour"]
    screenshot(browser, "anomalies")


def test_filters_and_bad_parameters_on_the_page(site: Site, browser) -> None:
    browser.get(site.url + "/?project=ja.wikipedia")
    assert shown_titles(browser) == ["東京"]
    browser.get(site.url + "/?limit=abc")
    assert "limit must be a whole number" in browser.page_source


def test_a_listed_title_leads_to_its_page_with_its_day_edits_and_links(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/?limit=10")
    browser.find_elements(By.CSS_SELECTOR, "#live-list .article .title")[0].click()
    deadline = time.monotonic() + 10
    while not browser.current_url.endswith("/articles/en.wikipedia/Albert_Einstein"):
        assert time.monotonic() < deadline, f"the title led to {browser.current_url}"
        time.sleep(0.2)
    heading = browser.find_element(By.CSS_SELECTOR, "h2.article-title")
    assert heading.text == "Albert Einstein en.wikipedia"
    # 24 hours, a bar each; the hours with a file drawn with their views, the others empty.
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart.hours rect.hour")
    assert len(bars) == 24
    drawn = [b for b in bars if float(b.get_attribute("height")) > 0]
    hours = browser.find_elements(By.CSS_SELECTOR, ".hours-table tr.today td")
    assert len(drawn) == sum(cell.text != "–" for cell in hours) > 0
    text = browser.find_element(By.TAG_NAME, "main").text
    assert "Rank 1 on the list of" in text and "4 edits by 3 editors in the last hour" in text
    assert len(browser.find_elements(By.CSS_SELECTOR, ".edits-section .alert")) == 3
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".links a")}
    assert links["Read it on en.wikipedia"] == "https://en.wikipedia.org/wiki/Albert_Einstein"
    assert links["JSON"] == site.url + "/api/articles/en.wikipedia/Albert_Einstein"
    assert no_alert(browser) and browser.execute_script("return window.xssRan === undefined")
    screenshot(browser, "article")


def test_an_article_page_with_a_hostile_title_keeps_it_text(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    for project, title in (("en.wikipedia", QUOTE_TITLE), ("he.wikipedia", RTL_TITLE)):
        browser.get(f"{site.url}/articles/{project}/{urllib.parse.quote(title, safe='')}")
        heading = browser.find_element(By.CSS_SELECTOR, "h2.article-title bdi")
        assert heading.text == title.replace("_", " ")
        assert browser.title.startswith(title.replace("_", " "))
        assert no_alert(browser)
    browser.get(f"{site.url}/articles/en.wikipedia/{urllib.parse.quote(SCRIPT_TITLE, safe='')}")
    assert "characters no title may hold" in browser.find_element(By.CSS_SELECTOR, ".problem").text
    assert no_alert(browser) and browser.execute_script("return window.xssRan === undefined")


def test_the_list_is_there_with_javascript_off(site: Site) -> None:
    driver = chromium(javascript=False)
    try:
        driver.get(site.url + "/?limit=3")
        assert shown_titles(driver) == ["Albert Einstein", SCRIPT_TITLE, "東京"]
        assert no_alert(driver)
        driver.get(site.url + "/articles/en.wikipedia/Albert_Einstein")
        assert len(driver.find_elements("css selector", "svg.chart.hours rect.hour")) == 24
    finally:
        driver.quit()


def test_trending_articles_show_their_edits_of_the_last_hour_and_last_alert(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/?limit=10")
    articles = browser.find_elements(By.CSS_SELECTOR, "#live-list .article")
    context = [a.find_elements(By.CSS_SELECTOR, ".edits") for a in articles]
    assert [len(c) for c in context] == [1] + [0] * (len(articles) - 1)
    assert context[0][0].text == (
        "4 edits by 3 editors in the last hour (+855 / −812 bytes, 1 reverted, 1 by bots); "
        "last alert EDIT_WAR: 3 reverts by 2 accounts within 60 minutes"
    )


def alert_rows(driver) -> list[tuple[str, str]]:
    """(type, title) of each listed alert, read in one script (the page replaces its list as it
    refreshes itself)."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#live-list .alert'), row =>"
        " [row.querySelector('.alert-type').innerText.trim(), row.querySelector('.title').innerText.trim()])"
    )
    return [tuple(row) for row in rows]


def on_a_settled_list(check: Callable[[], None], attempts: int = 3) -> None:
    """Run ``check`` (reads of the page's elements), again if the page replaced its list meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(attempts):
        try:
            check()
            return
        except StaleElementReferenceException:
            if attempt == attempts - 1:
                raise


def test_alerts_page_lists_newest_first_with_hostile_text_inert(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(site.url + "/alerts")
    assert alert_rows(browser) == [
        ("EDIT_WAR", "Albert Einstein"),
        ("BOT_EDIT", "Albert Einstein"),
        ("LARGE_EDIT", "Köln"),
        ("LARGE_EDIT", "Albert Einstein"),
    ]

    def the_large_edit_is_shown_inert() -> None:
        large = browser.find_elements(By.CSS_SELECTOR, "#live-list .alert")[3]
        # The comment's markup is text on the page, and ran nothing.
        assert large.find_element(By.CSS_SELECTOR, ".comment").text == "Comment: " + HOSTILE_COMMENT
        assert large.find_elements(By.CSS_SELECTOR, "script, img") == []
        # A right-to-left user name is isolated, so it does not reorder the text around it.
        user = large.find_element(By.CSS_SELECTOR, ".user bdi")
        assert user.text == RTL_USER and "by " + RTL_USER in large.text
        assert "+812 bytes" in large.text and "more than 500" in large.text
        link = large.find_element(By.CSS_SELECTOR, "a.title")
        assert link.get_attribute("href") == site.url + "/articles/en.wikipedia/Albert_Einstein"

    on_a_settled_list(the_large_edit_is_shown_inert)
    assert no_alert(browser) and browser.execute_script("return window.xssRan === undefined")
    screenshot(browser, "alerts")
    time.sleep(3)  # the refreshed list is as inert
    assert len(alert_rows(browser)) == 4 and no_alert(browser)
    assert browser.execute_script("return window.xssRan === undefined")


def apply_filters(driver) -> None:
    """Submit the filter form and wait for the new page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old_list = driver.find_element(By.ID, "live-list")
    driver.find_element(By.CSS_SELECTOR, ".filters button").click()
    WebDriverWait(driver, 10).until(expected_conditions.staleness_of(old_list))


def test_alerts_page_filters_by_entity_type_and_wiki(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(site.url + "/alerts")
    Select(browser.find_element(By.NAME, "type")).select_by_visible_text("LARGE_EDIT")
    apply_filters(browser)
    assert alert_rows(browser) == [("LARGE_EDIT", "Köln"), ("LARGE_EDIT", "Albert Einstein")]
    wiki = browser.find_element(By.NAME, "wiki")
    wiki.send_keys("dewiki")
    apply_filters(browser)
    assert alert_rows(browser) == [("LARGE_EDIT", "Köln")]
    assert Select(browser.find_element(By.NAME, "type")).first_selected_option.text == "LARGE_EDIT"
    # The entity choices are the watch list in use (the site's configured one here).
    entities = [o.text for o in Select(browser.find_element(By.NAME, "entity")).options]
    assert entities == ["all", *sorted(site.settings.edits.watchlist)]
    browser.get(site.url + "/alerts?entity=Albert%20Einstein")
    assert alert_rows(browser) == [("BOT_EDIT", "Albert Einstein"), ("LARGE_EDIT", "Albert Einstein")]
    browser.get(site.url + "/alerts?type=HUGE_EDIT")
    assert "unknown alert type" in browser.find_element(By.CSS_SELECTOR, ".problem").text


def test_right_to_left_names_and_comments_keep_their_direction(site: Site, browser) -> None:
    from selenium.webdriver.common.by import By

    def direction(element) -> str:
        return browser.execute_script("return getComputedStyle(arguments[0]).direction", element)

    browser.get(site.url + "/alerts")
    rows = browser.find_elements(By.CSS_SELECTOR, "#live-list .alert")
    koeln, einstein = rows[2], rows[3]
    comment = koeln.find_element(By.CSS_SELECTOR, ".comment bdi")
    assert comment.text == RTL_COMMENT and direction(comment) == "rtl"
    user = einstein.find_element(By.CSS_SELECTOR, ".user bdi")
    assert user.text == RTL_USER and direction(user) == "rtl"
    assert direction(einstein) == "ltr"  # the page around them stays left to right
