"""The tests' oracle: the product's rules written plainly in Python, to check the engines against.

Production evaluates each of these rules in an engine: the trending rule and
its score in Flink SQL (streaming/sql.py ``trending_query``), the page-request
checks in the job's SQL (``valid_events``), the Canberra distance, the volume
rule, the ranking and the moving average as Spark column expressions
(batch/expressions.py, batch/anomalies.py). The tests compute the same
things here, from the same inputs, and compare; nothing in production
imports this module. The limits (window length, title length, plausible
timestamps) come from core/, as production's do.

The trending rule, over an article's last hour of six 10-minute counts
(the windows of topic m mod 10 that end at m-50, ..., m, oldest first; a
window without views counts 0): the six counts never decrease, the last is
greater than the first, and the last reaches a minimum volume. Its growth
score (last - first) / (first + min_volume) is the hour's growth relative to
where the article started, damped by the minimum volume so that a page going
from 0 to a handful of views does not beat one going from 0 to thousands.

The volume rule of the anomalies: the Canberra distance is scale-free, so a
page averaging 0.2 views an hour that gets none today scores as high as a real
outage; an article is eligible only when, over the hours compared, today or
its history averages at least ``min_hourly_views`` an hour.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from core.events import (
    FORBIDDEN_IN_TITLES,
    FORBIDDEN_IN_TITLES_REASON,
    MAX_FUTURE_MS,
    MAX_PROJECT_CHARS,
    MAX_TITLE_CHARS,
    MIN_PLAUSIBLE_TS_MS,
    PageRequest,
)
from core.windows import MINUTE_MS, WINDOWS_PER_HOUR

# --------------------------------------------------------------------------- trending


def is_trending(counts: Sequence[int], min_volume: int) -> bool:
    """Never decreasing, growing overall, and the last count at least ``min_volume``."""
    if len(counts) != WINDOWS_PER_HOUR:
        raise ValueError(f"expected {WINDOWS_PER_HOUR} window counts, got {len(counts)}")
    never_decreases = all(a <= b for a, b in zip(counts, counts[1:], strict=False))
    return never_decreases and counts[-1] > counts[0] and counts[-1] >= min_volume


def growth_score(counts: Sequence[int], min_volume: int) -> float:
    """(last - first) / (first + min_volume): relative growth over the hour, damped for small bases."""
    return (counts[-1] - counts[0]) / (counts[0] + min_volume)


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


def canberra_distance(today: Sequence[float], history: Sequence[float]) -> float:
    """Sum over hours of |x - y| / (|x| + |y|); a 0/0 term is 0; an hour missing on one side is 0."""
    length = max(len(today), len(history))
    total = 0.0
    for x, y in zip(_padded(today, length), _padded(history, length), strict=True):
        denominator = abs(x) + abs(y)
        if denominator:
            total += abs(x - y) / denominator
    return total


def is_eligible(today: Sequence[float], history: Sequence[float], min_hourly_views: float) -> bool:
    """The volume rule: today or the history averages ``min_hourly_views`` an hour over the hours compared."""
    hours = max(len(today), len(history), 1)
    return max(sum(today), sum(history)) >= min_hourly_views * hours


def fold_day(average: float, days: int, views: float) -> float:
    """Cumulative moving average: avg + (x - avg) / (n + 1), the mean of n + 1 days."""
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    return average + (views - average) / (days + 1)


def rank_key(distance: float, project: str, title: str) -> tuple[float, str, str]:
    """Order of the anomaly list: largest distance first, then by project and title so ties are stable."""
    return (-distance, project, title)
