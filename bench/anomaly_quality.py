"""Detection quality of the hourly anomaly job: recall, detection hour, precision and false alarms.

    .stack/venv/bin/python bench/anomaly_quality.py [--history-days 28] [--clean-days 30]

A seeded synthetic world of articles in volume bands from 20 to 5,000 views an
hour (log-spaced), each with the site's daily curve, a day-to-day factor (a
busier day is busier all day) and Poisson counts. Its history goes through
the real backfill; then test days go through the real anomaly job
(spark-submit, ``--from-hour 0 --hour 23``: every hour's list, as the hourly
runs publish them), and the lists are read back from Redis:

- injected days: spikes (x1.5 to x10 for 1, 2 or 4 hours), drops (to 0 and to
  half for 1, 2 or 4 hours) and slow trends (rising to x2 or x3 over twelve
  hours), each on a few articles of every band, at random hours;
- clean days: nothing injected.

It prints, per kind of change and volume band, the share found at the first
hour it could be (the hour the change starts) and within two hours (that hour
or the next); per band, the median detection lag, the precision of the
published lists on injected days and the false alarms on clean days; then the
goals: no steady page published over the clean days, every change of x3 or
more on pages of 50 views an hour or more found within two hours.

The published list is capped at ``--top`` (default 10,000, not the site's
five) so that the cap does not hide what the rule finds: several hundred
changes are injected on one day here, where a real day has a few.
Needs the stack (make up). Uses its own S3 prefixes and Redis keys.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import median

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from batch.storage import hour_start_ms  # noqa: E402
from core.config import Settings, load_settings, private_names  # noqa: E402
from core.contracts import Keys, hourly_counts_day_key  # noqa: E402
from core.hourly_counts import HourlyRow, hourly_counts_parquet  # noqa: E402
from core.snapshots import AnomalousArticle, decode_anomalies  # noqa: E402
from producer.world import DAILY_CURVE  # noqa: E402
from stores.clients import redis_client, s3_client  # noqa: E402

SPARK_SUBMIT = ROOT / "deploy" / "local" / "spark-submit"
JOB_LOG_LINE = re.compile(r" batch(\.\w+)? (INFO|WARNING|ERROR) ")
PROJECT = "en.wikipedia"
BANDS = (20, 50, 120, 300, 800, 2000, 5000)  # mean views an hour, log-spaced from 20 to 5,000
DAY_FACTOR_SPREAD = 0.08  # sd of log(day factor): a steady page's day-to-day swing
FIRST_HISTORY_DAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Change:
    """One kind of injected change: views multiplied by ``factor`` for ``hours`` hours, or a trend."""

    name: str
    factor: float
    hours: int
    trend: bool = False

    def multipliers(self, start: int) -> np.ndarray:
        """The 24 hourly multipliers of a day with this change starting at ``start``."""
        m = np.ones(24)
        if self.trend:  # rising evenly over ``hours`` hours to ``factor``, then staying there
            ramp = np.clip((np.arange(24) - start + 1) / self.hours, 0, 1)
            return np.where(np.arange(24) >= start, 1 + (self.factor - 1) * ramp, 1.0)
        m[start : start + self.hours] = self.factor
        return m

    def latest_start(self) -> int:
        return 12 if self.trend else 24 - self.hours


CHANGES = (
    *[Change(f"spike x{f:g} {h}h", f, h) for f in (1.5, 2, 3, 5, 10) for h in (1, 2, 4)],
    *[Change(f"drop to {label} {h}h", f, h) for f, label in ((0.0, "0"), (0.5, "half")) for h in (1, 2, 4)],
    *[Change(f"trend to x{f:g} over 12h", f, 12, trend=True) for f in (2, 3)],
)


@dataclass(frozen=True)
class Injection:
    day: str
    title: str
    band: int
    change: Change
    start: int


@dataclass
class World:
    """Article titles, bands and mean hourly views; which test day carries which injections."""

    titles: list[str]
    bands: np.ndarray
    volumes: np.ndarray
    injections: list[Injection]

    def day_views(self, rng: np.random.Generator, day: str) -> np.ndarray:
        """Views (articles x 24 hours) of one day: daily curve x day factor x injected changes, Poisson."""
        factor = rng.lognormal(0.0, DAY_FACTOR_SPREAD, size=len(self.titles))
        expected = np.outer(self.volumes * factor, np.asarray(DAILY_CURVE))
        index = {t: i for i, t in enumerate(self.titles)}
        for injection in self.injections:
            if injection.day == day:
                expected[index[injection.title]] *= injection.change.multipliers(injection.start)
        return rng.poisson(expected)


def build_world(rng: np.random.Generator, per_band: int, injected_days: list[str], per_cell: int) -> World:
    """``per_band`` articles per band; ``per_cell`` injections of every change in every band, spread over
    the injected days, at most one per article and day."""
    titles, bands, volumes = [], [], []
    for band in BANDS:
        for i in range(per_band):
            titles.append(f"Band{band}_{i:04d}")
            bands.append(band)
            volumes.append(band * rng.uniform(0.8, 1.25))
    injections = []
    for band in BANDS:
        slots = [(day, f"Band{band}_{i:04d}") for day in injected_days for i in range(per_band)]
        if len(slots) < per_cell * len(CHANGES):
            raise SystemExit(
                f"{per_band} articles a band on {len(injected_days)} day(s) hold too few changes"
            )
        chosen = rng.permutation(len(slots))[: per_cell * len(CHANGES)]
        for k, slot in enumerate(chosen):
            change = CHANGES[k % len(CHANGES)]
            day, title = slots[slot]
            injections.append(
                Injection(day, title, band, change, int(rng.integers(0, change.latest_start() + 1)))
            )
    return World(titles, np.asarray(bands), np.asarray(volumes), injections)


def put_day(settings: Settings, prefix: str, day: str, views: np.ndarray, titles: list[str]) -> None:
    """One day's 24 hourly counts files under ``prefix`` (the layout the streaming job writes)."""
    s3 = s3_client(settings)
    for hour in range(24):
        rows = [HourlyRow(PROJECT, t, int(v)) for t, v in zip(titles, views[:, hour], strict=True) if v > 0]
        key = hourly_counts_day_key(settings.s3, day, hour).replace(
            settings.s3.hourly_counts_prefix, prefix, 1
        )
        s3.put_object(Bucket=settings.s3.bucket, Key=key, Body=hourly_counts_parquet(rows))


