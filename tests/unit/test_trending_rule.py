"""The trending rule (core/trending.py) on hand-computed cases and on simulated steady and rising pages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.config import ConfigError, load_settings
from core.trending import EARLIER_WINDOWS, Hour, TrendingRule, binomial_z, expected_counts, judge, ranked

RULE = TrendingRule(
    name="rise",
    min_volume=20,
    min_z=5.0,
    min_window_z=2.0,
    min_growth=1.3,
    min_hour_z=2.0,
    min_hour_growth=1.15,
)
FLAT_SITE = [100_000] * 6


def test_binomial_z_by_hand() -> None:
    # 30 of 40 views in the recent half where half were expected:
    # deviance = 2 (30 ln(30/20) + 10 ln(10/20)) = 10.465..., z = sqrt of it.
    assert binomial_z(30, 10, 0.5) == pytest.approx(math.sqrt(2 * (30 * math.log(1.5) + 10 * math.log(0.5))))
    assert binomial_z(10, 30, 0.5) == pytest.approx(-binomial_z(30, 10, 0.5))
    assert binomial_z(20, 20, 0.5) == 0.0
    # Nothing in the baseline: only the recent term is left, 2 x ln(1 / 0.5) per view.
    assert binomial_z(8, 0, 0.5) == pytest.approx(math.sqrt(2 * 8 * math.log(2)))
    assert binomial_z(0, 0, 0.5) == 0.0


def test_expectation_follows_the_rest_of_the_wikis_rhythm_from_the_baseline_share() -> None:
    site = [1000, 1000, 1000, 1200, 1400, 1600]
    expected = expected_counts(30, 3000, site)
    # (30 + 0.5 prior) / 3000 of the wiki's views in each window.
    assert expected == pytest.approx([10.1667, 10.1667, 10.1667, 12.2, 14.2333, 16.2667], abs=1e-4)


def test_a_page_rising_with_its_wiki_does_not_trend_but_the_seed_rule_lists_it() -> None:
    site = [100_000, 110_000, 120_000, 140_000, 160_000, 180_000]
    counts = [1000, 1100, 1200, 1400, 1600, 1800]
    assert not judge(counts, site, RULE).trends
    assert judge(counts, site, TrendingRule(name="never-decreasing")).trends


def test_a_doubling_at_50_views_a_window_trends() -> None:
    verdict = judge([50, 50, 50, 100, 100, 100], FLAT_SITE, RULE)
    # Expected from the rest of the wiki: 150.5 / 299,850 of its 3 x 99,900 views in the last half hour.
    assert (
        verdict.trends
        and verdict.growth == pytest.approx(300 / (150.5 / 299_850 * 299_700))
        and verdict.z > 5
    )


def test_a_riser_with_one_dip_trends_but_a_one_window_burst_does_not() -> None:
    assert judge([20, 22, 21, 70, 55, 110], FLAT_SITE, RULE).trends
    burst = judge([30, 30, 30, 30, 30, 400], FLAT_SITE, RULE)
    assert burst.z > 10 and not burst.trends  # far beyond noise, but windows 4 and 5 are not


def test_the_thresholds_each_hold_back_what_they_say() -> None:
    assert not judge([2, 2, 2, 8, 12, 19], FLAT_SITE, RULE).trends  # newest window under 20
    # A huge page up 10 %: beyond noise (z ~ 16), not large enough to be news.
    big = judge([10_000, 10_000, 10_000, 11_000, 11_000, 11_000], FLAT_SITE, RULE)
    assert big.z > 10 and big.growth < 1.3 and not big.trends
    assert not judge([50, 50, 50, 50, 50, 50], FLAT_SITE, RULE).trends
    assert not judge([0, 0, 0, 50, 60, 70], [0, 0, 0, 10, 10, 10], RULE).trends  # no baseline to judge by


FLAT_EARLIER = EARLIER_WINDOWS * FLAT_SITE[0]


def test_a_slow_riser_is_found_against_the_90_minutes_before_but_not_against_the_half_hour() -> None:
    # 50 views a window for the hour before the hour, then +10 a window: x2.2 in an hour.
    ramp = [60, 70, 80, 90, 100, 110]
    hour_only = judge(ramp, FLAT_SITE, RULE)
    before_too = judge(ramp, FLAT_SITE, RULE, earlier=EARLIER_WINDOWS * 50, site_earlier=FLAT_EARLIER)
    assert hour_only.z < 5 and not hour_only.trends
    assert before_too.z > hour_only.z + 3 and before_too.trends
    # The expectation is the 90 minutes' share: the views before the hour and of windows 1-3 (+ 0.5)
    # over the rest of the wiki's in the same time, times the rest of the wiki's views in each window.
    rest_baseline = EARLIER_WINDOWS * (100_000 - 50) + 3 * 100_000 - 210
    share = (EARLIER_WINDOWS * 50 + 210 + 0.5) / rest_baseline
    assert before_too.expected[0] == pytest.approx(share * (100_000 - 60))


def test_a_page_that_rose_an_hour_ago_and_holds_is_not_rising_any_more() -> None:
    held = judge([100] * 6, FLAT_SITE, RULE, earlier=EARLIER_WINDOWS * 50, site_earlier=FLAT_EARLIER)
    # Twice its level of the hour before, far beyond noise, but flat over the hour.
    assert held.z > 5 and held.growth > 1.3 and held.hour_growth < 1.15 and not held.trends


@pytest.mark.parametrize("views_per_window", [5, 50, 500])
def test_steady_poisson_pages_never_trend_over_many_simulated_hours(views_per_window: int) -> None:
    rng = np.random.default_rng(views_per_window)
    site = [100_000, 104_000, 108_000, 112_000, 116_000, 120_000]  # a rising morning
    expected = np.array(site) / site[0] * views_per_window
    hours = rng.poisson(expected, size=(20_000, 6))
    earlier = rng.poisson(EARLIER_WINDOWS * views_per_window * 0.9, size=20_000)  # a quieter dawn before
    site_earlier = int(EARLIER_WINDOWS * site[0] * 0.9)
    assert sum(judge(list(hour), site, RULE).trends for hour in hours) == 0
    pairs = zip(hours, earlier, strict=True)
    with_history = (judge(list(h), site, RULE, int(e), site_earlier) for h, e in pairs)
    assert sum(verdict.trends for verdict in with_history) == 0


def test_ranked_orders_by_z_then_title_and_skips_wikis_without_totals() -> None:
    hours = [
        ("en.wikipedia", "B", Hour((20, 20, 20, 60, 60, 60))),
        ("en.wikipedia", "A", Hour((20, 20, 20, 60, 60, 60))),
        ("en.wikipedia", "Big", Hour((100, 100, 100, 400, 400, 400))),
        ("xx.wikipedia", "Unknown_Wiki", Hour((20, 20, 20, 60, 60, 60))),
    ]
    found = ranked(hours, {"en.wikipedia": Hour(tuple(FLAT_SITE))}, RULE, top=2)
    assert [item.title for item in found] == ["Big", "A"]


def test_a_bad_rule_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown trending rule 'steepest'"):
        load_settings({"WIKITRENDS_STREAMING_TRENDING_RULE": "steepest"})
    with pytest.raises(ConfigError, match="min_growth and min_hour_growth above 0"):
        load_settings({"WIKITRENDS_STREAMING_TRENDING_MIN_GROWTH": "0"})
    with pytest.raises(ConfigError, match="min_hour_z at least 0"):
        load_settings({"WIKITRENDS_STREAMING_TRENDING_MIN_HOUR_Z": "-1"})
    assert load_settings({"WIKITRENDS_STREAMING_TRENDING_RULE": "never-decreasing"}).streaming.rule.name == (
        "never-decreasing"
    )
