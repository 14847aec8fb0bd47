"""The trending rule: is an article's last hour rising beyond its wiki's rhythm and counting noise?

An article's last hour at minute m is six 10-minute counts c1..c6 (the
windows of topic m mod 10 ending at m-50, ..., m), and the rest of its wiki's
views in the same six windows are s1..s6 (its wiki's totals less its own).
If nothing happens to the article, its share of the wiki's views stays put:
each count is Poisson around share × s_k. So the hour's first half (windows 1-3) is the article's
baseline, and the rule asks of its second half (windows 4-6):

- **volume**: the newest window has at least ``min_volume`` views;
- **beyond noise**: the last half hour's views, against what the baseline
  share predicts from the wiki's traffic in those windows, are at least
  ``min_z`` noise units high (a binomial test of the two halves' split, which
  takes the noise of both halves into account);
- **large enough**: they are at least ``min_growth`` times what was expected,
  so that a huge page's small but certain rise is not news;
- **sustained**: each of windows 4, 5 and 6 on its own is at least
  ``min_window_z`` noise units above its expectation. A burst shorter than
  ten minutes touches at most two windows of a topic, so the third would
  have to stand out by chance; a riser may dip, as long as no window of its
  last half hour falls back to its usual level.

Trending articles are ranked by ``z``, how many noise units the last half
hour stands above expectation. The seed's rule ("the six counts never
decrease", ranked by (c6 - c1) / (c1 + min_volume)) stays available as
``never-decreasing`` for comparison.

Pure: no I/O. The streaming job's publisher and the tests' oracle both call
:func:`judge` and :func:`ranked`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from core.windows import WINDOWS_PER_HOUR

RuleName = Literal["rise", "never-decreasing"]
RULE_NAMES: tuple[str, ...] = ("rise", "never-decreasing")
# Windows 1-3 (oldest) are the baseline, 4-6 the half hour judged.
BASELINE_WINDOWS = WINDOWS_PER_HOUR // 2
# Added to the baseline's views when computing what is expected, so that an article with no
# views in the first half hour has a finite expectation (and growth) rather than a division by 0.
BASELINE_PRIOR_VIEWS = 0.5


@dataclass(frozen=True)
class TrendingRule:
    """Which rule and its thresholds ([streaming] trending_* in configs/)."""

    name: RuleName = "rise"
    min_volume: int = 20
    min_z: float = 5.0
    min_window_z: float = 2.0
    min_growth: float = 1.5

    def __post_init__(self) -> None:
        if self.name not in RULE_NAMES:
            raise ValueError(f"unknown trending rule {self.name!r}; use one of {', '.join(RULE_NAMES)}")
        if self.min_volume < 1 or self.min_z < 0 or self.min_window_z < 0 or self.min_growth <= 0:
            raise ValueError(
                "trending thresholds: min_volume must be at least 1, min_z and min_window_z at least 0, "
                "min_growth above 0"
            )


class Verdict(NamedTuple):
    """An article's hour judged: whether it trends and the numbers behind it."""

    trends: bool
    score: float  # what the list is ranked by: z (rise) or the seed's growth score
    expected: tuple[float, ...]  # the six counts its baseline share predicts from the wiki's traffic
    growth: float  # views of windows 4-6 / their expected views
    z: float  # noise units windows 4-6 stand above their expectation


def binomial_z(recent: float, baseline: float, recent_share: float) -> float:
    """Signed noise units by which ``recent`` exceeds its expected part of ``recent + baseline``.

    Two Poisson counts conditioned on their sum split binomially: with no
    change, ``recent`` is Binomial(n, ``recent_share``). The signed square
    root of the likelihood-ratio statistic is close to a standard normal
    even for small counts (unlike (x - np) / sd, too generous to small
    counts' upper tail). 0 when there is nothing to compare.
    """
    n = recent + baseline
    if n <= 0 or not 0.0 < recent_share < 1.0:
        return 0.0
    expected_recent = n * recent_share
    deviance = 2.0 * (_x_log_ratio(recent, expected_recent) + _x_log_ratio(baseline, n - expected_recent))
    root = math.sqrt(max(deviance, 0.0))
    return root if recent >= expected_recent else -root


