"""The tests' oracle: the product's rules written plainly in Python, to check the engines against.

Production evaluates each of these rules in an engine: the page-request
checks in the job's SQL (``valid_events``), the Canberra distance, the volume
rule, the ranking and the moving average as Spark column expressions
(batch/expressions.py, batch/anomalies.py). The tests compute the same
things here, from the same inputs, and compare; nothing in production
imports this module. The limits (window length, title length, plausible
timestamps) come from core/, as production's do.

The trending rule is pure Python in core/trending.py, where the job's
publisher calls it too: what the engine computes for it (each candidate's six
10-minute counts and its views in the hour before them, the same for each
wiki) is what the tests check against the raw events, with
:class:`TrendingOracle` here.

The volume rule of the anomalies: the Canberra distance is scale-free, so a
page averaging 0.2 views an hour that gets none today scores as high as a real
outage; an article is eligible only when, over the hours compared, today or
its history averages at least ``min_hourly_views`` an hour.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from core.anomalies import HOURS_PER_DAY, NOISE_FLOOR, POISSON_SPREAD
from core.articles import is_article
from core.automated import trending_lists
from core.config import Settings
from core.events import (
    FORBIDDEN_IN_TITLES,
    FORBIDDEN_IN_TITLES_REASON,
    MAX_FUTURE_MS,
    MAX_PROJECT_CHARS,
    MAX_TITLE_CHARS,
    MIN_PLAUSIBLE_TS_MS,
    PageRequest,
)
from core.trending import EARLIER_MS, Hour
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS, hour_window_ends

# --------------------------------------------------------------------------- trending


def hour_counts(per_minute: dict, key, minute: int) -> list[int]:
    """Six 10-minute sums of ``per_minute[(key, minute_ms)]`` for the hour ending at ``minute``."""
    return [
        sum(per_minute.get((key, end - k * MINUTE_MS), 0) for k in range(1, WINDOW_MS // MINUTE_MS + 1))
        for end in hour_window_ends(minute)
    ]


def access_of(access_per_minute: dict, key, minute: int) -> tuple[int, int]:
    """(desktop, mobile) views of ``key`` in the hour ending at ``minute`` (its 60 minutes)."""
    desktop = mobile = 0
    for start in range(minute - HOUR_MS, minute, MINUTE_MS):
        d, m = access_per_minute.get((key, start), (0, 0))
        desktop, mobile = desktop + d, mobile + m
    return desktop, mobile


def hour_of(per_minute: dict, key, minute: int, access_per_minute: dict | None = None) -> Hour:
    """The rule's input for ``key`` at ``minute``: the hour's six counts and the views before them."""
    hour_start = minute - HOUR_MS
    earlier = sum(
        per_minute.get((key, start), 0) for start in range(hour_start - EARLIER_MS, hour_start, MINUTE_MS)
    )
    desktop, mobile = access_of(access_per_minute or {}, key, minute)
    return Hour(tuple(hour_counts(per_minute, key, minute)), earlier, desktop, mobile)


class TrendingOracle:
    """Each minute's trending list from raw views per ((project, title), minute start), as the job makes it.

    Candidates: articles whose newest window reaches the minimum volume, each
    judged by core/trending.py against its wiki's totals over every title; those
    core/automated.py flags are listed apart. ``access``: ((project, title), minute
    start) -> (desktop, mobile) views, for events that say their access.
    """

    def __init__(
        self,
        per_minute: dict[tuple[tuple[str, str], int], int],
        settings: Settings,
        access: dict[tuple[tuple[str, str], int], tuple[int, int]] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self.settings = settings
        self.access = access or {}
        self.site: dict[tuple[str, int], int] = defaultdict(int)
        self.site_access: dict[tuple[str, int], tuple[int, int]] = {}
        self.seen_in: dict[int, set[tuple[str, str]]] = defaultdict(set)
        for (article, start), views in per_minute.items():
            self.site[(article[0], start)] += views
            self.seen_in[start].add(article)
        for (article, start), (desktop, mobile) in self.access.items():
            d, m = self.site_access.get((article[0], start), (0, 0))
            self.site_access[(article[0], start)] = (d + desktop, m + mobile)

    def trending(self, minute: int) -> list[tuple[str, list[int], float]]:
        """(title, six counts, score) of the list of ``minute``, best first."""
        return self.lists(minute)[0]

    def automated(self, minute: int) -> list[tuple[str, list[int], float]]:
        """(title, six counts, score) of the trending articles of ``minute`` likely automated, best first."""
        return self.lists(minute)[1]

    def lists(self, minute: int) -> tuple[list, list]:
        s = self.settings.streaming
        recent = set().union(*(self.seen_in.get(minute - k * MINUTE_MS, set()) for k in range(1, 11)))
        hours = []
        for project, title in recent:
            newest_window = sum(
                self.per_minute.get(((project, title), minute - k * MINUTE_MS), 0) for k in range(1, 11)
            )
            if newest_window >= s.trending_min_volume and is_article(title, self.settings.articles):
                hours.append(
                    (project, title, hour_of(self.per_minute, (project, title), minute, self.access))
                )
        site_hours = {
            project: hour_of(self.site, project, minute, self.site_access)
            for project in {p for p, _ in recent}
        }
        listed, automated = trending_lists(hours, site_hours, s.rule, s.access_rule, s.trending_top)
        return (
            [(r.title, list(r.counts), r.verdict.score) for r in listed],
            [(r.title, list(r.counts), r.verdict.score) for r in automated],
        )


# --------------------------------------------------------------------------- page requests


class MalformedEvent(ValueError):
    """A message that is not a valid page request; the message says why."""


def parse_page_request(raw: bytes, now_ms: int) -> PageRequest:
    """Decode and validate one page request as the job's SQL does; raises MalformedEvent with the reason."""
    try:
        event = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEvent(f"not UTF-8 JSON: {error}") from None
    if not isinstance(event, dict):
        raise MalformedEvent(f"not a JSON object but {type(event).__name__}")
    ts, project, title = event.get("ts"), event.get("project"), event.get("title")
    if not isinstance(ts, int) or isinstance(ts, bool):
        raise MalformedEvent(f"ts must be epoch milliseconds as an integer, got {ts!r}")
    if ts < MIN_PLAUSIBLE_TS_MS or ts > now_ms + MAX_FUTURE_MS:
        raise MalformedEvent(f"ts {ts} is outside 2001-01-01 .. now + {MAX_FUTURE_MS // MINUTE_MS} min")
    if not isinstance(project, str) or not project:
        raise MalformedEvent(f"project must be a non-empty string, got {project!r}")
    if len(project) > MAX_PROJECT_CHARS:
        raise MalformedEvent(f"project longer than {MAX_PROJECT_CHARS} characters")
    if not isinstance(title, str) or not title.strip():
        raise MalformedEvent(f"title must be a non-empty string, got {title!r}")
    if len(title) > MAX_TITLE_CHARS:
        raise MalformedEvent(f"title longer than {MAX_TITLE_CHARS} characters")
    if re.search(FORBIDDEN_IN_TITLES, title):
        raise MalformedEvent(FORBIDDEN_IN_TITLES_REASON)
    return PageRequest(ts=ts, project=project, title=title)


