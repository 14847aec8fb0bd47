"""The batch jobs on real Spark, S3 and Redis, run as users run them (deploy/local/spark-submit).

Each test has its own S3 prefixes and Redis keys (core.config.private_names)
and checks the jobs' outputs against what is computed here independently:
the synthetic world's own hourly views, or NumPy over the same files.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import uuid
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from batch.storage import AveragesPointer, read_pointer, write_pointer
from core.anomalies import HOUR_COLUMNS
from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import anomalies_key, hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import AnomalySnapshot, Keys, decode_anomalies
from core.synthetic import HOUR_MS, Catalogue, hourly_views, parse_time_ms

SPARK_SUBMIT = REPO_ROOT / "deploy" / "local" / "spark-submit"
HISTORY_DAYS = 7
FIRST_DAY = "2026-03-01"
TODAY = "2026-03-08"
CATALOGUE = ["--catalogue-size", "3000", "--views-per-minute", "500", "--seed", "5"]
SPIKE, DROP = "Article_2999", "Article_30"  # a quiet page that spikes; a popular one that goes silent
MALFORMED_LINES = ["en Broken_count abc 0\n", "en Too few\n", "xx.zz Unknown_project 4 0\n"]


@dataclass
class Run:
    env: dict[str, str]
    settings: Settings
    log: str = ""

    def job(self, script: str, *args: str, expect: int = 0) -> str:
        """Run a batch job with spark-submit; returns its log, after checking its exit code."""
        done = subprocess.run(
            [str(SPARK_SUBMIT), f"batch/{script}", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        log = done.stdout + done.stderr
        assert done.returncode == expect, log[-5000:]
        return log

    def producer(self, *args: str) -> None:
        done = subprocess.run(
            ["python", "-m", "producer", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    def s3_uri(self, what: str) -> str:
        return f"s3://{self.settings.s3.bucket}/runs/{self.env['WIKITRENDS_REDIS_KEY_PREFIX']}/{what}"


def private_run() -> Run:
    tag = f"batch{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    env["PATH"] = f"{REPO_ROOT / '.stack' / 'venv' / 'bin'}:{env['PATH']}"
    return Run(env, load_settings(env))


def read_parquet_object(s3_client, settings: Settings, key: str) -> pa.Table:
    return pq.read_table(io.BytesIO(s3_client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read()))


def read_parquet_prefix(s3_client, settings: Settings, prefix: str) -> pa.Table:
    listed = s3_client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=prefix + "/")["Contents"]
    parts = [
        read_parquet_object(s3_client, settings, o["Key"]) for o in listed if o["Key"].endswith(".parquet")
    ]
    return pa.concat_tables(parts)


def read_averages(s3_client, run: Run) -> tuple[AveragesPointer, dict[str, list[float]], set[int]]:
    pointer = read_pointer(run.settings)
    assert pointer is not None
    table = read_parquet_prefix(
        s3_client, run.settings, f"{run.settings.s3.averages_prefix}/{pointer.version}"
    )
    rows = table.to_pylist()
    averages = {row["title"]: [row[c] for c in HOUR_COLUMNS] for row in rows}
    return pointer, averages, {row["days"] for row in rows}


# --- end to end: history dumps -> backfill -> a day with a spike and a drop -> anomalies -------------


@pytest.fixture(scope="module")
def world(s3_client, redis_client) -> Run:
    """Seven days of synthetic dumps on S3 (one with malformed lines), backfilled into averages."""
    run = private_run()
    run.producer(
        "history", *CATALOGUE, "--from", FIRST_DAY, "--days", str(HISTORY_DAYS), "--out", run.s3_uri("dumps")
    )
    bucket, key = run.settings.s3.bucket, f"runs/{run.env['WIKITRENDS_REDIS_KEY_PREFIX']}/dumps/"
    key += "pageviews-20260302-130000.gz"
    text = gzip.decompress(s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    s3_client.put_object(
        Bucket=bucket, Key=key, Body=gzip.compress((text + "".join(MALFORMED_LINES)).encode())
    )
    run.log = run.job("backfill.py", "--input", run.s3_uri("dumps").replace("s3://", "s3a://") + "/*.gz")
    return run


def test_backfill_averages_every_hour_over_the_days_covered(world: Run, s3_client) -> None:
    pointer, averages, days = read_averages(s3_client, world)
    assert pointer.days == HISTORY_DAYS and days == {HISTORY_DAYS}
    assert f"skipped {len(MALFORMED_LINES)} malformed line(s)" in world.log
    # The oracle: the synthetic world's own hourly views, averaged over all 7 days (absent = 0 views).
    catalogue = Catalogue(size=3000)
    first_ms = parse_time_ms(f"{FIRST_DAY}T00:00:00Z")
    expected = np.zeros((catalogue.size, 24))
    for hour in range(HISTORY_DAYS * 24):
        expected[:, hour % 24] += hourly_views(catalogue, first_ms + hour * HOUR_MS, 500, 5)
    expected /= HISTORY_DAYS
    seen = np.flatnonzero(expected.sum(axis=1))
    assert set(averages) == {catalogue.title(rank) for rank in seen}
    for rank in seen:
        assert averages[catalogue.title(rank)] == pytest.approx(list(expected[rank]), abs=1e-9)


@pytest.fixture(scope="module")
def today_published(world: Run, redis_client) -> AnomaliesRun:
    """The eighth day's hourly counts with a spike and a drop, and the anomaly job at 15:00."""
    counts = f"s3://{world.settings.s3.bucket}/{world.settings.s3.hourly_counts_prefix}"
    spike, drop = f"{TODAY}T10:00:00Z,3h,5,{SPIKE}", f"{TODAY}T08:00:00Z,8h,0,{DROP}"
    world.producer(
        "history",
        *CATALOGUE,
        "--from",
        TODAY,
        "--days",
        "1",
        "--format",
        "counts",
        "--out",
        counts,
        "--spike",
        spike,
        "--drop",
        drop,
    )
    log = world.job("anomalies.py", "--date", TODAY, "--hour", "15")
    raw = redis_client.get(Keys(world.settings.redis).anomalies_latest)
    assert raw is not None, log[-3000:]
    return AnomaliesRun(world, decode_anomalies(raw), log)


