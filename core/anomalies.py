"""The layout of the hourly vectors the anomaly jobs compare, and of the noise kept beside them.

Averages: one column per hour of the day, h00 … h23. The anomaly job's
Canberra distance over hours 0..H is a sum of per-hour terms
|x - y| / (x + y), each between 0 and 1; even a steady article has nonzero
terms (its views vary around the average), more of them the more hours are
compared and the noisier the article. So the averages also keep, per article,
what its own past days looked like against them (the noise):

  term_mean_hHH, term_square_hHH          the mean of the hour's term and of its square
  distance_mean_hHH, distance_square_hHH  the same for the distance over hours 0..HH

over ``scored_days`` past days (the backfill scores each day against the
average of the other days; the daily fold scores the new day against the
averages before it). An hour is then scored twice, as a z-score: the day so
far, (distance - distance_mean) / sd, and the latest hour alone,
(term - term_mean) / sd, each sd taken from the moments but never below a
floor: per hour, the larger of ``NOISE_FLOOR`` (no change under about 10 % in
an hour is news) and ``POISSON_SPREAD / sqrt(views)`` for the larger of the
hour's two counts (the spread counting noise alone gives the term, with a
margin for its skew: a few calm days can look steadier than the article is,
and a page of 20 views an hour swings by half now and then); over several
hours, the square root of the sum of the hours' squared floors.

A z-score that large still happens by chance among thousands of articles: a
page of 20 views an hour gets 6 now and then (about one hour in 5,000), and
the term's spread, linear in the term, misses how thin Poisson tails are. So
each part also needs its views to be unlikely as counting noise: the signed
Poisson deviance residual of today's views x against the average y (an
average under one view counts as one),

  poisson_z = sign(x - y) * sqrt(2 * (x * ln(x / y) - (x - y)))   (x ln(x/y) is 0 when x is 0),

about a z-score with tails close to Poisson's. The hour score counts when
the latest hour's |poisson_z| reaches ``[batch] anomaly_min_poisson_z``
against its average scaled to the day's level before it (today's views over
the averages' for hours 0..h-1; 1 at hour 0: ``hour_poisson_z``); the day
score when some hour of the day so far does against its average scaled to
the day's level up to that hour (hours 0..h; the largest |poisson_z|, the
day's, is kept as ``day_poisson_z``). So the day and its latest hour are
judged by their shape at the day's own level: a spike is still news once it
is over, while a day a quarter busier (or quieter) in every hour, at any
volume, has no hour out of its shape.
A part that does not count scores at most 0.
The article's score is the larger of the two parts; it is published when the
score reaches ``[batch] anomaly_min_score``.

The rules are Spark column expressions in batch/expressions.py; the tests
hold them to tests/oracle.py.
"""

from __future__ import annotations

HOURS_PER_DAY = 24

# The smallest standard deviation of one hour's Canberra term that a score divides by …
NOISE_FLOOR = 0.05
# … and, for an hour of n views, POISSON_SPREAD / sqrt(n): Poisson counts give the term a spread of
# about 0.3 / sqrt(n); 0.35 leaves room for its skew (measured: tests/unit/test_anomaly_rules.py).
POISSON_SPREAD = 0.35
# Days the noise must be measured on before the anomaly job scores anything.
MIN_SCORED_DAYS = 2

NOISE_STATISTICS = ("term_mean", "term_square", "distance_mean", "distance_square")
SCORED_DAYS = "scored_days"


def hour_column(hour: int) -> str:
    """Name of the column holding hour ``hour`` of the day in wide tables: ``h00`` … ``h23``."""
    if not 0 <= hour < HOURS_PER_DAY:
        raise ValueError(f"hour must be 0..23, got {hour}")
    return f"h{hour:02d}"


def noise_column(statistic: str, hour: int) -> str:
    """Name of a noise statistic's column for ``hour``: ``term_mean_h05``, ``distance_square_h23`` …"""
    if statistic not in NOISE_STATISTICS:
        raise ValueError(f"unknown noise statistic {statistic!r}; expected one of {NOISE_STATISTICS}")
    return f"{statistic}_{hour_column(hour)}"


HOUR_COLUMNS = [hour_column(hour) for hour in range(HOURS_PER_DAY)]
NOISE_COLUMNS = [noise_column(s, hour) for s in NOISE_STATISTICS for hour in range(HOURS_PER_DAY)]
