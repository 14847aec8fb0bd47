"""The batch jobs on real Spark, S3 and Redis, run as users run them: each job once with
deploy/local/spark-submit (cron's and Airflow's way, exit codes included), its other runs in this
process's SparkSession (a plain-Python run of the same main, which leaves a session it did not
start running): one JVM, and Spark's generated code compiled once, for all of them.

Each test has its own S3 prefixes and Redis keys (core.config.private_names)
and checks the jobs' outputs against what is computed here independently:
the synthetic world's own hourly views, or NumPy over the same files.
"""

from __future__ import annotations

import gzip
import importlib
import io
import json
import logging
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kafka import KafkaAdminClient

from batch.cli import run_job
from batch.storage import AveragesPointer, hour_start_ms, read_pointer, write_pointer
from core.anomalies import HOUR_COLUMNS, NOISE_STATISTICS, noise_column
from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import EditKeys, Keys, anomalies_key, anomaly_distances_key, hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import AnomalySnapshot, decode_anomalies
from producer.world import HOUR_MS, Catalogue, hourly_views, parse_time_ms
from stores.clients import kafka_security, new_topic
from stores.edits import change_watchlist_args, change_watchlist_script
from tests.api_contract import check_alert_record
from tests.integration.streaming_run import read_topic
from tests.oracle import Noise, anomaly_score, canberra_distance, fold_noise, noise_of_days