@dataclass
class AnomaliesRun:
    run: Run
    snapshot: AnomalySnapshot
    log: str


def test_the_injected_spike_and_drop_top_the_anomalies_in_redis(
    today_published: AnomaliesRun, s3_client
) -> None:
    snapshot = today_published.snapshot
    run = today_published.run
    titles = [a.title for a in snapshot.articles]
    assert len(titles) == run.settings.batch.anomaly_top == 5
    assert set(titles[:2]) == {SPIKE, DROP}, titles
    assert (snapshot.date, snapshot.hour) == (TODAY, 15)
    # The document carries both vectors, hours 0..15: today's from the hourly counts, history from averages.
    _, averages, _ = read_averages(s3_client, run)
    for article in snapshot.articles:
        assert len(article.today) == len(article.history) == 16
        assert article.history == pytest.approx(averages.get(article.title, [0.0] * 24)[:16])
    spike = next(a for a in snapshot.articles if a.title == SPIKE)
    assert all(spike.today[h] >= 300 for h in (10, 11, 12))
    drop = next(a for a in snapshot.articles if a.title == DROP)
    assert all(drop.today[h] == 0 for h in range(8, 16)) and min(drop.history[8:16]) > 20
    # What is in Redis is also kept on S3.
    key = anomalies_key(run.settings.s3, TODAY, 15, "top.json")
    kept = json.loads(s3_client.get_object(Bucket=run.settings.s3.bucket, Key=key)["Body"].read())
    assert [a["title"] for a in kept["articles"]] == titles


def test_without_the_volume_rule_quiet_pages_would_top_the_list(
    today_published: AnomaliesRun, s3_client, redis_client
) -> None:
    run = today_published.run
    run.job("anomalies.py", "--date", TODAY, "--hour", "15", "--min-hourly-views", "0", "--no-publish")
    prefix = anomalies_key(run.settings.s3, TODAY, 15, "distances")
    rows = sorted(
        read_parquet_prefix(s3_client, run.settings, prefix).to_pylist(),
        key=lambda r: (-r["distance"], r["title"]),
    )
    top = rows[:5]
    assert SPIKE not in [r["title"] for r in top]
    # Noise: pages averaging a few views an hour, in their history and today (the rule asks 20).
    assert all(sum(r["history"]) / 16 < 5 and sum(r["today"]) / 16 < 5 for r in top), top
    # Re-running the hour with the rule publishes the same list again.
    run.job("anomalies.py", "--date", TODAY, "--hour", "15")
    again = decode_anomalies(redis_client.get(Keys(run.settings.redis).anomalies_latest))
    assert [a.title for a in again.articles] == [a.title for a in today_published.snapshot.articles]
    assert [a.distance for a in again.articles] == [a.distance for a in today_published.snapshot.articles]


def test_a_missing_hour_is_an_error_naming_it(world: Run, s3_client) -> None:
    log = world.job("anomalies.py", "--date", "2026-03-09", "--hour", "2", expect=2)
    assert "3 input hour(s) missing" in log and "2026-03-09 00:00, 2026-03-09 01:00, 2026-03-09 02:00" in log


# --- distances equal NumPy on many articles ------------------------------------------------------------


def put_hour(s3_client, settings: Settings, day: str, hour: int, views: dict[str, int]) -> None:
    rows = [HourlyRow("en.wikipedia", title, count) for title, count in views.items() if count > 0]
    key = hourly_counts_key(settings.s3, parse_time_ms(f"{day}T{hour:02d}:00:00Z"))
    s3_client.put_object(Bucket=settings.s3.bucket, Key=key, Body=hourly_counts_parquet(rows))


