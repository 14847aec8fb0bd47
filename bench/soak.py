"""Soak: the live system at a realistic rate for hours, with the Spark batch jobs beside it.

    python bench/soak.py [--minutes 120] [--rate 3000] [--report-every 10]

Gives one run its own topics, consumer group, Redis keys and S3 prefixes
(as the tests do), submits the streaming job, and feeds it the synthetic
producer in real time at ``--rate`` page requests a second. As cron would,
at minute 5 of every hour it runs the hourly anomaly job with
``deploy/local/spark-submit`` on the hour the stream just wrote (against
averages backfilled at the start from one synthetic day), so Spark competes
for the same two cores. Every ``--report-every`` minutes it prints the lag
of the newest trending minute behind the clock, the checkpoints completed
and failed with the last and longest durations, and the job's restarts. At
the end it checks every finished hour's file on S3, and three windows of one
window topic (30 min apart, one digit), against the input topic, and prints
PASS or FAIL against the goals: 0 restarts, 0 failed checkpoints, lag never
over one minute, every batch run succeeded (lag: how much later than due the
newest list is; minute m is due once the watermark passes it,
``watermark_delay_seconds`` after m).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient  # noqa: E402

from bench.pipeline import read_back, start_live_producer  # noqa: E402
from core.anomalies import MIN_SCORED_DAYS  # noqa: E402
from core.config import Settings, load_settings, private_names  # noqa: E402
from core.contracts import (  # noqa: E402
    Keys,  # noqa: E402
    hourly_counts_key,
    pipeline_topics,
    windows_topic,
)
from core.snapshots import decode_trending  # noqa: E402
from core.windows import HOUR_MS, MINUTE_MS, WINDOW_MS, hour_start_of, topic_digit  # noqa: E402
from stores.clients import (  # noqa: E402
    flink_rest,
    kafka_security,  # noqa: E402
    new_topic,  # noqa: E402
    redis_client,
    s3_client,
)
from streaming.flink_jobs import cancel, submit  # noqa: E402

SPARK_SUBMIT = ROOT / "deploy" / "local" / "spark-submit"
PYTHON = sys.executable
HISTORY_VIEWS_PER_MINUTE = 6000  # the synthetic world of the averages and of today's earlier hours
# A window or hour is checked once it closed this long ago (the job has written it by then).
SETTLED_MS = 120_000


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def checkpoint_report(settings: Settings, job_id: str) -> tuple[int, int, float, float]:
    """Completed and failed checkpoints, the last one's and the longest one's duration in seconds."""
    stats = flink_rest(settings, f"/jobs/{job_id}/checkpoints")
    counts = stats["counts"]
    summary = stats["summary"]["end_to_end_duration"]
    latest = (stats.get("latest") or {}).get("completed") or {}
    return (
        counts["completed"],
        counts["failed"],
        latest.get("end_to_end_duration", 0) / 1000,
        (summary.get("max") or 0) / 1000,
    )


def restarts(settings: Settings, job_id: str) -> int:
    metrics = flink_rest(settings, f"/jobs/{job_id}/metrics?get=numRestarts")
    return int(float(metrics[0]["value"])) if metrics else 0


def views_in_input(
    settings: Settings, window_starts: list[int]
) -> tuple[dict[int, Counter], dict[int, Counter]]:
    """Views per hour and title, and per chosen window and title, from the input topic (the truth)."""
    hourly: dict[int, Counter] = defaultdict(Counter)
    windows: dict[int, Counter] = {start: Counter() for start in window_starts}
    for record in read_back(settings, settings.kafka.pageviews_topic):
        event = json.loads(record.value)
        hourly[hour_start_of(event["ts"])][event["title"]] += 1
        for start in window_starts:
            if start <= event["ts"] < start + WINDOW_MS:
                windows[start][event["title"]] += 1
    return hourly, windows


def windows_in_topic(settings: Settings, window_starts: list[int]) -> dict[int, Counter]:
    """The chosen windows' counts as the job wrote them to their (one) window topic."""
    found: dict[int, Counter] = {start: Counter() for start in window_starts}
    topic = windows_topic(settings.kafka, topic_digit(window_starts[0]))
    for record in read_back(settings, topic):
        row = json.loads(record.value)
        if row["window_start"] in found:
            found[row["window_start"]][row["title"]] += row["count"]
    return found