def _x_log_ratio(x: float, mean: float) -> float:
    return x * math.log(x / mean) if x > 0 else 0.0


def expected_counts(counts: Sequence[int], wiki_views: Sequence[int]) -> tuple[float, ...]:
    """What each window would hold at the article's baseline share of ``wiki_views`` (per window)."""
    baseline_wiki = sum(wiki_views[:BASELINE_WINDOWS])
    if baseline_wiki <= 0:
        return tuple(0.0 for _ in wiki_views)
    share = (sum(counts[:BASELINE_WINDOWS]) + BASELINE_PRIOR_VIEWS) / baseline_wiki
    return tuple(share * views for views in wiki_views)


def seed_score(counts: Sequence[int], min_volume: int) -> float:
    """The seed rule's score (c6 - c1) / (c1 + min_volume): growth damped for small starts."""
    return (counts[-1] - counts[0]) / (counts[0] + min_volume)


def never_decreasing(counts: Sequence[int], min_volume: int) -> bool:
    """The seed rule: the counts never decrease, the last beats the first and reaches ``min_volume``."""
    rises = all(a <= b for a, b in zip(counts, counts[1:], strict=False))
    return rises and counts[-1] > counts[0] and counts[-1] >= min_volume


def judge(counts: Sequence[int], site_totals: Sequence[int], rule: TrendingRule) -> Verdict:
    """Judge one article's hour: six counts and its wiki's six totals (its own included), oldest first."""
    if len(counts) != WINDOWS_PER_HOUR or len(site_totals) != WINDOWS_PER_HOUR:
        raise ValueError(
            f"expected {WINDOWS_PER_HOUR} counts and totals, got {len(counts)} and {len(site_totals)}"
        )
    # The rest of the wiki: a big riser on a small wiki must not raise its own expectation.
    rest = [max(total - count, 0) for total, count in zip(site_totals, counts, strict=True)]
    expected = expected_counts(counts, rest)
    b = BASELINE_WINDOWS
    baseline, recent = sum(counts[:b]), sum(counts[b:])
    rest_baseline, rest_recent = sum(rest[:b]), sum(rest[b:])
    expected_recent = sum(expected[b:])
    growth = recent / expected_recent if expected_recent > 0 else 0.0
    z = _split_z(recent, baseline, rest_recent, rest_baseline)
    if rule.name == "never-decreasing":
        trends = never_decreasing(counts, rule.min_volume)
        return Verdict(trends, seed_score(counts, rule.min_volume), expected, growth, z)
    sustained = all(
        _split_z(counts[k], baseline, rest[k], rest_baseline) >= rule.min_window_z
        for k in range(b, WINDOWS_PER_HOUR)
    )
    trends = (
        counts[-1] >= rule.min_volume
        and rest_baseline > 0
        and z >= rule.min_z
        and growth >= rule.min_growth
        and sustained
    )
    return Verdict(trends, z, expected, growth, z)


def _split_z(recent: float, baseline: float, recent_wiki: float, baseline_wiki: float) -> float:
    """binomial_z with the recent period's share of the two periods' views of the (rest of the) wiki."""
    if recent_wiki <= 0 or baseline_wiki <= 0:
        return 0.0
    return binomial_z(recent, baseline, recent_wiki / (recent_wiki + baseline_wiki))


class Ranked(NamedTuple):
    project: str
    title: str
    counts: tuple[int, ...]
    verdict: Verdict


def ranked(
    hours: Iterable[tuple[str, str, Sequence[int]]],
    site_totals: dict[str, Sequence[int]],
    rule: TrendingRule,
    top: int,
) -> list[Ranked]:
    """The minute's list: every (project, title, six counts) that trends, best score first, at most ``top``.

    Ties go by project and title so the list is stable. An article whose wiki
    has no totals is not judged.
    """
    found = []
    for project, title, counts in hours:
        totals = site_totals.get(project)
        if totals is None:
            continue
        verdict = judge(counts, totals, rule)
        if verdict.trends:
            found.append(Ranked(project, title, tuple(counts), verdict))
    found.sort(key=lambda item: (-item.verdict.score, item.project, item.title))
    return found[:top]
