"""Canberra distance, the volume rule, the cumulative moving average, the noise and the score, on
hand-computed cases and steady Poisson traffic."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.anomalies import HOUR_COLUMNS, HOURS_PER_DAY, NOISE_FLOOR, POISSON_SPREAD, hour_column, noise_column
from core.config import load_settings
from tests.oracle import (
    anomaly_score,
    canberra_distance,
    fold_day,
    fold_noise,
    hour_floor,
    is_eligible,
    noise_of_days,
    poisson_z,
    rank_key,
    z_score,
)

BATCH = load_settings({}).batch
MIN_SCORE, MIN_POISSON_Z = BATCH.anomaly_min_score, BATCH.anomaly_min_poisson_z


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
    assert noise_column("distance_square", 5) == "distance_square_h05"
    with pytest.raises(ValueError, match="unknown noise statistic"):
        noise_column("variance", 5)
    ranked = sorted([(1.0, "en", "B"), (2.0, "en", "Z"), (1.0, "en", "A")], key=lambda r: rank_key(*r))
    assert ranked == [(2.0, "en", "Z"), (1.0, "en", "A"), (1.0, "en", "B")]


# --- the noise beside the averages and the score ------------------------------------------------------


def flat_day(views: float) -> list[float]:
    return [views] * HOURS_PER_DAY


def test_backfill_noise_scores_each_day_against_the_others_by_hand() -> None:
    # Two days: each is compared with the other, so both give |60 - 40| / 100 = 0.2 in every hour.
    noise = noise_of_days([flat_day(60), flat_day(40)])
    assert noise.scored_days == 2
    assert noise.term_mean == pytest.approx(flat_day(0.2)) and noise.term_square == pytest.approx(
        flat_day(0.04)
    )
    assert noise.distance_mean[0] == pytest.approx(0.2) and noise.distance_mean[23] == pytest.approx(4.8)
    assert noise.distance_square[23] == pytest.approx(4.8**2)
    # Three days 30, 30, 0: the silent day scores 1 against 30; each 30-day against (30 + 0) / 2 = 15: 1/3.
    noise = noise_of_days([flat_day(30), flat_day(30), flat_day(0)])
    assert noise.term_mean[5] == pytest.approx((1 / 3 + 1 / 3 + 1) / 3)
    assert noise.term_square[5] == pytest.approx((1 / 9 + 1 / 9 + 1) / 3)


def test_without_a_second_day_there_is_no_noise_yet() -> None:
    noise = noise_of_days([flat_day(50)])
    assert noise.scored_days == 0 and noise.distance_mean == flat_day(0.0)


def test_the_daily_fold_scores_the_new_day_against_the_averages_before_it() -> None:
    noise = noise_of_days([flat_day(60), flat_day(40)])  # term 0.2 on both days
    folded = fold_noise(noise, averages=flat_day(50), views=flat_day(100))  # |100 - 50| / 150 = 1/3
    assert folded.scored_days == 3
    assert folded.term_mean[0] == pytest.approx((0.2 + 0.2 + 1 / 3) / 3)
    assert folded.distance_mean[1] == pytest.approx((0.4 + 0.4 + 2 / 3) / 3)
    assert folded.term_square[0] == pytest.approx((0.04 + 0.04 + 1 / 9) / 3)


def test_z_score_divides_by_the_measured_spread_but_never_less_than_the_floor() -> None:
    # mean 1, square mean 1.25: variance 0.25, sd 0.5
    assert z_score(3.0, 1.0, 1.25, floor=0.1) == pytest.approx(4.0)
    assert z_score(1.0, 0.0, 0.0, floor=0.1) == pytest.approx(10.0)  # a perfectly steady past


def test_the_floor_is_the_larger_counts_poisson_spread_or_the_fixed_floor() -> None:
    assert hour_floor(20.0, 10.0) == pytest.approx(POISSON_SPREAD / 20**0.5)  # quiet: counting noise
    assert hour_floor(0.0, 5000.0) == NOISE_FLOOR  # busy: the fixed floor
    assert hour_floor(0.0, 0.0) == POISSON_SPREAD  # nothing: as if one view


def poisson_days(rng: np.random.Generator, mean_per_hour: float, days: int) -> list[list[float]]:
    return [list(map(float, rng.poisson(mean_per_hour, HOURS_PER_DAY))) for _ in range(days)]


@pytest.mark.parametrize("mean_per_hour", [20, 200, 5000])
def test_steady_poisson_days_score_low(mean_per_hour: float) -> None:
    rng = np.random.default_rng(3)
    past = poisson_days(rng, mean_per_hour, 28)
    noise = noise_of_days(past)
    history = [sum(day[h] for day in past) / len(past) for h in range(HOURS_PER_DAY)]
    scores = [
        anomaly_score(today[: last + 1], history[: last + 1], noise, MIN_POISSON_Z).score
        for today in poisson_days(rng, mean_per_hour, 40)
        for last in range(HOURS_PER_DAY)
    ]
    assert max(scores) < MIN_SCORE
    assert abs(float(np.median(scores))) < 1.5


@pytest.mark.parametrize(("mean_per_hour", "factor"), [(100, 3), (1000, 2)])
def test_a_changed_hour_scores_high_at_once(mean_per_hour: float, factor: float) -> None:
    rng = np.random.default_rng(4)
    past = poisson_days(rng, mean_per_hour, 28)
    noise = noise_of_days(past)
    history = [sum(day[h] for day in past) / len(past) for h in range(HOURS_PER_DAY)]
    today = poisson_days(rng, mean_per_hour, 1)[0]
    today[10] *= factor
    at_ten = anomaly_score(today[:11], history[:11], noise, MIN_POISSON_Z)
    assert at_ten.hour_score >= MIN_SCORE and at_ten.score == at_ten.hour_score
    assert (
        anomaly_score(today[:10], history[:10], noise, MIN_POISSON_Z).score < MIN_SCORE
    )  # before it happened
    assert at_ten.expected_distance == pytest.approx(noise.distance_mean[10])


def test_an_article_without_history_scores_by_the_floor() -> None:
    noise = noise_of_days([flat_day(0), flat_day(0), flat_day(0)])
    assert noise.scored_days == 3 and noise.distance_square == flat_day(0.0)
    new_page = anomaly_score([20.0] * 4, [0.0] * 4, noise, MIN_POISSON_Z)  # four hours at 1 each
    floor = POISSON_SPREAD / 20**0.5
    assert new_page.expected_distance == 0.0
    assert new_page.day_score == pytest.approx(4.0 / (floor * 2))
    assert new_page.hour_score == pytest.approx(1.0 / floor) and new_page.score > MIN_SCORE


def test_poisson_z_by_hand() -> None:
    assert poisson_z(20.0, 20.0) == 0.0
    assert poisson_z(0.0, 20.0) == pytest.approx(-(40**0.5))  # 2 * (0 - (0 - 20))
    assert poisson_z(60.0, 20.0) == pytest.approx((2 * (60 * math.log(3) - 40)) ** 0.5)
    assert poisson_z(5.0, 0.0) == pytest.approx((2 * (5 * math.log(5) - 4)) ** 0.5)  # an average under 1 is 1


def test_poisson_z_tails_are_close_to_poissons_where_quiet_pages_live() -> None:
    """Against the exact Poisson tail at 20 views an hour: the lowest counts the bar lets through are as
    rare as a normal tail beyond the bar says (within a factor of a few), never far rarer."""
    mean, bar = 20.0, MIN_POISSON_Z
    pmf = [math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) for k in range(200)]
    low = max(k for k in range(200) if poisson_z(k, mean) <= -bar)
    high = min(k for k in range(200) if poisson_z(k, mean) >= bar)
    normal_tail = 0.5 * math.erfc(bar / 2**0.5)
    assert normal_tail / 5 < sum(pmf[: low + 1]) < normal_tail * 5
    assert sum(pmf[high:]) < normal_tail * 5


def test_a_quiet_hour_that_counting_noise_explains_scores_nothing_however_steady_the_past() -> None:
    # The live world's false alarm: 6 views where a page of exactly 20 an hour is usual.
    noise = noise_of_days([flat_day(20)] * 7)  # a perfectly steady past: only the floor
    quiet = anomaly_score([20.0] * 9 + [6.0], [20.0] * 10, noise, MIN_POISSON_Z)
    assert quiet.hour_score > MIN_SCORE  # the term alone: 14/26 against a floor of 0.35/sqrt(20)
    assert -MIN_POISSON_Z < quiet.hour_poisson_z < 0 and quiet.score <= 0
    # An hour at 1 view is not counting noise any more.
    assert anomaly_score([20.0] * 9 + [1.0], [20.0] * 10, noise, MIN_POISSON_Z).score > MIN_SCORE


def test_the_day_score_counts_once_some_hour_was_beyond_counting_noise() -> None:
    noise = noise_of_days([flat_day(50)] * 7)
    # Tripled at 02:00-03:00, back to normal since: the hours now score nothing, the day still does.
    spike_over = anomaly_score([50.0] * 2 + [150.0] * 2 + [50.0] * 6, [50.0] * 10, noise, MIN_POISSON_Z)
    # Each hour against its average at the day's level up to it: at 02:00, 250 views where 150 are usual.
    assert spike_over.day_poisson_z == pytest.approx(poisson_z(150.0, 50.0 * 250 / 150))
    # The latest hour is against the day's level before it (1.44 after the spike): within counting noise.
    assert spike_over.hour_poisson_z == pytest.approx(poisson_z(50.0, 50.0 * 650 / 450))
    assert abs(spike_over.hour_poisson_z) < MIN_POISSON_Z
    assert spike_over.score == spike_over.day_score > MIN_SCORE
    # A day a quarter busier in every hour: as far from the average as a Canberra distance, not as counts.
    busier = anomaly_score([62.0] * 10, [50.0] * 10, noise, MIN_POISSON_Z)
    assert busier.day_score > MIN_SCORE and busier.day_poisson_z < MIN_POISSON_Z and busier.score <= 0


@pytest.mark.parametrize("views", [150.0, 500.0, 2000.0])
def test_a_uniformly_busier_day_is_not_news_at_any_volume_but_a_burst_in_it_is(views: float) -> None:
    noise = noise_of_days([flat_day(views)] * 7)
    busier = anomaly_score([views * 1.3] * 12, [views] * 12, noise, MIN_POISSON_Z)
    assert busier.day_score > MIN_SCORE and busier.day_poisson_z < 1e-9 and busier.score < MIN_SCORE
    burst = anomaly_score(
        [views * 1.3] * 6 + [views * 3.9] + [views * 1.3] * 5, [views] * 12, noise, MIN_POISSON_Z
    )
    assert burst.day_poisson_z > MIN_POISSON_Z and burst.score > MIN_SCORE


def test_a_tripled_hour_at_fifty_views_passes_both_bars() -> None:
    noise = noise_of_days([flat_day(50)] * 7)
    tripled = anomaly_score([50.0] * 4 + [150.0], [50.0] * 5, noise, MIN_POISSON_Z)
    assert tripled.hour_poisson_z > 2 * MIN_POISSON_Z and tripled.score >= MIN_SCORE


def test_the_latest_hour_is_judged_at_the_days_own_level() -> None:
    # The quality benchmark's one steady page on a clean day (120 views an hour, a day a quarter quieter
    # than usual): 56 views at 22:00 where 119 are usual is far below average, but not below the day.
    today = [
        43,
        34,
        43,
        50,
        28,
        43,
        76,
        80,
        77,
        90,
        96,
        93,
        113,
        109,
        113,
        119,
        90,
        111,
        124,
        120,
        101,
        101,
        56,
    ]
    average = [
        74,
        62,
        60,
        54,
        58,
        70,
        78,
        96,
        113,
        123,
        135,
        134,
        139,
        143,
        144,
        146,
        148,
        149,
        151,
        156,
        151,
    ]
    average += [132, 119]
    noise = noise_of_days([[v * 1.05 for v in average + [100.0]], [v * 0.95 for v in average + [100.0]]])
    quiet = anomaly_score([float(v) for v in today], [float(v) for v in average], noise, MIN_POISSON_Z)
    assert poisson_z(56.0, 119.0) < -MIN_POISSON_Z  # against the plain average it would count
    assert abs(quiet.hour_poisson_z) < MIN_POISSON_Z and quiet.score < MIN_SCORE
    # The same day with its last hour tripled against its level still counts.
    level = sum(today[:-1]) / sum(average[:-1])
    spiked = anomaly_score([float(v) for v in today[:-1]] + [3 * 119 * level], average, noise, MIN_POISSON_Z)
    assert spiked.hour_poisson_z > MIN_POISSON_Z and spiked.score >= MIN_SCORE
