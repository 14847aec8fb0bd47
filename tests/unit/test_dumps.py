"""Wikimedia dump lines, file names, domain codes and filters, on real sample lines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.articles import is_article
from core.config import load_settings
from core.dumps import (
    MalformedLine,
    decode_title,
    domain_code_of,
    dump_file_name,
    dump_hour_start,
    format_dump_line,
    parse_dump_line,
    project_of,
)
from tests.data import SHARED_DATA


def test_parses_every_line_of_the_real_samples() -> None:
    for name in ("pagecounts-raw-sample-2016-06-0x-170000.txt", "pagecounts-raw-sample-100.txt"):
        lines = (SHARED_DATA / name).read_text().splitlines()
        parsed = [parse_dump_line(line) for line in lines]
        assert len(parsed) == len(lines)
        assert all(record.views >= 1 for record in parsed)


def test_a_line_round_trips() -> None:
    line = format_dump_line("en", "Albert_Einstein", 42, 1234)
    assert line == "en Albert_Einstein 42 1234\n"
    assert parse_dump_line(line).views == 42


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("en Albert_Einstein 42", "4 space-separated fields"),
        ("en Albert Einstein 42 0", "4 space-separated fields"),
        ("en Albert_Einstein many 0", "count_views"),
        ("en Albert_Einstein -3 0", "count_views"),
        ("en Albert_Einstein 3 x", "total_response_size"),
    ],
)
def test_malformed_lines_name_their_fault(line: str, reason: str) -> None:
    with pytest.raises(MalformedLine, match=reason):
        parse_dump_line(line)


def test_titles_are_percent_decoded() -> None:
    assert decode_title("Andr%C3%A9_Gazut") == "André_Gazut"
    assert decode_title("Albert%20Einstein") == "Albert_Einstein"
    with pytest.raises(MalformedLine, match="not percent-encoded UTF-8"):
        decode_title("Bad%FF%FE")
    with pytest.raises(MalformedLine, match="not UTF-8"):
        decode_title("raw\udcffbyte")


@pytest.mark.parametrize(
    ("code", "project"),
    [
        ("en", "en.wikipedia"),
        ("En", "en.wikipedia"),
        ("en.m", "en.wikipedia"),
        ("de.b", "de.wikibooks"),
        ("en.d", "en.wiktionary"),
        ("fr.m.voy", "fr.wikivoyage"),
        ("commons.m", "commons.wikimedia"),
        ("www.wd", "www.wikidata"),
    ],
)
def test_domain_codes(code: str, project: str) -> None:
    assert project_of(code) == project


def test_unknown_domain_codes_are_malformed() -> None:
    with pytest.raises(MalformedLine):
        project_of("en.zz")


def test_domain_code_of_a_project() -> None:
    assert domain_code_of("en.wikipedia") == "en"
    assert domain_code_of("de.wikibooks") == "de.b"


@pytest.mark.parametrize(
    ("title", "article"),
    [
        ("Albert_Einstein", True),
        ("Main_Page", False),
        ("-", False),
        ("Special:Search", False),
        ("User_talk:Someone", False),
        ("File:Cat.jpg", False),
        ("Talkative", True),
    ],
)
def test_article_filter(title: str, article: bool) -> None:
    assert is_article(title, load_settings({}).articles) is article


def test_file_names_name_the_end_of_the_hour_by_default() -> None:
    start = dump_hour_start("pageviews-20160607-170000.gz")
    assert start == datetime(2016, 6, 7, 16, tzinfo=UTC)
    assert dump_file_name(start) == "pageviews-20160607-170000.gz"
    assert dump_hour_start("s3://b/x/pageviews-20160607-170000", "start") == datetime(
        2016, 6, 7, 17, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="not named like"):
        dump_hour_start("views-2016.gz")
