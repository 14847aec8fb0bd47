"""A seeded world with ground truth for bench/trending_quality.py: what trends, and what must not.

Two wikis whose daily rhythms run against each other (en.wikipedia's morning
rises while de.wikipedia's evening falls), each with:

- steady articles in volume bands of 0.5, 5, 50 and 500 views a minute, each
  at its own level of the day (a log-normal day-to-day factor), following its
  wiki's rhythm with Poisson counts;
- many small background articles and a main page (not an article) that make
  up the rest of the wiki's traffic;
- risers: x1.5, x2, x3, x5 and x10 over 30, 60 and 120 minutes (a linear ramp
  to the new level, then held), several of each in the low bands. At 500
  views a minute only x1.5 to x3 over 60 minutes: in a world small enough to
  run here a x10 riser of that size would be half its wiki's traffic, which
  no real article is;
- one-window bursts (x10 for 5 minutes) and fallers (to a third over 30 minutes);
- bot-inflated articles: x20 for 90 minutes, every added view from the desktop site (automated
  traffic, which core/automated.py must keep off the list). Readers use both sites: a third of
  en.wikipedia's views and 45 % of de.wikipedia's are on the desktop site.

The first two hours hold nothing injected: the second of them is the clean
hour, judged with a full hour behind it. Changes start in the third hour.
Pure and seeded: the same seed gives the same world and the same events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.windows import HOUR_MS, MINUTE_MS
from producer.world import DAILY_CURVE, parse_time_ms

START_MS = parse_time_ms("2026-03-02T06:00:00Z")
CLEAN_HOUR = range(60, 120)  # minutes (from the start) whose lists are the clean hour's
FIRST_CHANGE_MINUTE = 120
LAST_START_MINUTE = 150
BANDS = (0.5, 5.0, 50.0, 500.0)  # views a minute
GROWTHS = (1.5, 2.0, 3.0, 5.0, 10.0)
DURATIONS = (30, 60, 120)  # minutes of rise
BIGGEST_BAND_DURATIONS, BIGGEST_BAND_GROWTHS = (60,), (1.5, 2.0, 3.0)
RISERS_PER_CELL = {0.5: 4, 5.0: 4, 50.0: 2, 500.0: 1}  # per band, growth and duration
BURST_MINUTES, BURST_FACTOR = 5, 10.0
FALL_MINUTES, FALL_TO = 30, 1 / 3
# A wiki's clock is offset so that the two rhythms run against each other in the same hours.
RHYTHM_OFFSET_HOURS = {"en.wikipedia": 0, "de.wikipedia": 13}
STEADY_PER_BAND = {0.5: 150, 5.0: 40, 50.0: 8, 500.0: 2}
BURSTS_PER_BAND, FALLERS_PER_BAND = 3, 3
BACKGROUND_ARTICLES, BACKGROUND_PER_MINUTE = 2000, 1000.0
# Most of a wiki's views are pages nothing happens to, so that the changes injected here are a small
# part of the rest of the wiki an article is judged against (on a real wiki they are a tiny part).
MAIN_PAGE_PER_MINUTE = 10_000.0
LEVEL_SIGMA = 0.3  # spread of the log day-to-day level factor
# Readers' share of views on the desktop site, per wiki; automated traffic is all desktop.
READER_DESKTOP_SHARE = {"en.wikipedia": 0.35, "de.wikipedia": 0.45}
# Bots on pages of 0.5 and 5 views a minute: together under 2 % of their wiki's views, as on a real wiki
# (bots on the 50-views band made 15 % of this small world's wiki and moved every article's expectation).
BOT_BANDS, BOTS_PER_BAND, BOT_FACTOR, BOT_MINUTES = (0.5, 5.0), 2, 20.0, 90


@dataclass(frozen=True)
class Article:
    """One page of the world and what happens to it (times in minutes from the start)."""

    project: str
    title: str
    kind: str  # steady, background, main, riser, burst, faller, bot
    base_per_minute: float  # at the day's mean rhythm, before the change
    band: float = 0.0
    growth: float = 1.0
    start: int = 0
    duration: int = 0

    @property
    def rise_end(self) -> int:
        return self.start + self.duration

    def shape(self, minute: np.ndarray) -> np.ndarray:
        """The change's factor on the article's rate at each minute (1 where nothing is injected)."""
        elapsed = minute - self.start + 1
        if self.kind == "riser":
            return 1 + (self.growth - 1) * np.clip(elapsed / self.duration, 0, 1)
        if self.kind == "faller":
            return 1 - (1 - FALL_TO) * np.clip(elapsed / FALL_MINUTES, 0, 1)
        if self.kind == "burst":
            return np.where((elapsed >= 1) & (elapsed <= BURST_MINUTES), BURST_FACTOR, 1.0)
        if self.kind == "bot":
            return np.where((elapsed >= 1) & (elapsed <= BOT_MINUTES), BOT_FACTOR, 1.0)
        return np.ones_like(minute, dtype=float)

    def desktop_share(self, minute: np.ndarray) -> np.ndarray:
        """The share of the article's views on the desktop site at each minute: its readers', and all of
        what automated traffic adds."""
        readers = READER_DESKTOP_SHARE[self.project]
        if self.kind != "bot":
            return np.full(minute.shape, readers)
        factor = self.shape(minute)
        return (readers + (factor - 1)) / factor

    def peak_window(self) -> float:
        """Views of a 10-minute window at the changed level (at the day's mean rhythm)."""
        return self.base_per_minute * self.growth * 10


def rhythm(project: str, minutes: np.ndarray) -> np.ndarray:
    """The wiki's traffic relative to its day's mean, interpolated between hours."""
    hours = (START_MS / HOUR_MS + minutes / 60 + RHYTHM_OFFSET_HOURS[project]) % 24
    curve = np.array([*DAILY_CURVE, DAILY_CURVE[0]])
    lower = np.floor(hours).astype(int)
    return curve[lower] + (curve[lower + 1] - curve[lower]) * (hours - lower)


def build_world(seed: int, minutes: int) -> list[Article]:
    """Every article of the world, with its changes; ``minutes`` long."""
    rng = np.random.default_rng(seed)
    articles: list[Article] = []
    projects = list(RHYTHM_OFFSET_HOURS)

    def level(base: float) -> float:
        return base * float(np.exp(rng.normal(0, LEVEL_SIGMA)))

    def start_for(duration: int) -> int:
        latest = min(LAST_START_MINUTE, minutes - duration - 10)
        return int(rng.integers(FIRST_CHANGE_MINUTE, latest + 1))

    for project in projects:
        code = project.split(".")[0]
        articles.append(Article(project, "Main_Page", "main", MAIN_PAGE_PER_MINUTE))
        per_background = BACKGROUND_PER_MINUTE / BACKGROUND_ARTICLES
        articles += [
            Article(project, f"Background_{code}_{i}", "background", per_background)
            for i in range(BACKGROUND_ARTICLES)
        ]
        for band in BANDS:
            for i in range(STEADY_PER_BAND[band]):
                articles.append(Article(project, f"Steady_{code}_{band:g}_{i}", "steady", level(band), band))
            for i in range(BURSTS_PER_BAND):
                start = int(rng.integers(FIRST_CHANGE_MINUTE, minutes - 20))
                articles.append(
                    Article(project, f"Burst_{code}_{band:g}_{i}", "burst", level(band), band, start=start)
                )
            for i in range(FALLERS_PER_BAND):
                articles.append(
                    Article(
                        project,
                        f"Faller_{code}_{band:g}_{i}",
                        "faller",
                        level(band),
                        band,
                        start=start_for(30),
                    )
                )
    # Risers alternate between the wikis.
    turn = 0
    for band in BANDS:
        biggest = band == BANDS[-1]
        for growth in BIGGEST_BAND_GROWTHS if biggest else GROWTHS:
            for duration in BIGGEST_BAND_DURATIONS if biggest else DURATIONS:
                for i in range(RISERS_PER_CELL[band]):
                    project = projects[turn % len(projects)]
                    turn += 1
                    title = f"Riser_{project.split('.')[0]}_{band:g}_x{growth:g}_{duration}m_{i}"
                    start = start_for(duration)
                    articles.append(
                        Article(project, title, "riser", level(band), band, growth, start, duration)
                    )
    # Last, so that the articles above are those of a world without them (same seed, same draws).
    for project in projects:
        code = project.split(".")[0]
        for band in BOT_BANDS:
            for i in range(BOTS_PER_BAND):
                start = start_for(BOT_MINUTES)
                articles.append(
                    Article(project, f"Bot_{code}_{band:g}_{i}", "bot", level(band), band, BOT_FACTOR, start)
                )
    return articles


def minute_views(articles: list[Article], minutes: int, seed: int) -> np.ndarray:
    """Poisson views per article (rows) and minute (columns)."""
    rng = np.random.default_rng([seed, 1])
    grid = np.arange(minutes)
    rhythms = {project: rhythm(project, grid) for project in RHYTHM_OFFSET_HOURS}
    rates = np.array([a.base_per_minute * rhythms[a.project] * a.shape(grid) for a in articles])
    return rng.poisson(rates)


def desktop_views(articles: list[Article], views: np.ndarray, seed: int) -> np.ndarray:
    """Of ``views`` (articles x minutes), how many came from the desktop site (the rest: mobile)."""
    rng = np.random.default_rng([seed, 3])
    grid = np.arange(views.shape[1])
    shares = np.array([a.desktop_share(grid) for a in articles])
    return rng.binomial(views, shares)


def expected_events(articles: list[Article], minutes: int) -> int:
    grid = np.arange(minutes)
    return int(
        sum(float(np.sum(a.base_per_minute * rhythm(a.project, grid) * a.shape(grid))) for a in articles)
    )


def minute_ms(minute: int) -> int:
    return START_MS + minute * MINUTE_MS


def is_rising_at(article: Article, minute: int) -> bool:
    """A riser belongs on the list of ``minute`` from its start until an hour after its rise ends."""
    return article.kind == "riser" and article.start < minute <= article.rise_end + 60


def in_goal(article: Article, min_growth: float = 2.0, min_peak_window: float = 50.0) -> bool:
    """A riser the goal covers: x2 or more, its newest window reaching 50 views."""
    return (
        article.kind == "riser" and article.growth >= min_growth and article.peak_window() >= min_peak_window
    )
