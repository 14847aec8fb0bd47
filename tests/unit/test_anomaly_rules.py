"""Canberra distance, the volume rule and the cumulative moving average, on hand-computed cases."""

from __future__ import annotations

import pytest

from core.anomalies import HOUR_COLUMNS, hour_column
from tests.oracle import canberra_distance, fold_day, is_eligible, rank_key


def test_canberra_distance_by_hand() -> None:
    # |10-5|/15 + |0-0|/0 (0/0 is 0) + |3-1|/4 + |0-2|/2
    today, history = [10, 0, 3, 0], [5, 0, 1, 2]
    assert canberra_distance(today, history) == pytest.approx(5 / 15 + 0 + 2 / 4 + 1)


def test_an_hour_missing_on_one_side_counts_as_zero() -> None:
    # today has hours 0..2, history only 0..1: hour 2 compares 4 with 0 -> 1
    assert canberra_distance([1, 1, 4], [1, 3]) == pytest.approx(0 + 2 / 4 + 1)
    assert canberra_distance([1, 3], [1, 1, 4]) == canberra_distance([1, 1, 4], [1, 3])


def test_identical_and_all_zero_vectors_are_at_distance_zero() -> None:
    assert canberra_distance([7, 0, 2], [7, 0, 2]) == 0
    assert canberra_distance([0, 0], [0, 0]) == 0
    assert canberra_distance([], []) == 0


def test_distance_is_scale_free_which_is_why_the_volume_rule_exists() -> None:
    quiet_page_gone = canberra_distance([0, 0, 0], [0.2, 0.2, 0.2])
    real_outage = canberra_distance([0, 0, 0], [5000, 5000, 5000])
    assert quiet_page_gone == real_outage == 3
    assert not is_eligible([0, 0, 0], [0.2, 0.2, 0.2], min_hourly_views=20)
    assert is_eligible([0, 0, 0], [5000, 5000, 5000], min_hourly_views=20)


def test_volume_rule_passes_on_either_side_averaged_over_the_hours_compared() -> None:
    assert is_eligible([60, 0, 0], [0, 0, 0], min_hourly_views=20)  # today 60 over 3 hours = 20 an hour
    assert not is_eligible([59, 0, 0], [0, 0, 0], min_hourly_views=20)
    assert is_eligible([0, 0], [25, 15], min_hourly_views=20)
    assert not is_eligible([0, 0], [25, 14.9], min_hourly_views=20)


def test_folding_days_one_by_one_gives_the_plain_mean() -> None:
    days = [3.0, 10.0, 0.0, 7.0, 1.5]
    average = 0.0
    for n, views in enumerate(days):
        average = fold_day(average, n, views)
    assert average == pytest.approx(sum(days) / len(days))
    assert fold_day(0.0, 0, 42.0) == 42.0  # the first day is the average


def test_fold_day_refuses_a_negative_day_count() -> None:
    with pytest.raises(ValueError, match="days must be >= 0"):
        fold_day(1.0, -1, 2.0)


def test_hour_columns_and_ranking() -> None:
    assert HOUR_COLUMNS[0] == "h00" and HOUR_COLUMNS[-1] == "h23" and len(HOUR_COLUMNS) == 24
    with pytest.raises(ValueError):
        hour_column(24)
    ranked = sorted([(1.0, "en", "B"), (2.0, "en", "Z"), (1.0, "en", "A")], key=lambda r: rank_key(*r))
    assert ranked == [(2.0, "en", "Z"), (1.0, "en", "A"), (1.0, "en", "B")]