# The in-process runs (Run.in_session) share the tests' SparkSession.
pytestmark = pytest.mark.usefixtures("spark")
SPARK_SUBMIT = REPO_ROOT / "deploy" / "local" / "spark-submit"
HISTORY_DAYS = 7
FIRST_DAY = "2026-03-01"
TODAY = "2026-03-08"
HOUR = 12  # the hour the anomaly job is run for on TODAY
CLEAN_DAY = "2026-03-10"  # nothing injected
CATALOGUE = ["--catalogue-size", "3000", "--views-per-minute", "500", "--seed", "5"]
# A page of about 25 views an hour that spikes to ~300 (a page of a view or two an hour has no shape for
# Canberra terms to stand out from: its terms swing between 0 and 1 every day); a popular one goes silent.
SPIKE, DROP = "Article_150", "Article_30"
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

    def in_session(self, script: str, *args: str, expect: int = 0) -> str:
        """Run a batch job's main in this process's SparkSession; returns its log, after checking its exit
        code. The same code as under spark-submit, without a JVM and Spark started for each run."""
        job = importlib.import_module(f"batch.{Path(script).stem}")
        captured = io.StringIO()
        handler = logging.StreamHandler(captured)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        batch_log = logging.getLogger("batch")
        level = batch_log.level
        batch_log.addHandler(handler)
        batch_log.setLevel(logging.INFO)
        try:
            with mock.patch.dict(os.environ, self.env, clear=True), pytest.raises(SystemExit) as exited:
                run_job(job.main, list(args))
        finally:
            batch_log.removeHandler(handler)
            batch_log.setLevel(level)
        log = captured.getvalue()
        assert exited.value.code == expect, log[-5000:]
        return log

    def module(self, name: str, *args: str) -> str:
        """Run ``python -m name``; returns its log, after checking that it succeeded."""
        done = subprocess.run(
            ["python", "-m", name, *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout + done.stderr

    def producer(self, *args: str) -> None:
        self.module("producer", *args)

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
    pointer, rows = read_averages_rows(s3_client, run)
    averages = {row["title"]: [row[c] for c in HOUR_COLUMNS] for row in rows}
    return pointer, averages, {row["days"] for row in rows}


def read_averages_rows(s3_client, run: Run) -> tuple[AveragesPointer, list[dict]]:
    pointer = read_pointer(run.settings)
    assert pointer is not None
    table = read_parquet_prefix(
        s3_client, run.settings, f"{run.settings.s3.averages_prefix}/{pointer.version}"
    )
    return pointer, table.to_pylist()


def stored_noise(row: dict, scored_days: int) -> Noise:
    """The noise columns of one averages row, as the oracle's Noise."""
    return Noise(
        *[[row[noise_column(s, h)] for h in range(24)] for s in NOISE_STATISTICS], scored_days=scored_days
    )


def assert_same_noise(got: Noise, want: Noise) -> None:
    assert got.scored_days == want.scored_days
    for statistic in NOISE_STATISTICS:
        assert getattr(got, statistic) == pytest.approx(getattr(want, statistic), abs=1e-9), statistic


# --- end to end: history dumps -> backfill -> a day with a spike and a drop -> anomalies -------------


@pytest.fixture(scope="module")
def world(s3_client, redis_client, kafka_bootstrap) -> Iterator[Run]:
    """Seven days of synthetic dumps on S3 (one with malformed lines), backfilled into averages; the
    alerts topic the anomaly job sends TRAFFIC_SPIKE to."""
    run = private_run()
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    alerts_topic = run.settings.kafka.edit_alerts_topic
    admin.create_topics([new_topic(run.settings.kafka, alerts_topic, 1)])
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
    yield run
    admin.delete_topics([alerts_topic])
    admin.close()


def test_backfill_averages_every_hour_over_the_days_covered_and_keeps_the_noise(
    world: Run, s3_client
) -> None:
    pointer, averages, days = read_averages(s3_client, world)
    assert pointer.days == pointer.scored_days == HISTORY_DAYS and days == {HISTORY_DAYS}
    assert f"skipped {len(MALFORMED_LINES)} malformed line(s)" in world.log
    # The oracle: the synthetic world's own hourly views, averaged over all 7 days (absent = 0 views),
    # and the noise of each day against the other six (days without views included).
    want_averages, want_noise = world_averages(FIRST_DAY, HISTORY_DAYS)
    assert set(averages) == set(want_averages)
    _, rows = read_averages_rows(s3_client, world)
    by_title = {row["title"]: row for row in rows}
    for title, expected in want_averages.items():
        assert averages[title] == pytest.approx(list(expected), abs=1e-9)
        assert_same_noise(stored_noise(by_title[title], HISTORY_DAYS), want_noise[title])


def world_averages(first_day: str, days: int) -> tuple[dict[str, np.ndarray], dict[str, Noise]]:
    """What the backfill makes of ``days`` of the test world's dumps from ``first_day``: each seen
    article's hour-of-day averages and noise, computed from the world's own hourly views."""
    catalogue = Catalogue(size=3000)
    first_ms = parse_time_ms(f"{first_day}T00:00:00Z")
    views = np.zeros((days, catalogue.size, 24))
    for hour in range(days * 24):
        views[hour // 24, :, hour % 24] = hourly_views(catalogue, first_ms + hour * HOUR_MS, 500, 5)
    mean = views.mean(axis=0)
    seen = np.flatnonzero(mean.sum(axis=1))
    averages = {catalogue.title(rank): mean[rank] for rank in seen}
    noise = {
        catalogue.title(rank): noise_of_days([list(views[day, rank]) for day in range(days)]) for rank in seen
    }
    return averages, noise


@pytest.fixture(scope="module")
def today_published(world: Run, redis_client) -> AnomaliesRun:
    """The eighth day's hourly counts with a spike and a drop, and the anomaly job at 12:00, the spike's last
    hour (once it is over, its day so far scores 5 to 6: tests/oracle.py shows why with the same numbers)."""
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
    log = world.job("anomalies.py", "--date", TODAY, "--hour", str(HOUR))
    raw = redis_client.get(Keys(world.settings.redis).anomalies_hour(hour_start_ms(TODAY, HOUR)))
    assert raw is not None, log[-3000:]
    return AnomaliesRun(world, decode_anomalies(raw), log)


@dataclass
class AnomaliesRun:
    run: Run
    snapshot: AnomalySnapshot
    log: str


def test_the_injected_spike_and_drop_are_the_only_anomalies_published(
    today_published: AnomaliesRun, s3_client
) -> None:
    snapshot = today_published.snapshot
    run = today_published.run
    min_poisson_z = run.settings.batch.anomaly_min_poisson_z
    assert [a.title for a in snapshot.articles] in ([SPIKE, DROP], [DROP, SPIKE]), snapshot.articles
    assert (snapshot.date, snapshot.hour, snapshot.min_score, snapshot.min_poisson_z) == (
        TODAY,
        HOUR,
        run.settings.batch.anomaly_min_score,
        min_poisson_z,
    )
    # The document carries both vectors, hours 0..HOUR: today's from the hourly counts, history from averages.
    pointer, rows = read_averages_rows(s3_client, run)
    noise = {row["title"]: stored_noise(row, pointer.scored_days) for row in rows}
    averages = {row["title"]: [row[c] for c in HOUR_COLUMNS] for row in rows}
    for article in snapshot.articles:
        assert len(article.today) == len(article.history) == HOUR + 1
        assert article.history == pytest.approx(averages[article.title][: HOUR + 1])
        # Its numbers are the oracle's, from the same vectors and the noise kept beside the averages.
        want = anomaly_score(article.today, article.history, noise[article.title], min_poisson_z)
        assert article.distance == pytest.approx(canberra_distance(article.today, article.history), abs=1e-9)
        assert article.expected_distance == pytest.approx(want.expected_distance, abs=1e-9)
        assert (article.day_score, article.hour_score) == pytest.approx((want.day_score, want.hour_score))
        assert (article.day_poisson_z, article.hour_poisson_z) == pytest.approx(
            (want.day_poisson_z, want.hour_poisson_z)
        )
        assert article.score == pytest.approx(want.score) and article.score >= snapshot.min_score
    spike = next(a for a in snapshot.articles if a.title == SPIKE)
    assert all(spike.today[h] >= 300 for h in (10, 11, 12))
    drop = next(a for a in snapshot.articles if a.title == DROP)
    assert all(drop.today[h] == 0 for h in range(8, HOUR + 1)) and min(drop.history[8 : HOUR + 1]) > 20
    # Every compared article's score is the oracle's, and none but those two reaches the bar.
    prefix = anomaly_distances_key(run.settings.s3, TODAY, HOUR)
    compared = read_parquet_prefix(s3_client, run.settings, prefix).to_pylist()
    assert len(compared) == snapshot.compared > 100
    for row in compared:
        new_today = Noise.silent(pointer.scored_days)  # not in the averages: no past views
        want = anomaly_score(row["today"], row["history"], noise.get(row["title"], new_today), min_poisson_z)
        assert row["score"] == pytest.approx(want.score, abs=1e-6), row["title"]
    assert {r["title"] for r in compared if r["score"] >= snapshot.min_score} == {SPIKE, DROP}
    # What is in Redis is also kept on S3.
    key = anomalies_key(run.settings.s3, TODAY, HOUR, "top.json")
    kept = json.loads(s3_client.get_object(Bucket=run.settings.s3.bucket, Key=key)["Body"].read())
    assert [a["title"] for a in kept["articles"]] == [a.title for a in snapshot.articles]


def test_one_run_publishes_every_hour_of_the_day_as_the_hourly_runs_would(
    today_published: AnomaliesRun, s3_client, redis_client
) -> None:
    """Catching up (--from-hour): each hour's list is what that hour's own run publishes."""
    run = today_published.run
    # The spiking page is watched (as PUT /api/watchlist leaves it): its first hour on a list raises
    # one TRAFFIC_SPIKE; the unwatched drop none.
    edit_keys = EditKeys(run.settings.redis)
    change_watchlist_script(redis_client)(
        keys=[edit_keys.watchlist, edit_keys.watchlist_version],
        args=change_watchlist_args(run.settings, "Spiking page", [SPIKE]),
    )
    log = run.in_session("anomalies.py", "--date", TODAY, "--from-hour", "0", "--hour", "23")
    keys = Keys(run.settings.redis)
    lists = {
        h: decode_anomalies(redis_client.get(keys.anomalies_hour(hour_start_ms(TODAY, h)))) for h in range(24)
    }
    assert lists[HOUR].articles == today_published.snapshot.articles
    assert all(lists[h].hour == h and lists[h].compared > 0 for h in range(24)), [
        lists[h].compared for h in range(24)
    ]
    pointer, rows = read_averages_rows(s3_client, run)
    noise = {row["title"]: stored_noise(row, pointer.scored_days) for row in rows}
    min_poisson_z = run.settings.batch.anomaly_min_poisson_z
    published_at: dict[str, list[int]] = {}
    for h, snapshot in lists.items():
        for article in snapshot.articles:
            assert len(article.today) == h + 1
            want = anomaly_score(article.today, article.history, noise[article.title], min_poisson_z)
            assert article.score == pytest.approx(want.score), (h, article.title)
            published_at.setdefault(article.title, []).append(h)
    # Each is seen from its first hour (the drop 08:00, the spike 10:00). The drop's eight silent hours keep
    # its day so far anomalous to midnight; the spike's day scores 5 to 6 once it is over (the fixture's
    # note), so it leaves the list after its last hour. No steady page shows at any hour.
    assert published_at == {DROP: list(range(8, 24)), SPIKE: [10, 11, 12]}, log[-3000:]
    assert "2026-03-08 12:00: 2 of" in log and "2026-03-08 23:00: 1 of" in log

    def traffic_alerts() -> tuple[list[dict], list[dict]]:
        in_redis = [json.loads(m) for m in redis_client.zrange(edit_keys.alerts, 0, -1)]
        topic = read_topic(run.settings.kafka.bootstrap, run.settings.kafka.edit_alerts_topic)
        return in_redis, [json.loads(record.value) for record in topic]

    in_redis, in_topic = traffic_alerts()
    assert [(a["alert_type"], a["title"], a["timestamp_ms"]) for a in in_redis] == [
        ("TRAFFIC_SPIKE", SPIKE, hour_start_ms(TODAY, 10))
    ]
    assert in_topic == in_redis and in_redis[0]["views"]["source"] == "anomalies"
    check_alert_record(in_redis[0])
    # The hours run again: nothing is sent twice.
    run.in_session("anomalies.py", "--date", TODAY, "--from-hour", "9", "--hour", "12")
    assert traffic_alerts() == (in_redis, in_topic)


def test_a_clean_day_publishes_an_empty_list(world: Run, s3_client, redis_client) -> None:
    counts = f"s3://{world.settings.s3.bucket}/{world.settings.s3.hourly_counts_prefix}"
    world.producer(
        "history", *CATALOGUE, "--from", CLEAN_DAY, "--days", "1", "--format", "counts", "--out", counts
    )
    log = world.in_session("anomalies.py", "--date", CLEAN_DAY, "--hour", "20")
    snapshot = decode_anomalies(
        redis_client.get(Keys(world.settings.redis).anomalies_hour(hour_start_ms(CLEAN_DAY, 20)))
    )
    assert snapshot.articles == [] and snapshot.compared > 100, log[-3000:]
    assert f"0 of {snapshot.compared} compared articles score at least" in log


def test_without_the_volume_rule_quiet_pages_top_the_distances_but_not_the_scores(
    today_published: AnomaliesRun, s3_client, redis_client
) -> None:
    run = today_published.run
    run.in_session(
        "anomalies.py", "--date", TODAY, "--hour", str(HOUR), "--min-hourly-views", "0", "--no-publish"
    )
    prefix = anomaly_distances_key(run.settings.s3, TODAY, HOUR)
    rows = sorted(
        read_parquet_prefix(s3_client, run.settings, prefix).to_pylist(),
        key=lambda r: (-r["distance"], r["title"]),
    )
    top = rows[:5]
    assert SPIKE not in [r["title"] for r in top]
    # Noise: pages averaging a few views an hour, in their history and today (the rule asks 20) …
    assert all(sum(r["history"]) / (HOUR + 1) < 5 and sum(r["today"]) / (HOUR + 1) < 5 for r in top), top
    # … whose scores know it: the counting noise of a few views is large, and among thousands of such pages
    # none is far enough from its average as a Poisson count to reach the bar. (The volume rule stays: it
    # keeps the job's join to the candidates.)
    bar = run.settings.batch.anomaly_min_score
    assert all(r["score"] < bar for r in top), top
    assert len(rows) > 10 * today_published.snapshot.compared
    assert {r["title"] for r in rows if r["score"] >= bar} == {SPIKE, DROP}
    # Re-running the hour with the rule publishes the same list again.
    run.in_session("anomalies.py", "--date", TODAY, "--hour", str(HOUR))
    # The hour's own key: "latest" may already be a later hour another test published.
    again = decode_anomalies(
        redis_client.get(Keys(run.settings.redis).anomalies_hour(hour_start_ms(TODAY, HOUR)))
    )
    assert again.articles == today_published.snapshot.articles


def test_averages_without_noise_are_refused_with_what_to_do(s3_client) -> None:
    run = private_run()
    put_averages(s3_client, run.settings, {"Page": np.ones(24)}, days=1)
    log = run.job("anomalies.py", "--date", "2026-03-10", "--hour", "0", expect=2)
    assert "noise measured on 0 day(s)" in log and "backfill at least 2 days" in log


def test_a_missing_hour_is_an_error_naming_it(world: Run, s3_client) -> None:
    log = world.in_session("anomalies.py", "--date", "2026-03-09", "--hour", "2", expect=2)
    assert "3 input hour(s) missing" in log and "2026-03-09 00:00, 2026-03-09 01:00, 2026-03-09 02:00" in log


# --- distances equal NumPy on many articles ------------------------------------------------------------


def put_hour(s3_client, settings: Settings, day: str, hour: int, views: dict[str, int]) -> None:
    rows = [HourlyRow("en.wikipedia", title, count) for title, count in views.items() if count > 0]
    key = hourly_counts_key(settings.s3, parse_time_ms(f"{day}T{hour:02d}:00:00Z"))
    s3_client.put_object(Bucket=settings.s3.bucket, Key=key, Body=hourly_counts_parquet(rows))


def put_averages(
    s3_client,
    settings: Settings,
    averages: dict[str, np.ndarray],
    days: int,
    noise: dict[str, Noise] | None = None,
) -> None:
    """Averages written straight to S3 as the jobs write them; without ``noise``, none was measured."""
    scored_days = next(iter(noise.values())).scored_days if noise else 0
    pointer = AveragesPointer.for_dates([f"2026-02-{d + 1:02d}" for d in range(days)], scored_days)
    columns = {"project": ["en.wikipedia"] * len(averages), "title": list(averages)}
    matrix = np.array(list(averages.values()))
    columns |= {c: matrix[:, h] for h, c in enumerate(HOUR_COLUMNS)}
    for statistic in NOISE_STATISTICS:
        for h in range(24):
            columns[noise_column(statistic, h)] = [
                getattr(noise[t], statistic)[h] if noise else 0.0 for t in averages
            ]
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns | {"days": [days] * len(averages)}), buffer)
    key = f"{settings.s3.averages_prefix}/{pointer.version}/part-0.parquet"
    s3_client.put_object(Bucket=settings.s3.bucket, Key=key, Body=buffer.getvalue())
    write_pointer(settings, pointer)


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
    term_mean = rng.uniform(0.0, 0.3, size=(articles, 24))
    distance_mean = np.cumsum(term_mean, axis=1)
    noise = {
        t: Noise(
            list(term_mean[i]),
            list(term_mean[i] ** 2 + rng.uniform(0.0, 0.02, 24)),
            list(distance_mean[i]),
            list(distance_mean[i] ** 2 + rng.uniform(0.0, 0.3, 24)),
            scored_days=30,
        )
        for i, t in enumerate(titles)
        if has_history[i]
    }
    put_averages(
        s3_client,
        run.settings,
        {t: history[i] for i, t in enumerate(titles) if has_history[i]},
        days=30,
        noise=noise,
    )
    for hour in range(last_hour + 1):
        put_hour(s3_client, run.settings, day, hour, dict(zip(titles, today[:, hour].tolist(), strict=True)))

    min_views, top = 3.0, 10
    run.in_session(
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
    prefix = anomaly_distances_key(run.settings.s3, day, last_hour)
    rows = read_parquet_prefix(s3_client, run.settings, prefix).to_pylist()
    got = {r["title"]: r["distance"] for r in rows}
    assert 1000 < len(want) < articles  # the rule keeps some, not all
    assert set(got) == set(want)
    assert max(abs(got[t] - want[t]) for t in want) <= 1e-9
    ranked = sorted(want, key=lambda t: (-want[t], t))[:top]
    assert sorted(got, key=lambda t: (-got[t], t))[:top] == ranked
    # The scores are the oracle's, from the same vectors and noise (none for pages new today).
    new_today = Noise.silent(30)
    min_poisson_z = run.settings.batch.anomaly_min_poisson_z
    for row in rows:
        i = int(row["title"].removeprefix("Page_"))
        score = anomaly_score(list(x[i]), list(y[i]), noise.get(row["title"], new_today), min_poisson_z)
        assert (row["expected_distance"], row["day_score"], row["hour_score"], row["score"]) == pytest.approx(
            (score.expected_distance, score.day_score, score.hour_score, score.score), rel=1e-9, abs=1e-9
        ), row["title"]
        assert (row["day_poisson_z"], row["hour_poisson_z"]) == pytest.approx(
            (score.day_poisson_z, score.hour_poisson_z), rel=1e-9, abs=1e-9
        ), row["title"]


# --- the daily fold --------------------------------------------------------------------------------------


def test_folding_days_one_by_one_gives_the_plain_mean_the_noise_and_a_day_counts_once(s3_client) -> None:
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
    run.in_session("update_averages.py", "--date", days[1])
    failed = run.in_session("update_averages.py", "--date", days[2], expect=2)
    assert "1 input hour(s) missing" in failed and f"{days[2]} 07:00" in failed
    put_hour(
        s3_client, run.settings, days[2], 7, dict(zip(titles, views[days[2]][:, 7].tolist(), strict=True))
    )
    run.in_session("update_averages.py", "--date", days[2])
    pointer, averages, stored_days = read_averages(s3_client, run)

    again = run.in_session("update_averages.py", "--date", days[1])
    assert "already folded" in again
    assert read_pointer(run.settings) == pointer

    assert pointer.dates == days and stored_days == {3}
    mean = sum(views[day] for day in days) / 3
    seen = [i for i, _ in enumerate(titles) if mean[i].sum() > 0]
    assert set(averages) == {titles[i] for i in seen}
    for i in seen:
        assert averages[titles[i]] == pytest.approx(list(mean[i]), abs=1e-9)
    # The noise: the first day has nothing to be scored against; each later one, the averages before it.
    assert pointer.scored_days == 2
    _, rows = read_averages_rows(s3_client, run)
    by_title = {row["title"]: row for row in rows}
    for i in seen:
        first, second, third = (list(map(float, views[day][i])) for day in days)
        noise = fold_noise(Noise.silent(0), averages=first, views=second)
        noise = fold_noise(
            noise, averages=[(a + b) / 2 for a, b in zip(first, second, strict=True)], views=third
        )
        assert_same_noise(stored_noise(by_title[titles[i]], pointer.scored_days), noise)
