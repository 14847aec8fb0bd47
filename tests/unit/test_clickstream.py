"""Clickstream: both dump layouts, where a click came from, the navigation arithmetic, what the site shows."""

from __future__ import annotations

import zlib

import pyarrow as pa
import pytest

from core.clickstream import (
    SOURCES,
    Click,
    ListNavigation,
    MalformedClickstreamLine,
    decode_list_navigation,
    dump_name_parts,
    encode_list_navigation,
    is_header,
    navigation_of,
    parse_clickstream_line,
    project_of_wiki,
    source_of,
    summary_bucket,
    wiki_of_project,
)
from producer.clickstream_world import CLICKSTREAM_MIN_CLICKS, synthetic_clickstream
from producer.world import Catalogue
from stores.navigation import row_of
from tests.data import SHARED_DATA
from web.views import BadParameter, parse_title, referrers_block, source_bar

SAMPLE_2015 = SHARED_DATA / "clickstream-sample-2015.tsv"


def test_todays_layout_is_prev_curr_type_n() -> None:
    assert parse_clickstream_line("other-search\tAcademy_Awards\texternal\t1234\n") == Click(
        "other-search", "Academy_Awards", "external", 1234
    )


def test_the_2015_layout_has_ids_first_and_the_type_last() -> None:
    click = parse_clickstream_line("600744\t2556962\t297\t!!!\t!!!_(album)\tlink\n")
    assert click == Click("!!!", "!!!_(album)", "link", 297)
    assert parse_clickstream_line("\t3632887\t121\tother-google\t!!\tother").referrer == "other-google"


@pytest.mark.parametrize(
    "title", ['"Crocodile"_Dundee', 'Say_"Hello",_World', "List_of_death_metal_bands,_!–K", "Tết", "O'Brien"]
)
def test_titles_keep_quotes_commas_and_any_script(title: str) -> None:
    assert parse_clickstream_line(f"other-empty\t{title}\texternal\t12").article == title


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("other-search\tTab\there\texternal\t12", "got 5"),  # a tab inside a title
        ("other-search\tA\texternal", "got 3"),
        ("other-search\tA\texternal\ttwelve", "'twelve' is not a whole number"),
        ("other-search\tA\texternal\t-3", "is not a whole number"),
        ("other-search\tA\texternal\t1.5", "is not a whole number"),
        ("other-search\tA\tteleport\t12", "unknown type 'teleport'"),
        ("\tA\tlink\t12", "empty referrer"),
        ("x1\t2556962\t297\t!!!\t!!!_(album)\tlink", "page ids"),
    ],
)
def test_malformed_lines_are_refused_saying_why(line: str, reason: str) -> None:
    with pytest.raises(MalformedClickstreamLine, match=reason):
        parse_clickstream_line(line)


def test_the_real_2015_sample_reads_whole() -> None:
    lines = SAMPLE_2015.read_text(encoding="utf-8").splitlines()
    assert is_header(lines[0])
    clicks = [parse_clickstream_line(line) for line in lines[1:]]
    assert len(clicks) == 99
    assert clicks[0] == Click("other-google", "!!", "other", 121)
    # every named source of 2015 falls into one of today's kinds; article referrers are links
    assert {source_of(c.referrer) for c in clicks} == {
        "search",
        "internal",
        "empty",
        "other",
        "external",
        "link",
    }
    assert source_of("other-wikipedia") == "internal" and source_of("other-twitter") == "external"
    assert source_of("other-yahoo") == "search" and source_of("other-somewhere-new") == "other"


def test_navigation_adds_up_shares_and_ranks_ties_by_title() -> None:
    clicks = [
        Click("other-search", "X", "external", 50),
        Click("B_article", "X", "link", 20),
        Click("A_article", "X", "link", 20),
        Click("other-empty", "X", "external", 10),
        Click("A_article", "X", "other", 5),  # a second line for the same pair: summed
        Click("X", "Next", "link", 30),
        Click("X", "Other_next", "link", 10),
        Click("Unrelated", "Y", "link", 99),
    ]
    navigation = navigation_of(clicks, "en.wikipedia", "X", "2026-10", top_referrers=3, top_outgoing=1)
    assert navigation is not None
    assert navigation.incoming == 105 and navigation.outgoing == 40
    assert navigation.sources == {
        "search": 50,
        "link": 45,
        "external": 0,
        "internal": 0,
        "empty": 10,
        "other": 0,
    }
    assert sum(navigation.sources.values()) == navigation.incoming
    assert [(r.title, r.clicks) for r in navigation.top_referrers] == [
        ("other-search", 50),
        ("A_article", 25),
        ("B_article", 20),
    ]
    assert navigation.top_referrers[0].share == pytest.approx(50 / 105)
    assert [(o.title, o.share) for o in navigation.top_outgoing] == [("Next", 0.75)]
    assert sum(navigation.source_shares().values()) == pytest.approx(1.0)
    assert navigation_of(clicks, "en.wikipedia", "Absent", "2026-10", 3, 3) is None