def prepare_batch_inputs(settings: Settings, env: dict[str, str], dumps_prefix: str) -> None:
    """What the hourly anomaly job reads besides the stream: averages, and today's hours before the run.

    Both come from one synthetic world: yesterday as dump files through the backfill, and today's
    hours as hourly counts (the job compares every hour of the day up to its hour; the stream's
    own files replace the hours it covers).
    """

    def run(*command: str) -> None:
        subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)

    def history(first_day: str, days: int, out: str, *options: str) -> None:
        """Synthetic history of the soak's world, written by the producer."""
        run(
            PYTHON,
            "-m",
            "producer",
            "history",
            "--views-per-minute",
            str(HISTORY_VIEWS_PER_MINUTE),
            "--from",
            first_day,
            "--days",
            str(days),
            "--out",
            out,
            *options,
        )

    # Two days: the anomaly job scores against the noise, measured by comparing the days with each other.
    say("backfilling averages from two synthetic days, and writing today's hours before the run ...")
    bucket = settings.s3.bucket
    history(day_of(time.time() - MIN_SCORED_DAYS * 86_400), MIN_SCORED_DAYS, f"s3://{bucket}/{dumps_prefix}")
    run(str(SPARK_SUBMIT), "batch/backfill.py", "--input", f"s3a://{bucket}/{dumps_prefix}/*.gz")
    history(day_of(time.time()), 1, f"s3://{bucket}/{settings.s3.hourly_counts_prefix}", "--format", "counts")


def run_end(began: float, minutes: int) -> float:
    """When to stop the stream: after ``minutes``, or once the hour that closed last has been written.

    A run that would stop just after an hour's end (a two-hour run started on the hour does) runs
    on until that hour's file is settled, so that the checks cover a whole hour.
    """
    planned_ms = int((began + 60 * minutes) * 1000)
    return max(planned_ms, hour_start_of(planned_ms) + SETTLED_MS) / 1000


def day_of(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch_s))