def run_job(env: dict[str, str], *args: str) -> None:
    """A batch job through spark-submit, its own log lines shown as progress."""
    command = [str(SPARK_SUBMIT), *args]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    tail: list[str] = []
    for line in process.stdout:  # type: ignore[union-attr]
        tail = (tail + [line])[-40:]
        if JOB_LOG_LINE.search(line) and " #" not in line:  # the job's own lines, not each article
            print("   ", line.rstrip().split(" ", 2)[-1], flush=True)
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed:\n{''.join(tail)}")


def published(settings: Settings, days: list[str]) -> dict[tuple[str, int], list[AnomalousArticle]]:
    """The items each (day, hour) list published, read from Redis as the site reads them."""
    redis, keys = redis_client(settings), Keys(settings.redis)
    lists = {}
    for day in days:
        for hour in range(24):
            raw = redis.get(keys.anomalies_hour(hour_start_ms(day, hour)))
            if raw is None:
                raise SystemExit(f"no anomaly list for {day} {hour:02d}:00 in Redis")
            lists[(day, hour)] = decode_anomalies(raw).articles
    return lists


def titles_of(lists: dict[tuple[str, int], list[AnomalousArticle]]) -> dict[tuple[str, int], set[str]]:
    return {day_hour: {a.title for a in items} for day_hour, items in lists.items()}