# --------------------------------------------------------------------------- anomalies


def _padded(values: Sequence[float], length: int) -> list[float]:
    return [float(v) for v in values] + [0.0] * (length - len(values))


def canberra_terms(today: Sequence[float], history: Sequence[float]) -> list[float]:
    """Per hour, |x - y| / (|x| + |y|); a 0/0 term is 0; an hour missing on one side is 0."""
    length = max(len(today), len(history))
    terms = []
    for x, y in zip(_padded(today, length), _padded(history, length), strict=True):
        denominator = abs(x) + abs(y)
        terms.append(abs(x - y) / denominator if denominator else 0.0)
    return terms


def canberra_distance(today: Sequence[float], history: Sequence[float]) -> float:
    """Sum over hours of |x - y| / (|x| + |y|): the contract's distance."""
    return sum(canberra_terms(today, history))


def is_eligible(today: Sequence[float], history: Sequence[float], min_hourly_views: float) -> bool:
    """The volume rule: today or the history averages ``min_hourly_views`` an hour over the hours compared."""
    hours = max(len(today), len(history), 1)
    return max(sum(today), sum(history)) >= min_hourly_views * hours


def fold_day(average: float, days: int, views: float) -> float:
    """Cumulative moving average: avg + (x - avg) / (n + 1), the mean of n + 1 days."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return average + (views - average) / (days + 1)


def rank_key(score: float, project: str, title: str) -> tuple[float, str, str]:
    """Order of the anomaly list: largest score first, then by project and title so ties are stable."""
    return (-score, project, title)


# --------------------------------------------------------------------------- noise and score


@dataclass(frozen=True)
class Noise:
    """One article's past days against its averages: per hour, the moments of the term and of the distance
    over hours 0..h, and how many days they are over."""

    term_mean: list[float]
    term_square: list[float]
    distance_mean: list[float]
    distance_square: list[float]
    scored_days: int

    @classmethod
    def silent(cls, scored_days: int) -> Noise:
        """An article with no views on any of ``scored_days`` days: every statistic 0."""
        zeros = [0.0] * HOURS_PER_DAY
        return cls(zeros, zeros, zeros, zeros, scored_days)


def _running_sums(values: Sequence[float]) -> list[float]:
    sums, total = [], 0.0
    for value in values:
        total += value
        sums.append(total)
    return sums


def _mean(rows: list[list[float]]) -> list[float]:
    return [sum(column) / len(rows) for column in zip(*rows, strict=True)]


def noise_of_days(days: Sequence[Sequence[float]]) -> Noise:
    """The backfill's noise: each day (24 hourly views) against the average of the other days."""
    count = len(days)
    if count < 2:
        return Noise.silent(0)
    totals = [sum(day[h] for day in days) for h in range(HOURS_PER_DAY)]
    terms = [
        canberra_terms(day, [(totals[h] - day[h]) / (count - 1) for h in range(HOURS_PER_DAY)])
        for day in days
    ]
    distances = [_running_sums(t) for t in terms]
    return Noise(
        _mean(terms),
        _mean([[v * v for v in t] for t in terms]),
        _mean(distances),
        _mean([[v * v for v in d] for d in distances]),
        count,
    )