def run_hourly_anomalies(env: dict[str, str], hour_start_ms: int, log: Path) -> int:
    moment = datetime.fromtimestamp(hour_start_ms / 1000, tz=UTC)
    command = [
        str(SPARK_SUBMIT),
        "batch/anomalies.py",
        "--date",
        f"{moment:%Y-%m-%d}",
        "--hour",
        str(moment.hour),
    ]
    with log.open("a") as output:
        return subprocess.run(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=int, default=120, help="how long to run (default %(default)s)")
    parser.add_argument("--rate", type=int, default=3000, help="page requests a second (default %(default)s)")
    parser.add_argument("--report-every", type=int, default=10, help="minutes between reports")
    parser.add_argument("--no-batch", action="store_true", help="do not run the Spark jobs beside the stream")
    args = parser.parse_args()

    tag = f"soak{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    log = settings.stack.state_path / "logs" / f"{tag}-batch.log"
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap)
    admin.create_topics([new_topic(settings.kafka, t) for t in pipeline_topics(settings.kafka)])
    say(
        f"run {tag}: {args.rate:,} events/s for {args.minutes} min; "
        f"batch jobs {'off' if args.no_batch else 'on'}"
    )
    if not args.no_batch:
        prepare_batch_inputs(settings, env, f"runs/{tag}/dumps")
    producer = start_live_producer(env, args.rate, "1d")
    job_id = submit(env, "-py", "streaming/pageviews/job.py", "--job-name", tag)
    began = time.time()
    ends = run_end(began, args.minutes)
    keys, client = Keys(settings.redis), redis_client(settings)
    worst_lag, next_report, batch_hours, batch_failures = 0.0, began + 60 * args.report_every, set(), 0
    try:
        while time.time() < ends:
            time.sleep(5)
            now = time.time()
            raw = client.get(keys.trending_latest)
            # Lag: how late the newest list is against its schedule. Minute m is due once the
            # watermark passes it (watermark delay after m), and is replaced a minute later:
            # on time, now - m stays within [delay, delay + 60 s); lag is what exceeds that.
            age = now - decode_trending(raw).minute / 1000 if raw else now - began
            lag = max(0.0, age - settings.streaming.watermark_delay_seconds - 60)
            if now - began > 180:  # the first minutes fill the first window
                worst_lag = max(worst_lag, lag)
            hour = int(now * 1000) - int(now * 1000) % HOUR_MS - HOUR_MS
            # Cron's run for every hour the stream wrote, the run's first (partial) hour included:
            # a two-hour run that starts just after an hour's top would otherwise cover one whole
            # hour, whose cron minute comes after the run, and Spark would never run beside it.
            if (
                not args.no_batch
                and now % 3600 > 300
                and hour not in batch_hours
                and hour + HOUR_MS > began * 1000
            ):
                batch_hours.add(hour)
                say(
                    "cron: hourly anomaly job for the hour from "
                    f"{datetime.fromtimestamp(hour / 1000, UTC):%H:%M}"
                )
                batch_failures += run_hourly_anomalies(env, hour, log) != 0
            if now >= next_report:
                next_report += 60 * args.report_every
                completed, failed, last, longest = checkpoint_report(settings, job_id)
                say(
                    f"lag {lag:5.0f} s (worst {worst_lag:.0f} s) | "
                    f"checkpoints {completed} done, {failed} failed, "
                    f"last {last:.1f} s, longest {longest:.1f} s | restarts {restarts(settings, job_id)}"
                )
        completed, failed, _, longest = checkpoint_report(settings, job_id)
        job_restarts = restarts(settings, job_id)
    finally:
        producer.terminate()
        producer.wait()
        cancel(settings, job_id, discard_checkpoints=True)
    stopped_ms = time.time() * 1000

    exact = True
    say("checking every finished hour's file on S3 and three windows against the input topic ...")
    import pyarrow.parquet as pq

    # Three windows 30 minutes apart (one digit, one topic), inside the run and long closed.
    first = int(began * 1000) - int(began * 1000) % MINUTE_MS + 10 * MINUTE_MS
    window_starts = [
        w
        for w in (first, first + 30 * MINUTE_MS, first + 60 * MINUTE_MS)
        if w + WINDOW_MS + SETTLED_MS <= stopped_ms
    ]
    truth, window_truth = views_in_input(settings, window_starts)
    written = windows_in_topic(settings, window_starts) if window_starts else {}
    admin.delete_topics(pipeline_topics(settings.kafka))
    admin.close()
    for start in window_starts:
        same = written[start] == window_truth[start]
        exact &= same
        views = window_truth[start]
        say(
            f"window {datetime.fromtimestamp(start / 1000, UTC):%H:%M}: {len(views):,} articles, "
            f"{sum(views.values()):,} views, topic rows {'equal' if same else 'DIFFERENT'}"
        )
    s3, checked = s3_client(settings), 0
    for hour, views in sorted(truth.items()):
        if hour + HOUR_MS <= began * 1000 or hour + HOUR_MS + SETTLED_MS > stopped_ms:
            continue  # not the stream's, or still open when the job stopped (the run's first hour,
            # begun mid-hour, is checked: its file holds what the input has of it)
        body = s3.get_object(Bucket=settings.s3.bucket, Key=hourly_counts_key(settings.s3, hour))[
            "Body"
        ].read()
        table = pq.read_table(io.BytesIO(body)).to_pylist()
        same = {row["title"]: row["views"] for row in table} == dict(views)
        exact &= same
        checked += 1
        say(
            f"hour {datetime.fromtimestamp(hour / 1000, UTC):%H:%M}: {len(views):,} articles, "
            f"{sum(views.values()):,} views, file {'equal' if same else 'DIFFERENT'}"
        )
    goals = job_restarts == 0 and failed == 0 and worst_lag <= 60 and exact and batch_failures == 0
    print(
        f"soak {args.minutes} min at {args.rate:,} events/s: restarts {job_restarts}, "
        f"checkpoints {completed} done {failed} failed (longest {longest:.1f} s), "
        f"worst lag {worst_lag:.0f} s, hourly files checked {checked} and windows {len(window_starts)} "
        f"({'all equal' if exact else 'NOT equal'}), "
        f"batch runs {len(batch_hours)} ({batch_failures} failed): {'PASS' if goals else 'FAIL'}"
    )
    return 0 if goals else 1


if __name__ == "__main__":
    sys.exit(main())
