"""An article's page as pure functions: its hours, rank runs, links, chart, and which row groups of an
hourly counts file can hold it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from core.hourly_counts import (
    HOURLY_ROW_GROUP_ROWS,
    HourlyRow,
    RowGroupRange,
    hourly_counts_parquet,
    row_group_ranges,
    row_groups_holding,
)
from core.snapshots import AnomalousArticle
from core.windows import HOUR_MS, MINUTE_MS
from web.article_views import (
    AnomalyListing,
    ArticleFacts,
    article_document,
    article_page_path,
    chart_hours,
    completed_hours,
    hourly_series,
    pageviews_url,
    rank_runs,
)

DAY = 1_772_409_600_000  # 2026-03-02 00:00 UTC


def test_the_last_24_whole_hours_before_now() -> None:
    hours = completed_hours(DAY + 9 * HOUR_MS + 17 * MINUTE_MS)
    assert len(hours) == 24 and hours[0] == DAY - 15 * HOUR_MS and hours[-1] == DAY + 8 * HOUR_MS
    assert completed_hours(DAY)[-1] == DAY - HOUR_MS  # at the turn of the hour, the hour before is the last


def test_links_encode_the_title() -> None:
    assert article_page_path("en.wikipedia", "AC/DC") == "/articles/en.wikipedia/AC%2FDC"
    assert article_page_path("ja.wikipedia", "東京") == "/articles/ja.wikipedia/%E6%9D%B1%E4%BA%AC"
    assert pageviews_url("en.wikipedia", 'Don\'t_"x"&y') == (
        "https://pageviews.wmcloud.org/?project=en.wikipedia.org&pages=Don%27t_%22x%22%26y&range=latest-90"
    )


def test_rank_runs_break_where_a_minute_is_missing() -> None:
    m = DAY
    ranks = [(m, 3), (m + MINUTE_MS, 1), (m + 2 * MINUTE_MS, 2), (m + 5 * MINUTE_MS, 4)]
    assert rank_runs(ranks) == [(m, m + 2 * MINUTE_MS, 1), (m + 5 * MINUTE_MS, m + 5 * MINUTE_MS, 4)]
    assert rank_runs([]) == []


def listing(history: list[float]) -> AnomalyListing:
    article = AnomalousArticle(1, "en.wikipedia", "X", 2.0, [1.0] * len(history), history, 0.5, 9, 9, 3)
    return AnomalyListing(DAY + (len(history) - 1) * HOUR_MS, "2026-03-02", len(history) - 1, article)


def test_hours_carry_the_average_of_their_hour_of_day_from_the_newest_listing() -> None:
    hours = {DAY - 2 * HOUR_MS: 5, DAY - HOUR_MS: None, DAY: 7, DAY + HOUR_MS: 0}
    facts = ArticleFacts(
        "en.wikipedia", "X", hourly_views=hours, anomalies=[listing([1.0]), listing([4.0, 6.0])]
    )
    series = hourly_series(facts)
    assert [(h["views"], h["average"]) for h in series] == [(5, None), (None, None), (7, 4.0), (0, 6.0)]
    assert series[2]["hour_start_iso"] == "2026-03-02T00:00:00Z"


def test_an_article_is_known_by_anything_found_about_it() -> None:
    assert not ArticleFacts("en.wikipedia", "X", hourly_views={DAY: 0, DAY + HOUR_MS: None}).known()
    assert ArticleFacts("en.wikipedia", "X", hourly_views={DAY: 3}).known()
    assert ArticleFacts("en.wikipedia", "X", ranks=[(DAY, 1)]).known()
    assert ArticleFacts("en.wikipedia", "X", alerts=[{"alert_type": "LARGE_EDIT"}]).known()


def test_the_document_names_the_article_and_its_referrers_state() -> None:
    facts = ArticleFacts("en.wikipedia", "X", hourly_views={DAY: 3}, navigation_month="2026-02")
    document = article_document(facts)
    assert document["referrers"] == {"found": False, "month": "2026-02"}
    assert document["url"] == "https://en.wikipedia.org/wiki/X" and document["trending"]["now"] is None
    assert article_document(ArticleFacts("en.wikipedia", "X"))["referrers"] is None


def test_chart_bars_scale_to_the_largest_value_and_name_every_sixth_hour() -> None:
    series = hourly_series(
        ArticleFacts("en.wikipedia", "X", hourly_views={DAY + h * HOUR_MS: h for h in range(12)})
    )
    bars = chart_hours(series, 480, 120)
    assert bars[-1]["height"] == 120 and bars[-1]["y"] == 0 and bars[0]["height"] == 0
    assert [b["tick"] for b in bars if b["tick"]] == ["00", "06"]


def test_row_groups_are_found_by_their_key_ranges() -> None:
    ranges = [
        RowGroupRange(("de.wikipedia", "A"), ("de.wikipedia", "M")),
        RowGroupRange(("de.wikipedia", ""), ("en.wikipedia", "\U0010ffff")),  # spans two wikis
        None,  # no statistics: may hold anything
        RowGroupRange(("en.wikipedia", "N"), ("en.wikipedia", "Z")),
    ]
    assert row_groups_holding(ranges, "de.wikipedia", "B") == [0, 1, 2]
    assert row_groups_holding(ranges, "en.wikipedia", "Q") == [1, 2, 3]
    assert row_groups_holding(ranges, "fr.wikipedia", "Q") == [2]


def test_an_hourly_file_s_row_groups_hold_each_article_where_their_statistics_say() -> None:
    rows = [HourlyRow(p, f"T{n:06d}", n) for p in ("de.wikipedia", "en.wikipedia") for n in range(12_000)]
    rows.append(HourlyRow("ja.wikipedia", "東京", 5))
    parquet = pq.ParquetFile(pa.BufferReader(hourly_counts_parquet(rows)))
    ranges = row_group_ranges(parquet.metadata)
    assert len(ranges) == -(-len(rows) // HOURLY_ROW_GROUP_ROWS) and None not in ranges
    for row in rows[::997] + rows[-2:]:
        groups = row_groups_holding(ranges, row.project, row.title)
        found = parquet.read_row_groups(groups, columns=["project", "title", "views"]).to_pylist()
        assert {"project": row.project, "title": row.title, "views": row.views} in found
        assert len(groups) <= 2
