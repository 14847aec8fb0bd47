"""The dumps site's layout, listings, checksum files and the Wikipedia source's ledger rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.dumps import access_of, parse_projects, project_of
from core.dumps_site import (
    HourSent,
    first_hour_to_send,
    hour_file_path,
    hours_between,
    iso_hour,
    listed_file_names,
    listed_hours,
    newest_per_hour,
    parse_checksums,
    retry_delay,
    stream_id,
)

H = datetime(2026, 12, 7, 5, tzinfo=UTC)
# The shape of dumps.wikimedia.org's folder index (nginx autoindex).
INDEX = """<html>
<head><title>Index of /other/pageviews/2026/2026-12/</title></head>
<body>
<h1>Index of /other/pageviews/2026/2026-12/</h1><hr><pre><a href="../">../</a>
<a href="md5sums.txt">md5sums.txt</a>                                        07-Dec-2026 06:51    6112
<a href="pageviews-20261201-000000.gz">pageviews-20261201-000000.gz</a>      01-Dec-2026 00:46  52113720
<a href="pageviews-20261207-060000.gz">pageviews-20261207-060000.gz</a>      07-Dec-2026 06:45  61240877
<a href="projectviews-20261207-060000">projectviews-20261207-060000</a>      07-Dec-2026 06:45     89411
<a href="sha1sums.txt">sha1sums.txt</a>                                      07-Dec-2026 06:51    7314
</pre><hr></body>
</html>
"""


def test_an_hours_file_is_named_after_its_end_and_foldered_by_it() -> None:
    assert hour_file_path(H) == "2026/2026-12/pageviews-20261207-060000.gz"
    # 23:00-24:00 on November's last day: named 1 December 00:00, in December's folder.
    assert (
        hour_file_path(datetime(2026, 11, 30, 23, tzinfo=UTC)) == "2026/2026-12/pageviews-20261201-000000.gz"
    )
    assert (
        hour_file_path(datetime(2026, 12, 31, 23, tzinfo=UTC)) == "2027/2027-01/pageviews-20270101-000000.gz"
    )


def test_a_folder_index_lists_the_hours_it_holds() -> None:
    names = listed_file_names(INDEX)
    assert "../" not in names and "md5sums.txt" in names and "projectviews-20261207-060000" in names
    assert listed_hours(names) == [datetime(2026, 11, 30, 23, tzinfo=UTC), H]


def test_checksum_files_in_md5sums_text_and_binary_forms() -> None:
    text = (
        "0123456789abcdef0123456789ABCDEF  pageviews-20261207-060000.gz\n"
        "fedcba9876543210fedcba9876543210 *projectviews-20261207-060000\n"
        "not a checksum line\n\n"
    )
    assert parse_checksums(text) == {
        "pageviews-20261207-060000.gz": "0123456789abcdef0123456789abcdef",
        "projectviews-20261207-060000": "fedcba9876543210fedcba9876543210",
    }


def test_retries_back_off_to_a_ceiling() -> None:
    assert [retry_delay(n, 2, 60) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_wikis_on_the_command_line() -> None:
    assert parse_projects("en, de ,fr.wiktionary,") == {"en.wikipedia", "de.wikipedia", "fr.wiktionary"}
    with pytest.raises(ValueError, match="no domain code"):
        parse_projects("en.wikifoo")


@pytest.mark.parametrize(
    ("code", "project"),
    [("en.zero", "en.wikipedia"), ("de.m.voy", "de.wikivoyage"), ("www.f", "www.wikimediafoundation"),
     ("meta.m", "meta.wikimedia"), ("en.m.d", "en.wiktionary")],
)  # fmt: skip
def test_every_documented_suffix_and_access_variant(code: str, project: str) -> None:
    assert project_of(code) == project


@pytest.mark.parametrize(
    ("code", "access"),
    [("en", "desktop"), ("en.m", "mobile-web"), ("en.zero", "mobile-web"), ("de.m.voy", "mobile-web"),
     ("en.d", "desktop"), ("commons.m", "desktop"), ("commons.m.m", "mobile-web")],
)  # fmt: skip
def test_the_domain_code_tells_the_site_a_reader_used(code: str, access: str) -> None:
    assert access_of(code) == access


def record(hour: datetime, sent: int, events: int = 100, stream: str = "s") -> HourSent:
    return HourSent(stream, iso_hour(hour), "f.gz", "d", events, sent)


def test_a_first_run_starts_at_since_then_the_ledger_decides() -> None:
    since, newest = H - timedelta(hours=3), H
    assert first_hour_to_send({}, since, newest) == since
    assert first_hour_to_send({}, None, newest) == newest
    done = {H - timedelta(hours=2): record(H - timedelta(hours=2), 100)}
    assert first_hour_to_send(done, since, newest) == H - timedelta(hours=1)  # not since again
    part = {**done, H - timedelta(hours=1): record(H - timedelta(hours=1), 40)}
    assert first_hour_to_send(part, since, newest) == H - timedelta(hours=1)  # resumes the unfinished hour


def test_the_ledger_keeps_each_hours_newest_record_of_its_own_stream() -> None:
    records = [record(H, 10), record(H, 60), record(H, 5, stream="other"), record(H + timedelta(hours=1), 0)]
    ledger = newest_per_hour(records, "s")
    assert ledger[H].sent == 60 and not ledger[H].done
    assert HourSent.decode(ledger[H].encode()) == ledger[H]
    assert (
        stream_id(frozenset({"de.wikipedia", "en.wikipedia"}), True, 1)
        == "de.wikipedia+en.wikipedia.articles.seed-1"
    )


def test_hours_between_is_inclusive() -> None:
    assert len(hours_between(H, H + timedelta(hours=23))) == 24