def fold_noise(noise: Noise, averages: Sequence[float], views: Sequence[float]) -> Noise:
    """The daily fold's noise: the new day scored against the averages before it, folded into the means."""
    terms = canberra_terms(views, averages)
    distances = _running_sums(terms)
    days = noise.scored_days

    def folded(means: list[float], values: list[float]) -> list[float]:
        return [fold_day(m, days, v) for m, v in zip(means, values, strict=True)]

    return Noise(
        folded(noise.term_mean, terms),
        folded(noise.term_square, [t * t for t in terms]),
        folded(noise.distance_mean, distances),
        folded(noise.distance_square, [d * d for d in distances]),
        days + 1,
    )


def hour_floor(today: float, history: float) -> float:
    """The smallest sd one hour's term is scored with: NOISE_FLOOR, or the larger count's Poisson spread."""
    return max(NOISE_FLOOR, POISSON_SPREAD / max(today, history, 1.0) ** 0.5)


def z_score(observed: float, mean: float, square_mean: float, floor: float) -> float:
    """(observed - mean) / sd, sd from the moments but at least ``floor``."""
    sd = max(max(square_mean - mean * mean, 0.0) ** 0.5, floor)
    return (observed - mean) / sd


def poisson_z(today: float, history: float) -> float:
    """sign(x - y) * sqrt(2 (x ln(x / y) - (x - y))), the Poisson deviance residual; y at least 1."""
    mean = max(history, 1.0)
    x_log_ratio = today * math.log(today / mean) if today > 0 else 0.0
    residual = max(2.0 * (x_log_ratio - (today - mean)), 0.0) ** 0.5
    return -residual if today < mean else residual


def counted(score: float, z: float, min_poisson_z: float) -> float:
    """A part's score, or at most 0 when its views are within counting noise."""
    return score if abs(z) >= min_poisson_z else min(score, 0.0)


@dataclass(frozen=True)
class Score:
    expected_distance: float
    day_score: float
    hour_score: float
    day_poisson_z: float
    hour_poisson_z: float
    min_poisson_z: float

    @property
    def score(self) -> float:
        return max(
            counted(self.day_score, self.day_poisson_z, self.min_poisson_z),
            counted(self.hour_score, self.hour_poisson_z, self.min_poisson_z),
        )


def anomaly_score(
    today: Sequence[float], history: Sequence[float], noise: Noise, min_poisson_z: float
) -> Score:
    """The day so far (hours 0..H) and its latest hour H against the article's own noise and as counts."""
    last = len(today) - 1
    terms = canberra_terms(today, history)
    # The day's shape at its own level: each hour against its average scaled by the day's level up to it.
    levels = [
        sum(today[: h + 1]) / sum(history[: h + 1]) if sum(history[: h + 1]) > 0 else 1.0
        for h in range(len(today))
    ]
    floors = [hour_floor(x, y) for x, y in zip(today, history, strict=True)]
    day_floor = sum(f * f for f in floors) ** 0.5
    return Score(
        expected_distance=noise.distance_mean[last],
        day_score=z_score(sum(terms), noise.distance_mean[last], noise.distance_square[last], day_floor),
        hour_score=z_score(terms[last], noise.term_mean[last], noise.term_square[last], floors[last]),
        day_poisson_z=max(
            abs(poisson_z(x, y * level)) for x, y, level in zip(today, history, levels, strict=True)
        ),
        # The latest hour against the day's level before it (1 at hour 0).
        hour_poisson_z=poisson_z(today[last], history[last] * (levels[last - 1] if last > 0 else 1.0)),
        min_poisson_z=min_poisson_z,
    )