def print_steady_alarms(
    lists: dict[tuple[str, int], list[AnomalousArticle]], clean: list[str], band_of: dict[str, int]
) -> None:
    """Why each steady page was published on a clean day: its scores and its day against its average."""
    for day in clean:
        for hour in range(24):
            for a in lists[(day, hour)]:
                print(
                    f"    {day} {hour:02d}:00 {a.title} ({band_of[a.title]} v/h): score {a.score:.1f} "
                    f"(day {a.day_score:.1f}, hour {a.hour_score:.1f}), poisson z day {a.day_poisson_z} "
                    f"hour {a.hour_poisson_z}\n      today   {[round(v) for v in a.today]}"
                    f"\n      average {[round(v) for v in a.history]}"
                )


def detection_hour(lists: dict[tuple[str, int], set[str]], injection: Injection) -> int | None:
    """The first hour at or after the change's start whose list holds the article, or None."""
    for hour in range(injection.start, 24):
        if injection.title in lists[(injection.day, hour)]:
            return hour
    return None


def percent(found: int, total: int) -> str:
    return f"{100 * found / total:.0f}%" if total else "-"


def report(
    world: World, lists: dict[tuple[str, int], set[str]], injected: list[str], clean: list[str]
) -> bool:
    """Print the tables; True when the goals are met."""
    band_of = dict(zip(world.titles, world.bands.tolist(), strict=True))
    found: dict[tuple[str, int], list[int | None]] = defaultdict(list)
    lags: dict[int, list[int]] = defaultdict(list)
    for injection in world.injections:
        lag = _lag(lists, injection)
        found[(injection.change.name, injection.band)].append(lag)
        if lag is not None:
            lags[injection.band].append(lag)

    print(
        "\nRecall: found at the first hour it could be / within two hours (that hour or the next) / that day"
    )
    print(f"{'change':<26}" + "".join(f"{f'{b} v/h':>15}" for b in BANDS))
    for change in CHANGES:
        cells = []
        for band in BANDS:
            results = found[(change.name, band)]
            first = sum(1 for lag in results if lag == 0)
            two = sum(1 for lag in results if lag is not None and lag <= 1)
            day = sum(1 for lag in results if lag is not None)
            cells.append("/".join(percent(n, len(results)) for n in (first, two, day)))
        print(f"{change.name:<26}" + "".join(f"{c:>15}" for c in cells))

    started = {(i.day, i.title): i.start for i in world.injections}
    true_pairs, all_pairs = defaultdict(int), defaultdict(int)
    for day in injected:
        for hour in range(24):
            for title in lists[(day, hour)]:
                all_pairs[band_of[title]] += 1
                if started.get((day, title), 99) <= hour:
                    true_pairs[band_of[title]] += 1
    alarms, alarm_pages = defaultdict(int), defaultdict(set)
    for day in clean:
        for hour in range(24):
            for title in lists[(day, hour)]:
                alarms[band_of[title]] += 1
                alarm_pages[band_of[title]].add((day, title))
    per_band = {band: int((world.bands == band).sum()) for band in BANDS}

    print("\nPer band: median detection lag (hours after the change starts, detected ones), precision of the")
    print("published lists on injected days, false alarms on clean days (article-hours and distinct pages)")
    print(f"{'band':>10}{'lag':>8}{'precision':>12}{'alarm hours':>14}{'of':>10}{'alarm pages':>14}")
    for band in BANDS:
        lag = f"{median(lags[band]):.0f}" if lags[band] else "-"
        scored = per_band[band] * 24 * len(clean)
        print(
            f"{f'{band} v/h':>10}{lag:>8}{percent(true_pairs[band], all_pairs[band]):>12}"
            f"{alarms[band]:>14}{scored:>10}{len(alarm_pages[band]):>14}"
        )

    steady_published = sum(len(pages) for pages in alarm_pages.values())
    # The goal's changes: x3 or more (spikes of x3+, drops to 0) on pages of 50 views an hour or more.
    goal = [i for i in world.injections if _is_big(i.change) and i.band >= 50]
    late = [i for i in goal if (lag := _lag(lists, i)) is None or lag > 1]
    print("\nGoals")
    print(f"  steady pages published over {len(clean)} clean days: {steady_published} (goal 0)")
    print(
        f"  changes of x3 or more on pages of 50+ views/h not found within two hours: "
        f"{len(late)} of {len(goal)} (goal 0)"
    )
    for i in late:
        print(
            f"    {i.change.name} at {i.band} v/h ({i.title}, {i.day} from {i.start:02d}:00): "
            f"lag {_lag(lists, i)}"
        )
    ok = steady_published == 0 and not late
    print(f"  {'PASS' if ok else 'FAIL'}")
    return ok


