"""The batch set-up `make run` does once, in the background: history, averages, DAGs, clickstream.

Run as ``python3 deploy/local/run.py batch-setup`` (run.py starts it).
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

from core.config import Settings
from core.contracts import BOTS_DAG_ID, CLICKSTREAM_DUMPS_PREFIX, DAILY_DAG_ID, HOURLY_DAG_ID
from core.windows import MINUTE_MS
from live_world import LIVE_VIEWS_PER_MINUTE, ROOT, live_start_file, say
from stack_manager import airflow
from stack_manager.layout import Layout, StackError

HERE = Path(__file__).resolve().parent
# The live world's history keeps its 100,000 most popular articles: the anomaly job compares articles of
# at least 20 views an hour (about the 22,000 most popular here), and an article past rank 100,000
# (under 5 an hour) all but never reaches 20.
HISTORY_TOP_RANKS = 100_000
HISTORY_DAYS = 7


def batch_setup_done(settings: Settings) -> Path:
    """The file that says the batch set-up ran (it runs once per stack home)."""
    return Layout.of(settings).run / "batch-setup.done"


def wait_until_the_stream_is_current(settings: Settings, timeout_s: float = 1800) -> None:
    """Wait until the newest trending list is at most two minutes old, so Spark does not slow the catch-up."""
    from core.contracts import Keys
    from core.snapshots import decode_trending
    from stores.clients import redis_client

    client, key = redis_client(settings), Keys(settings.redis).trending_latest
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = client.get(key)
        if raw and time.time() * 1000 - decode_trending(raw).minute <= 2 * MINUTE_MS:
            return
        time.sleep(10)
    say("batch set-up: the stream is still catching up; starting anyway")


def batch_setup(settings: Settings) -> int:
    """The live world's history -> the averages -> the batch DAGs unpaused in Airflow.

    Writes a week of the live producer's synthetic world (same seed, catalogue and rate) and today's
    hours before the stream's first as hourly counts, as if the pipeline had seen that traffic; backfills
    the averages from the week; then unpauses the hourly, daily and bot detector DAGs, whose first runs
    come at once (the bot detector's on the edits so far); then ingests last month's clickstream.
    It starts once the streaming job has caught up with the clock and runs at a lower CPU priority
    (nice 10): the live list comes first.
    """
    try:
        stream_start = datetime.fromisoformat(live_start_file(settings).read_text().strip())
    except (OSError, ValueError):
        say(f"batch set-up: {live_start_file(settings)} is missing; start once with --fresh to set it up")
        return 1
    say("batch set-up: waiting until the streaming job has caught up with the clock …")
    wait_until_the_stream_is_current(settings)
    os.nice(10)  # children (Spark, the history writer) inherit it
    python = str(Layout.of(settings).venv_python)
    counts = f"{settings.s3.bucket}/{settings.s3.hourly_counts_prefix}"
    first_day = stream_start.date() - timedelta(days=HISTORY_DAYS)
    last_day = stream_start.date() - timedelta(days=1)
    history = [
        *(python, "-m", "producer", "history", "--format", "counts", "--out", f"s3://{counts}"),
        *("--views-per-minute", str(LIVE_VIEWS_PER_MINUTE), "--top-ranks", str(HISTORY_TOP_RANKS)),
    ]
    week = (
        f"{HISTORY_DAYS} days of the live world's history ({first_day} to {last_day}) as hourly counts",
        [*history, "--from", first_day.isoformat(), "--days", str(HISTORY_DAYS)],
    )
    before_stream = (
        f"{stream_start:%Y-%m-%d} hour(s) 00 to {stream_start.hour - 1:02d}, before the stream",
        [*history, "--from", f"{stream_start:%Y-%m-%d}", "--hours", str(stream_start.hour)],
    )
    backfill = (
        "the averages backfilled from that week",
        [
            *(str(HERE / "spark-submit"), "batch/backfill.py", "--input", f"s3a://{counts}/"),
            *("--from", first_day.isoformat(), "--to", last_day.isoformat()),
        ],
    )
    steps = [week, before_stream, backfill] if stream_start.hour else [week, backfill]
    if not run_steps(steps):
        return 1
    try:
        unpause_batch_dags(settings)
    except StackError as exc:
        say(f"batch set-up: {exc}")
        return 1
    if not run_steps(clickstream_steps(settings, python, stream_start)):
        return 1
    batch_setup_done(settings).write_text(f"{stream_start:%Y-%m-%d}\n")
    say(
        "batch set-up: done. Airflow now computes each hour's anomalies at minute 5 of the next, the hour "
        f"that just ended first: {airflow.ui_url(settings)}"
    )
    return 0


def run_steps(steps: list[tuple[str, list[str]]]) -> bool:
    """Run the set-up's steps in order; False (having said which) at the first that fails."""
    for what, command in steps:
        say(f"batch set-up: {what} …")
        if subprocess.run(command, cwd=ROOT).returncode != 0:
            say(f"batch set-up: {what} failed; see above")
            return False
    return True


def clickstream_steps(settings: Settings, python: str, stream_start: datetime) -> list[tuple[str, list[str]]]:
    """Last month's clickstream of the live world, as a Wikimedia dump on S3, ingested with Spark."""
    month = f"{stream_start.replace(day=1) - timedelta(days=1):%Y-%m}"
    dumps = f"{settings.s3.bucket}/{CLICKSTREAM_DUMPS_PREFIX}"
    return [
        (
            f"the live world's clickstream of {month} (its {HISTORY_TOP_RANKS:,} most popular articles)",
            [
                *(python, "-m", "producer", "clickstream", "--month", month, "--out", f"s3://{dumps}"),
                *("--views-per-minute", str(LIVE_VIEWS_PER_MINUTE), "--top-ranks", str(HISTORY_TOP_RANKS)),
            ],
        ),
        (
            "that month ingested (where readers come from)",
            [str(HERE / "spark-submit"), "batch/clickstream.py", "--input", f"s3a://{dumps}/"],
        ),
    ]


def unpause_batch_dags(settings: Settings, timeout_s: float = 600) -> None:
    """Unpause the hourly, daily and bot detector DAGs once Airflow has read them (new DAGs start paused)."""
    layout = Layout.of(settings)
    env = airflow.environment(settings, airflow.airflow_home(layout))
    deadline = time.monotonic() + timeout_s
    for dag in (HOURLY_DAG_ID, DAILY_DAG_ID, BOTS_DAG_ID):
        while True:
            try:
                airflow.cli(settings, env, "dags", "unpause", dag)
                say(f"batch set-up: unpaused the Airflow DAG {dag}")
                break
            except StackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(15)  # the scheduler has not parsed the DAG folder yet