def put_averages(s3_client, run: Run, averages: dict[str, np.ndarray], days: int) -> None:
    pointer = AveragesPointer.for_dates([f"2026-02-{d + 1:02d}" for d in range(days)])
    columns = {"project": ["en.wikipedia"] * len(averages), "title": list(averages)}
    matrix = np.array(list(averages.values()))
    columns |= {c: matrix[:, h] for h, c in enumerate(HOUR_COLUMNS)}
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns | {"days": [days] * len(averages)}), buffer)
    key = f"{run.settings.s3.averages_prefix}/{pointer.version}/part-0.parquet"
    s3_client.put_object(Bucket=run.settings.s3.bucket, Key=key, Body=buffer.getvalue())
    write_pointer(run.settings, pointer)


def numpy_canberra(today: np.ndarray, history: np.ndarray) -> np.ndarray:
    """The contract's Canberra distance, row by row, written independently of the jobs."""
    denominator = np.abs(today) + np.abs(history)
    terms = np.divide(np.abs(today - history), denominator, out=np.zeros_like(today), where=denominator > 0)
    return terms.sum(axis=1)


def test_job_distances_equal_numpy_on_many_articles(s3_client) -> None:
    run = private_run()
    rng = np.random.default_rng(11)
    articles, last_hour, day = 20_000, 9, "2026-03-10"
    titles = [f"Page_{i}" for i in range(articles)]
    scale = 1000.0 / np.arange(1, articles + 1) ** 0.7  # heavy-tailed popularity
    history = rng.gamma(2.0, scale[:, None] / 2.0, size=(articles, 24))
    history[rng.random(articles) < 0.1] = 0.0  # pages new today: no history at all
    today = rng.poisson(scale[:, None] * rng.uniform(0.2, 3.0, size=(articles, 1)), size=(articles, 24))
    today[rng.random(articles) < 0.1] = 0  # pages absent today
    has_history = history.sum(axis=1) > 0
    put_averages(s3_client, run, {t: history[i] for i, t in enumerate(titles) if has_history[i]}, days=30)
    for hour in range(last_hour + 1):
        put_hour(s3_client, run.settings, day, hour, dict(zip(titles, today[:, hour].tolist(), strict=True)))

    min_views, top = 3.0, 10
    run.job(
        "anomalies.py",
        "--date",
        day,
        "--hour",
        str(last_hour),
        "--top",
        str(top),
        "--min-hourly-views",
        str(min_views),
        "--no-publish",
    )

    hours = last_hour + 1
    x, y = today[:, :hours].astype(float), history[:, :hours]
    expected = numpy_canberra(x, y)
    eligible = np.maximum(x.sum(axis=1), y.sum(axis=1)) >= min_views * hours
    want = {titles[i]: expected[i] for i in np.flatnonzero(eligible)}
    prefix = anomalies_key(run.settings.s3, day, last_hour, "distances")
    got = {
        r["title"]: r["distance"] for r in read_parquet_prefix(s3_client, run.settings, prefix).to_pylist()
    }
    assert 1000 < len(want) < articles  # the rule keeps some, not all
    assert set(got) == set(want)
    assert max(abs(got[t] - want[t]) for t in want) <= 1e-9
    ranked = sorted(want, key=lambda t: (-want[t], t))[:top]
    assert sorted(got, key=lambda t: (-got[t], t))[:top] == ranked


# --- the daily fold --------------------------------------------------------------------------------------


def test_folding_days_one_by_one_gives_the_plain_mean_and_a_day_counts_once(s3_client) -> None:
    run = private_run()
    rng = np.random.default_rng(7)
    days = ["2026-04-01", "2026-04-02", "2026-04-03"]
    titles = [f"Fold_{i}" for i in range(300)]
    views = {
        day: rng.poisson(4.0, size=(len(titles), 24)) * (rng.random((len(titles), 1)) < 0.7) for day in days
    }
    for day in days:
        for hour in range(24):
            if (day, hour) != (days[2], 7):  # one hour missing at first
                put_hour(
                    s3_client,
                    run.settings,
                    day,
                    hour,
                    dict(zip(titles, views[day][:, hour].tolist(), strict=True)),
                )

    run.job("update_averages.py", "--date", days[0])
    run.job("update_averages.py", "--date", days[1])
    failed = run.job("update_averages.py", "--date", days[2], expect=2)
    assert "1 input hour(s) missing" in failed and f"{days[2]} 07:00" in failed
    put_hour(
        s3_client, run.settings, days[2], 7, dict(zip(titles, views[days[2]][:, 7].tolist(), strict=True))
    )
    run.job("update_averages.py", "--date", days[2])
    pointer, averages, stored_days = read_averages(s3_client, run)

    again = run.job("update_averages.py", "--date", days[1])
    assert "already folded" in again
    assert read_pointer(run.settings) == pointer

    assert pointer.dates == days and stored_days == {3}
    mean = sum(views[day] for day in days) / 3
    seen = [i for i, _ in enumerate(titles) if mean[i].sum() > 0]
    assert set(averages) == {titles[i] for i in seen}
    for i in seen:
        assert averages[titles[i]] == pytest.approx(list(mean[i]), abs=1e-9)