def _lag(lists: dict[tuple[str, int], set[str]], injection: Injection) -> int | None:
    hour = detection_hour(lists, injection)
    return None if hour is None else hour - injection.start


def _is_big(change: Change) -> bool:
    """A change of x3 or more: a spike of x3+, or a drop to a third or less (trends rise slowly: apart)."""
    return not change.trend and (change.factor >= 3 or change.factor <= 1 / 3)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--history-days", type=int, default=28, help="days backfilled into the averages")
    parser.add_argument("--clean-days", type=int, default=30, help="test days with nothing injected")
    parser.add_argument("--injected-days", type=int, default=2, help="test days carrying the injections")
    parser.add_argument("--per-band", type=int, default=150, help="articles in each volume band")
    parser.add_argument("--per-cell", type=int, default=6, help="injections of each change in each band")
    parser.add_argument("--top", type=int, default=10_000, help="the list's cap (see above)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    tag = f"quality{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    rng = np.random.default_rng(args.seed)
    history = [(FIRST_HISTORY_DAY + timedelta(days=d)).isoformat() for d in range(args.history_days)]
    first_test = FIRST_HISTORY_DAY + timedelta(days=args.history_days)
    tests = [
        (first_test + timedelta(days=d)).isoformat() for d in range(args.injected_days + args.clean_days)
    ]
    injected, clean = tests[: args.injected_days], tests[args.injected_days :]
    world = build_world(rng, args.per_band, injected, args.per_cell)
    print(
        f"world: {len(world.titles):,} articles in {len(BANDS)} bands ({', '.join(map(str, BANDS))} v/h), "
        f"{len(world.injections)} injected changes on {len(injected)} day(s), {len(clean)} clean days, "
        f"{args.history_days} days of history; S3 prefix runs/{tag}",
        flush=True,
    )
    began = time.monotonic()
    history_prefix = f"runs/{tag}/history"
    for n, day in enumerate(history + tests, start=1):
        prefix = history_prefix if day in history else settings.s3.hourly_counts_prefix
        put_day(settings, prefix, day, world.day_views(rng, day), world.titles)
        if n % 10 == 0 or n == len(history) + len(tests):
            rate = n / (time.monotonic() - began)
            eta = (len(history) + len(tests) - n) / rate
            print(
                f"  wrote {n} of {len(history) + len(tests)} days of hourly counts "
                f"({rate:.1f} days/s, ETA {eta:.0f} s)",
                flush=True,
            )

    print("backfill (spark-submit batch/backfill.py) ...", flush=True)
    started = time.monotonic()
    run_job(env, "batch/backfill.py", "--input", f"s3a://{settings.s3.bucket}/{history_prefix}/")
    backfill_s = time.monotonic() - started
    print(f"anomalies (spark-submit batch/anomalies.py, {len(tests)} days x 24 hours) ...", flush=True)
    started = time.monotonic()
    run_job(
        env,
        "batch/anomalies.py",
        "--date",
        *tests,
        "--from-hour",
        "0",
        "--hour",
        "23",
        "--top",
        str(args.top),
    )
    anomalies_s = time.monotonic() - started
    print(f"backfill {backfill_s:.0f} s, anomaly job {anomalies_s:.0f} s ({len(tests) * 24} hourly lists)")
    items = published(settings, tests)
    ok = report(world, titles_of(items), injected, clean)
    if not ok:
        print("steady pages published on clean days, and why:")
        print_steady_alarms(items, clean, dict(zip(world.titles, world.bands.tolist(), strict=True)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