def test_file_names_wikis_and_projects() -> None:
    assert dump_name_parts("s3a://b/clickstream-enwiki-2024-01.tsv.gz") == ("enwiki", "2024-01")
    assert dump_name_parts("/data/clickstream-zh_yuewiki-2023-12.tsv") == ("zh_yuewiki", "2023-12")
    assert dump_name_parts("clickstream-sample-2015.tsv") is None
    assert project_of_wiki("enwiki") == "en.wikipedia" and project_of_wiki("zh_yuewiki") == "zh-yue.wikipedia"
    assert wiki_of_project("de.wikipedia") == "dewiki" and wiki_of_project("de.wiktionary") is None


def test_summary_buckets_are_crc32_of_the_utf8_title() -> None:
    assert summary_bucket("東京", 64) == zlib.crc32("東京".encode()) % 64
    assert {summary_bucket(f"Article_{n}", 64) for n in range(2000)} == set(range(64))


def test_synthetic_clickstream_is_seeded_and_shaped_like_a_dump() -> None:
    catalogue = Catalogue(10_000)
    lines = list(synthetic_clickstream(catalogue, 2000, top_ranks=500, seed=3))
    assert lines == list(synthetic_clickstream(catalogue, 2000, top_ranks=500, seed=3))
    assert all(n >= CLICKSTREAM_MIN_CLICKS for *_, n in lines)
    clicks = [parse_clickstream_line("\t".join(map(str, line))) for line in lines]
    links = [c for c in clicks if c.source == "link"]
    assert links and all(catalogue.rank(c.referrer) < catalogue.rank(c.article) for c in links)
    assert {c.source for c in clicks} >= {"search", "empty", "external", "link"}


def _list_navigation() -> ListNavigation:
    clicks = [Click("other-search", "X", "external", 30), Click("Y", "X", "link", 10)]
    found = navigation_of(clicks, "en.wikipedia", "X", "2026-10", 5, 5)
    return ListNavigation(
        list_computed_at=1,
        months={"enwiki": "2026-10"},
        articles={"en.wikipedia|X": found, "en.wikipedia|Z": None},
    )


def test_a_lists_navigation_round_trips_and_says_found_absent_or_unknown() -> None:
    navigation = decode_list_navigation(encode_list_navigation(_list_navigation()))
    assert navigation == _list_navigation()
    block = referrers_block(navigation, "en.wikipedia", "X")
    assert block is not None and block["found"] and block["incoming"] == 40
    assert block["sources"]["search"] == {"clicks": 30, "share": 0.75}
    assert block["top"][0]["url"] is None  # a source is not a page
    assert block["top"][1]["url"] == "https://en.wikipedia.org/wiki/Y"
    assert referrers_block(navigation, "en.wikipedia", "Z") == {"found": False, "month": "2026-10"}
    assert referrers_block(navigation, "de.wikipedia", "X") is None  # no clickstream for that wiki
    assert referrers_block(None, "en.wikipedia", "X") is None  # not computed yet


def test_the_source_bar_fills_its_width_in_source_order() -> None:
    found = _list_navigation().of("en.wikipedia", "X")
    segments = source_bar(found, 200)
    assert [s for s, *_ in segments] == [s for s in SOURCES if found.sources[s]]
    assert sum(width for *_, width in segments) == pytest.approx(200)
    assert segments[1][2] == pytest.approx(segments[0][3])  # each starts where the last ended


@pytest.mark.parametrize("raw", ["", "  ", "A|B", "A#section", "<script>", "A\x00", "x" * 256])
def test_titles_mediawiki_refuses_are_bad_parameters(raw: str) -> None:
    with pytest.raises(BadParameter):
        parse_title(raw)


def test_titles_from_a_path_take_underscores() -> None:
    assert parse_title("Academy Awards") == "Academy_Awards" and parse_title('"A"_Device') == '"A"_Device'


def test_a_bucket_table_gives_the_row_of_its_title_only() -> None:
    bucket = pa.table({"title": ["Zebra", "Ant", "Zebra_(band)"], "incoming": [30, 10, 20]})
    assert row_of(bucket, "Zebra") == {"title": "Zebra", "incoming": 30}
    assert row_of(bucket, "zebra") is None and row_of(bucket, "Zeb") is None  # exact titles only
    assert row_of(None, "Zebra") is None  # a bucket with no file
