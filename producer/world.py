"""Synthetic Wikipedia traffic: a Zipf-popular catalogue, a daily curve and injected scenarios.

Everything here is pure and seeded: the events of a simulated minute depend
only on the seed, the options and the minute itself, so any process can make
any minute and the same run can be repeated byte for byte.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

import numpy as np

from core.windows import HOUR_MS, MINUTE_MS

# Traffic by hour of day (UTC), relative to the day's mean: quiet at night in
# Europe and the Americas, highest in the European evening. Mean is exactly 1.
_DAILY_SHAPE = [
    0.62,
    0.55,
    0.50,
    0.48,
    0.50,
    0.58,
    0.70,
    0.84,
    0.96,
    1.04,
    1.10,
    1.14,
    1.18,
    1.20,
    1.22,
    1.24,
    1.26,
    1.28,
    1.30,
    1.32,
    1.28,
    1.16,
    0.98,
    0.80,
]
DAILY_CURVE: tuple[float, ...] = tuple(v * 24 / sum(_DAILY_SHAPE) for v in _DAILY_SHAPE)

# The most popular ranks carry real, always-popular titles: they are what a
# trending rule must not be fooled by. Everything else is Article_<rank>.
TOP_TITLES = (
    "Main_Page",
    "Special:Search",
    "Wikipedia",
    "United_States",
    "Donald_Trump",
    "YouTube",
    "Cristiano_Ronaldo",
    "Deaths_in_2026",
    "Albert_Einstein",
    "München",
    "東京",
    "Москва",
)

# Catalogue articles deeper down that carry real titles: variants of the configured watch list's
# entities (configs/local.toml [edits.watchlist]), so that a trend injected on one raises a TRAFFIC_SPIKE
# alert (make run's world). A rank of a quiet page: a trend on it stands out by growth alone.
NAMED_TITLES = {45_000: "Machine_intelligence"}

ScenarioKind = Literal["trend", "spike", "drop", "bot"]
# Default ranks per scenario: a trend on a quiet page (it must stand out by
# growth alone), a spike on a page with a real history, a drop on a popular page,
# automated traffic on a page a few people read.
DEFAULT_SCENARIO_RANK: dict[str, int] = {"trend": 40_000, "spike": 2_000, "drop": 30, "bot": 20_000}

# The site each reader uses (the page request's optional ``access``, core/events.py): about a third of
# English Wikipedia's human views are on the desktop site. Automated traffic ("bot" scenarios) is all
# desktop: the pattern core/automated.py flags.
ACCESS_NAMES = ("desktop", "mobile-web", "mobile-app")
ACCESS_SHARES = (0.35, 0.55, 0.10)
DESKTOP_CODE = 0


@dataclass(frozen=True)
class Catalogue:
    """Articles ranked by popularity: P(rank r) is proportional to 1 / (r + 1) ** exponent."""

    size: int
    zipf_exponent: float = 1.0
    project: str = "en.wikipedia"

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError("the catalogue needs at least one article")
        if self.zipf_exponent <= 0:
            raise ValueError("the Zipf exponent must be positive")

    def title(self, rank: int) -> str:
        if rank < len(TOP_TITLES):
            return TOP_TITLES[rank]
        return NAMED_TITLES.get(rank) or f"Article_{rank}"

    def rank(self, title: str) -> int:
        """The rank of a catalogue title; ValueError for a title not in the catalogue."""
        named = {name: rank for rank, name in NAMED_TITLES.items()}
        if title in TOP_TITLES:
            rank = TOP_TITLES.index(title)
        elif title in named:
            rank = named[title]
        else:
            match = re.fullmatch(r"Article_(\d+)", title)
            if not match:
                raise ValueError(f"{title!r} is not a title of the synthetic catalogue")
            rank = int(match.group(1))
        if rank >= self.size:
            raise ValueError(f"{title!r} is beyond the catalogue's {self.size} articles")
        return rank

    @cached_property
    def probabilities(self) -> np.ndarray:
        weights = 1.0 / np.arange(1, self.size + 1, dtype=np.float64) ** self.zipf_exponent
        return weights / weights.sum()

    @cached_property
    def _cdf(self) -> np.ndarray:
        cdf = np.cumsum(self.probabilities)
        cdf[-1] = 1.0
        return cdf

    def sample_ranks(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` article ranks drawn by popularity."""
        return np.searchsorted(self._cdf, rng.random(count), side="right").astype(np.int64)


