"""The trending rule (core/trending.py) on hand-computed cases and on simulated steady and rising pages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.config import ConfigError, load_settings
from core.trending import TrendingRule, binomial_z, expected_counts, judge, ranked

RULE = TrendingRule(name="rise", min_volume=20, min_z=5.0, min_window_z=2.0, min_growth=1.3)
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


def test_expectation_follows_the_rest_of_the_wikis_rhythm_from_the_first_half_hour() -> None:
    site = [1000, 1000, 1000, 1200, 1400, 1600]
    expected = expected_counts([9, 10, 11, 0, 0, 0], site)
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


@pytest.mark.parametrize("views_per_window", [5, 50, 500])
def test_steady_poisson_pages_never_trend_over_many_simulated_hours(views_per_window: int) -> None:
    rng = np.random.default_rng(views_per_window)
    site = [100_000, 104_000, 108_000, 112_000, 116_000, 120_000]  # a rising morning
    expected = np.array(site) / site[0] * views_per_window
    hours = rng.poisson(expected, size=(20_000, 6))
    listed = sum(judge(list(hour), site, RULE).trends for hour in hours)
    assert listed == 0


def test_ranked_orders_by_z_then_title_and_skips_wikis_without_totals() -> None:
    hours = [
        ("en.wikipedia", "B", [20, 20, 20, 60, 60, 60]),
        ("en.wikipedia", "A", [20, 20, 20, 60, 60, 60]),
        ("en.wikipedia", "Big", [100, 100, 100, 400, 400, 400]),
        ("xx.wikipedia", "Unknown_Wiki", [20, 20, 20, 60, 60, 60]),
    ]
    found = ranked(hours, {"en.wikipedia": FLAT_SITE}, RULE, top=2)
    assert [item.title for item in found] == ["Big", "A"]


def test_a_bad_rule_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="unknown trending rule 'steepest'"):
        load_settings({"WIKITRENDS_STREAMING_TRENDING_RULE": "steepest"})
    with pytest.raises(ConfigError, match="min_growth above 0"):
        load_settings({"WIKITRENDS_STREAMING_TRENDING_MIN_GROWTH": "0"})
    assert load_settings({"WIKITRENDS_STREAMING_TRENDING_RULE": "never-decreasing"}).streaming.rule.name == (
        "never-decreasing"
    )
