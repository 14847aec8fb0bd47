"""Which hour an input file holds, which hours are missing, and how averages versions are named."""

from __future__ import annotations

import pytest

from batch.storage import (
    AveragesPointer,
    BatchError,
    InputFile,
    days_between,
    describe_input,
    hour_start_ms,
    require_hours,
)


def test_a_dump_file_holds_the_hour_before_its_name_and_counts_their_own_hour() -> None:
    dump = describe_input("s3a://b/dumps/pageviews-20260302-010000.gz")
    assert (dump.day, dump.hour, dump.kind) == ("2026-03-02", 0, "dumps")
    midnight = describe_input("/data/pageviews-20260302-000000.gz")
    assert (midnight.day, midnight.hour) == ("2026-03-01", 23)
    assert describe_input("/data/pageviews-20260302-000000.gz", "start").day == "2026-03-02"
    counts = describe_input("s3a://b/hourly-counts/date=2026-03-02/hour=07/counts.parquet")
    assert (counts.day, counts.hour, counts.kind) == ("2026-03-02", 7, "counts")
    assert describe_input("s3a://b/dumps/README.txt") is None


def test_missing_hours_are_named() -> None:
    files = [InputFile("2026-03-02", h, f"f{h}", "counts") for h in range(24) if h not in (5, 17)]
    with pytest.raises(
        BatchError, match=r"2 input hour\(s\) missing from here: 2026-03-02 05:00, 2026-03-02 17:00"
    ):
        require_hours(files, ["2026-03-02"], range(24), "here")
    require_hours(files, ["2026-03-02"], range(5), "here")  # hours 0..4 are all there


def test_days_between_is_inclusive_and_refuses_a_backwards_range() -> None:
    assert days_between("2026-02-27", "2026-03-01") == ["2026-02-27", "2026-02-28", "2026-03-01"]
    with pytest.raises(BatchError, match="before"):
        days_between("2026-03-02", "2026-03-01")


def test_an_averages_version_is_named_by_the_days_behind_it() -> None:
    one = AveragesPointer.for_dates(["2026-03-02", "2026-03-01"], scored_days=2)
    again = AveragesPointer.for_dates(["2026-03-01", "2026-03-02", "2026-03-01"], scored_days=2)
    other = AveragesPointer.for_dates(["2026-02-28", "2026-03-02"], scored_days=2)
    assert one == again and one.days == 2 and one.dates == ["2026-03-01", "2026-03-02"]
    assert one.version.startswith("days=2-through=2026-03-02-") and one.version != other.version


def test_hour_start_ms() -> None:
    assert hour_start_ms("2026-03-02", 8) == 1772438400000