@dataclass(frozen=True)
class Scenario:
    """An injected change in one article's traffic, from start_ms for duration_ms.

    trend: extra views rising linearly, minute after minute, to ``size`` per minute;
    spike: ``size`` extra views every minute;
    drop:  the article's normal views stop (size is ignored);
    bot:   ``size`` extra views every minute, all from the desktop site (automated traffic).
    """

    kind: ScenarioKind
    title: str
    rank: int
    start_ms: int
    duration_ms: int
    size: int

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms

    def active(self, minute_start_ms: int) -> bool:
        return self.start_ms <= minute_start_ms < self.end_ms

    def extra_views(self, minute_start_ms: int) -> int:
        """Views this scenario adds in the minute starting at ``minute_start_ms``."""
        if not self.active(minute_start_ms) or self.kind == "drop":
            return 0
        if self.kind in ("spike", "bot"):
            return self.size
        minutes = max(1, self.duration_ms // MINUTE_MS)
        step = (minute_start_ms - self.start_ms) // MINUTE_MS + 1
        return math.ceil(self.size * step / minutes)

    def to_json(self) -> dict:
        return asdict(self)


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_MS = {"s": 1000, "m": MINUTE_MS, "h": HOUR_MS, "d": 24 * HOUR_MS}


def parse_duration_ms(text: str) -> int:
    """``90s``, ``10m``, ``2h``, ``3d`` -> milliseconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration like 90s, 10m, 2h or 3d")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_start(text: str, clock_start_ms: int) -> int:
    """``+30m`` (an offset from the clock's start) or an ISO time -> epoch milliseconds."""
    return clock_start_ms + parse_duration_ms(text[1:]) if text.startswith("+") else parse_time_ms(text)


def parse_time_ms(text: str) -> int:
    """An ISO 8601 time (UTC unless it says otherwise) -> epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO time like 2026-01-15T10:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def parse_scenario(kind: str, spec: str, clock_start_ms: int, catalogue: Catalogue) -> Scenario:
    """Read ``START,DURATION,SIZE[,TITLE]``.

    START is an offset from the clock's start (``+30m``) or an ISO time;
    DURATION is like ``1h``; SIZE is views per minute (the trend's final rate,
    the spike's rate; ignored for a drop). TITLE defaults to a catalogue
    article of a rank suited to the kind.
    """
    if kind not in DEFAULT_SCENARIO_RANK:
        raise ValueError(f"unknown scenario kind {kind!r}; use trend, spike, drop or bot")
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) not in (3, 4):
        raise ValueError(f"{kind} {spec!r}: expected START,DURATION,SIZE[,TITLE]")
    start_text, duration_text, size_text = parts[:3]
    start_ms = parse_start(start_text, clock_start_ms)
    if not size_text.isdigit():
        raise ValueError(f"{kind} {spec!r}: SIZE must be a whole number of views per minute")
    if len(parts) == 4:
        title = parts[3]
        rank = catalogue.rank(title)
    else:
        rank = min(DEFAULT_SCENARIO_RANK[kind], catalogue.size - 1)
        title = catalogue.title(rank)
    return Scenario(kind, title, rank, start_ms, parse_duration_ms(duration_text), int(size_text))  # type: ignore[arg-type]


# Drawn trends (make run's world): sizes as the growth of the article's own rate at the day's mean, the
# rise's duration, and the popularity ranks they fall on (from a few views an hour to a few a minute).
DRAWN_TREND_GROWTHS = (2, 3, 5, 10)
DRAWN_TREND_MINUTES = (30, 60, 120)
DRAWN_TREND_RANKS = (1_000, 60_000)
# Extra views a minute at least: a trend whose newest window stays under ~20 views is not one a list shows.
DRAWN_TREND_MIN_SIZE = 3


def drawn_trends(
    catalogue: Catalogue, clock_start_ms: int, views_per_minute: float, per_hour: int, hours: int, seed: int
) -> tuple[Scenario, ...]:
    """``per_hour`` trends in each of ``hours`` hours from the clock's start, on different articles.

    Each starts at a random minute of its hour, rises for 30 to 120 minutes to
    2 to 10 times its article's usual rate (at least DRAWN_TREND_MIN_SIZE extra
    views a minute), and then holds. Seeded: the same seed draws the same trends.
    """
    rng = np.random.Generator(np.random.PCG64([seed, 3]))
    low, high = DRAWN_TREND_RANKS[0], min(DRAWN_TREND_RANKS[1], catalogue.size)
    count = per_hour * hours
    ranks = rng.choice(np.arange(low, high), size=min(count, high - low), replace=False)
    trends = []
    for index, rank in enumerate(ranks.tolist()):
        hour = index // per_hour
        start_ms = clock_start_ms + hour * HOUR_MS + int(rng.integers(0, 60)) * MINUTE_MS
        growth = int(rng.choice(DRAWN_TREND_GROWTHS))
        minutes = int(rng.choice(DRAWN_TREND_MINUTES))
        usual = float(catalogue.probabilities[rank]) * views_per_minute
        size = max(DRAWN_TREND_MIN_SIZE, round(usual * (growth - 1)))
        trends.append(Scenario("trend", catalogue.title(rank), rank, start_ms, minutes * MINUTE_MS, size))
    return tuple(trends)


def hour_of_day(epoch_ms: int) -> int:
    return (epoch_ms // HOUR_MS) % 24


def background_views(views_per_minute: float, minute_start_ms: int) -> int:
    """Background (non-injected) views in one minute: the mean rate shaped by the daily curve."""
    return round(views_per_minute * DAILY_CURVE[hour_of_day(minute_start_ms)])


def minute_rng(seed: int, minute_start_ms: int) -> np.random.Generator:
    """The random stream of one simulated minute: independent of every other minute."""
    return np.random.Generator(np.random.PCG64([seed, minute_start_ms // MINUTE_MS]))


def minute_events(
    catalogue: Catalogue,
    minute_start_ms: int,
    views_per_minute: float,
    seed: int,
    scenarios: tuple[Scenario, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """All page requests of one minute as (ranks, timestamps in ms), in time order."""
    ranks, timestamps, _ = minute_events_with_access(
        catalogue, minute_start_ms, views_per_minute, seed, scenarios
    )
    return ranks, timestamps


def minute_events_with_access(
    catalogue: Catalogue,
    minute_start_ms: int,
    views_per_minute: float,
    seed: int,
    scenarios: tuple[Scenario, ...] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All page requests of one minute as (ranks, timestamps in ms, access codes), in time order.

    An access code indexes ACCESS_NAMES; readers' are drawn by ACCESS_SHARES from a stream of their
    own (so the ranks and times are those of ``minute_events`` with or without them), bots' are desktop.
    """
    rng = minute_rng(seed, minute_start_ms)
    ranks = catalogue.sample_ranks(rng, background_views(views_per_minute, minute_start_ms))
    for scenario in scenarios:
        if scenario.kind == "drop" and scenario.active(minute_start_ms):
            ranks = ranks[ranks != scenario.rank]
    extras = [np.full(s.extra_views(minute_start_ms), s.rank, dtype=np.int64) for s in scenarios]
    automated = np.concatenate(
        [
            np.zeros(ranks.size, dtype=bool),
            *(np.full(e.size, s.kind == "bot") for s, e in zip(scenarios, extras, strict=True)),
        ]
    )
    ranks = np.concatenate([ranks, *extras])
    timestamps = minute_start_ms + rng.integers(0, MINUTE_MS, ranks.size, dtype=np.int64)
    access_rng = np.random.Generator(np.random.PCG64([seed, minute_start_ms // MINUTE_MS, 3]))
    access = access_rng.choice(len(ACCESS_NAMES), ranks.size, p=ACCESS_SHARES).astype(np.uint8)
    access[automated] = DESKTOP_CODE
    order = np.argsort(timestamps, kind="stable")
    return ranks[order], timestamps[order], access[order]


def hourly_views(
    catalogue: Catalogue,
    hour_start_ms: int,
    views_per_minute: float,
    seed: int,
    scenarios: tuple[Scenario, ...] = (),
) -> np.ndarray:
    """Views per article (index = rank) in one hour, for history files.

    Poisson counts around the same expectation the event stream has (the
    catalogue's popularity times the daily curve), plus the scenarios' views,
    so that history and stream describe one world. A drop zeroes the article
    for the minutes it covers.
    """
    rng = np.random.Generator(np.random.PCG64([seed, hour_start_ms // HOUR_MS, 1]))
    expected = catalogue.probabilities * (views_per_minute * 60 * DAILY_CURVE[hour_of_day(hour_start_ms)])
    views = rng.poisson(expected).astype(np.int64)
    minutes = range(hour_start_ms, hour_start_ms + HOUR_MS, MINUTE_MS)
    for scenario in scenarios:
        quiet = sum(1 for minute in minutes if scenario.kind == "drop" and scenario.active(minute))
        views[scenario.rank] = round(views[scenario.rank] * (60 - quiet) / 60)
        views[scenario.rank] += sum(scenario.extra_views(minute) for minute in minutes)
    return views
