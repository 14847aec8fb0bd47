#!/usr/bin/env python3
"""Bring the whole system up on this machine, or take it down.

    python3 deploy/local/run.py          # install what is missing, start everything, print where to look
    python3 deploy/local/run.py --fresh  # the same, but the streaming job starts empty
    python3 deploy/local/run.py stop     # stop Airflow, the site, the producer, the job (with a savepoint),
                                         # then the stack

Up means: the local stack (Redis, MinIO, Kafka, Flink), the streaming job
submitted to the cluster (once; resumed from the savepoint `stop` took, or
from the last checkpoint of a job that died), the synthetic producer in real
time at 2,000 page requests a second (the first time starting at the top of
the previous hour, so that the first trending hour is complete at once and
every hourly file is whole), with a spike and a drop injected half an hour
into the stream, a trend from twenty minutes in, rising for three hours, and
four seeded trends an hour of other sizes and lengths (what is injected is
written to .stack/runs/live-ground-truth.json);
the edit job (streaming/edits_job.py) and the synthetic edit stream (watch-list
alerts every two hours, an edit surge on the trending article); the site (python -m web);
Airflow (scheduler and web UI, deploy/airflow's DAGs); and, once, the batch
set-up in the background: a week of the same synthetic world as hourly counts
and today's hours before the stream, the averages backfilled from that week
with Spark, then the batch DAGs unpaused, so that Airflow computes each live
hour's anomalies at minute 5 of the next (the first one, the hour that just
ended, at once), then last month's clickstream of the same world ingested;
and the navigation step (python -m batch.navigation), which keeps where each
listed article's readers come from in Redis for the site.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from core import flink_jobs  # noqa: E402
from core.config import LOCAL_CREDENTIALS_FILE, Settings, load_settings  # noqa: E402
from core.contracts import BOTS_DAG_ID, CLICKSTREAM_DUMPS_PREFIX, DAILY_DAG_ID, HOURLY_DAG_ID  # noqa: E402
from core.windows import MINUTE_MS  # noqa: E402
from stack_manager import airflow  # noqa: E402
from stack_manager.layout import Layout, StackError  # noqa: E402
from stack_manager.pids import ManagedProcess  # noqa: E402

JOB_NAME = "wikitrends-streaming"
EDITS_JOB_NAME = "wikitrends-edits"
# 2,000 page requests a second over the 6 M-article catalogue: a big wiki's traffic, which the job
# keeps up with on one 2-core machine with room to spare (docs/streaming.md, "Throughput").
LIVE_VIEWS_PER_MINUTE = 120_000
# The live world's history keeps its 100,000 most popular articles: the anomaly job compares articles of
# at least 20 views an hour (about the 22,000 most popular here), and an article past rank 100,000
# (under 5 an hour) all but never reaches 20.
HISTORY_TOP_RANKS = 100_000
HISTORY_DAYS = 7
# The injected spike and drop begin this long after the stream's first minute, inside the hour the
# first scheduled anomaly run computes.
INJECTED_AFTER = "30m"
# The injected trend: it begins this long after the stream's first minute and rises for TREND_HOURS,
# so that when the job has caught up with the clock (half an hour or so after make run) the trend has
# a whole hour of rising windows behind it and is on the trending page, and stays there for hours.
# (An article trends when its last half hour rises beyond its usual share: core/trending.py.)
TREND_AFTER_MINUTES = 20
TREND_HOURS = 3
TREND_TITLE = "Article_40000"
# Beside it, this many seeded trends an hour on other articles (sizes, starts and rises drawn by
# core.synthetic.drawn_trends); all of them are in the ground truth file from the start.
DRAWN_TRENDS_PER_HOUR = 4


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def processes(settings: Settings) -> dict[str, ManagedProcess]:
    """What run.py starts beside the stack, each known by its pid file and the name in its command line."""
    layout = Layout(settings.stack.home_path)
    return {
        name: ManagedProcess(layout.pid_file(name), layout.log(name), marker=name)
        for name in ("producer", "edits-synthetic", "web", "navigation", "airflow", "batch-setup")
    }


def batch_setup_done(settings: Settings) -> Path:
    """The file that says the batch set-up ran (it runs once per stack home)."""
    return Layout(settings.stack.home_path).run / "batch-setup.done"


def live_start_file(settings: Settings) -> Path:
    """Where the first minute of the live stream is recorded (ISO), for the batch set-up."""
    return Layout(settings.stack.home_path).run / "live-start"


def stop(process: ManagedProcess, what: str) -> None:
    """Stop one of run.py's processes and what it started (Airflow's children, a spark-submit)."""
    if pid := process.pid():
        say(f"stopping {what} (pid {pid})")
    process.stop(whole_session=True)


def start_streaming_job(settings: Settings, fresh: bool) -> bool | None:
    """Submit the job, resumed from the last one's savepoint or checkpoint unless ``fresh``.

    True if it resumed, False if it started empty, None if it could not be submitted.
    """
    record = None if fresh else flink_jobs.ResumeRecord.load(settings)
    restore = record.restore_point(settings) if record else None
    if restore:
        say(f"resuming the streaming job {JOB_NAME} from {restore}")
    else:
        say(f"submitting the streaming job {JOB_NAME} (flink run -d -py streaming/job.py)")
    try:
        job_id = flink_jobs.submit(
            dict(os.environ), "-py", "streaming/job.py", "--job-name", JOB_NAME, restore_from=restore
        )
    except flink_jobs.JobControlError as exc:
        say(f"the job could not be submitted: {exc}\nSee .stack/logs/flink/.")
        if restore:
            say(
                "If the saved state no longer fits this version of the job (docs/streaming.md, "
                "'Stopping, resuming, upgrading'), start it empty with: python3 deploy/local/run.py --fresh"
            )
        return None
    flink_jobs.ResumeRecord(job_id, started_from=restore).save(settings)
    say(f"the streaming job is {job_id}")
    return restore is not None


def up(settings: Settings, fresh: bool = False) -> int:
    if subprocess.run([sys.executable, str(HERE / "stack.py"), "start"]).returncode != 0:
        return 1
    python = str(Layout(settings.stack.home_path).venv_python)
    resumed = False
    if flink_jobs.jobs_named(settings, JOB_NAME):
        say(f"the streaming job {JOB_NAME} is already running")
    else:
        resumed = start_streaming_job(settings, fresh)
        if resumed is None:
            return 1
    background = processes(settings)
    producer = background["producer"]
    start = stream_start(settings, resumed) if not producer.pid() else None
    if start is None:
        say(f"the synthetic producer is already running (pid {producer.pid()})")
    else:
        start_producer(settings, producer, python, start)
    edits_start = start or datetime.now(UTC).replace(second=0, microsecond=0)
    if not start_edits(settings, background["edits-synthetic"], python, edits_start):
        return 1
    site = background["web"]
    if site.pid():
        say(f"the site is already running (pid {site.pid()})")
    else:
        say(f"site started (pid {site.start([python, '-m', 'web'], cwd=ROOT)}, log {site.log})")
    navigation = background["navigation"]
    if navigation.pid():
        say(f"the navigation step is already running (pid {navigation.pid()})")
    else:
        pid = navigation.start([python, "-m", "batch.navigation", "--follow"], cwd=ROOT)
        say(
            f"navigation step started (pid {pid}, log {navigation.log}): where the listed articles' readers "
            "come from, once the batch set-up has ingested a month of clickstream"
        )
    scheduler = background["airflow"]
    if scheduler.pid():
        say(f"Airflow is already running (pid {scheduler.pid()})")
    else:
        pid = scheduler.start([python, str(HERE / "run.py"), "airflow"], cwd=ROOT)
        say(f"Airflow started (pid {pid}, log {scheduler.log})")
    setup = background["batch-setup"]
    if not setup.pid() and not batch_setup_done(settings).exists():
        pid = setup.start([python, str(HERE / "run.py"), "batch-setup"], cwd=ROOT)
        say(
            f"batch set-up started in the background (pid {pid}, log {setup.log}): once the stream has "
            "caught up, a week of history and the averages (~5 minutes), then Airflow runs the hourly "
            "anomalies, the first at once"
        )
    layout = Layout(settings.stack.home_path)
    web = f"http://{settings.web.host}:{settings.web.port}"
    print(
        "\nThe system is up. Look at:\n"
        f"  the site: trending now               {web}/\n"
        f"            anomalies of the hour      {web}/anomalies\n"
        f"            JSON                       {web}/api/trending  {web}/api/anomalies\n"
        f"            edit alerts                {web}/alerts\n"
        f"            JSON                       {web}/api/alerts  {web}/api/entities\n"
        f"  what the world injects (trends)      {live_ground_truth(settings)}\n"
        f"  Flink web UI (the job, its metrics)  {settings.flink.rest_url}\n"
        f"  Airflow (the batch DAGs)             {airflow.ui_url(settings)}"
        f"  (user {airflow.ADMIN_USER}, password in {airflow.admin_password_file(layout)})\n"
        f"  MinIO console (hourly counts)        http://{settings.s3.host}:{settings.s3.console_port}"
        f"  (keys in {settings.stack.home_path / LOCAL_CREDENTIALS_FILE})\n"
        "Stop it all with: make down",
        flush=True,
    )
    return 0


def stream_start(settings: Settings, resumed: bool) -> datetime:
    """The first minute the producers send: the top of the previous hour on a first start (its events up
    to now go out at once, so the first trending hour is complete and every hourly file is a whole
    hour); now for a resumed job, which already has its hour (the time it was down stays empty)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now if resumed else now.replace(minute=0) - timedelta(hours=1)
    if not resumed:
        live_start_file(settings).write_text(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return start


def start_producer(settings: Settings, producer: ManagedProcess, python: str, start: datetime) -> None:
    """Start the synthetic producer in real time from ``start`` with its injected trend, spike and drop."""
    pid = producer.start(
        [
            *(python, "-m", "producer", "synthetic", "--duration", "30d"),
            *("--start", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
            *("--speedup", "1", "--views-per-minute", str(LIVE_VIEWS_PER_MINUTE)),
            *("--trend", f"+{TREND_AFTER_MINUTES}m,{TREND_HOURS}h,400,{TREND_TITLE}"),
            *("--spike", f"+{INJECTED_AFTER},3h,300", "--drop", f"+{INJECTED_AFTER},2h,0"),
            *(
                "--drawn-trends",
                str(DRAWN_TRENDS_PER_HOUR),
                "--ground-truth",
                str(live_ground_truth(settings)),
            ),
        ],
        cwd=ROOT,
    )
    say(
        f"synthetic producer started at {start:%H:%M} UTC (pid {pid}, log {producer.log}); what it injects: "
        f"{live_ground_truth(settings)}"
    )


def live_ground_truth(settings: Settings) -> Path:
    """Where the live producer writes what it injects (bench/trending_live.py scores the lists against it)."""
    return settings.stack.home_path / "runs" / "live-ground-truth.json"


def start_edits(settings: Settings, producer: ManagedProcess, python: str, start: datetime) -> bool:
    """Submit the edit job (unless it runs) and start the synthetic edit stream from ``start``.

    The job reads on from its consumer group's committed offsets; its alert rules' state starts empty.
    """
    if flink_jobs.jobs_named(settings, EDITS_JOB_NAME):
        say(f"the edit job {EDITS_JOB_NAME} is already running")
    else:
        say(f"submitting the edit job {EDITS_JOB_NAME} (flink run -d -py streaming/edits_job.py)")
        try:
            job_id = flink_jobs.submit(
                dict(os.environ), "-py", "streaming/edits_job.py", "--job-name", EDITS_JOB_NAME
            )
        except flink_jobs.JobControlError as exc:
            say(f"the edit job could not be submitted: {exc}\nSee .stack/logs/flink/.")
            return False
        say(f"the edit job is {job_id}")
    if producer.pid():
        say(f"the synthetic edit stream is already running (pid {producer.pid()})")
        return True
    pid = producer.start(
        [
            *(python, "-m", "producer", "edits-synthetic", "--duration", "30d", "--speedup", "1"),
            *("--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--trend-title", TREND_TITLE),
            *("--trend-start", f"+{TREND_AFTER_MINUTES}m", "--trend-duration", f"{TREND_HOURS}h"),
        ],
        cwd=ROOT,
    )
    say(f"synthetic edit stream started at {start:%H:%M} UTC (pid {pid}, log {producer.log})")
    return True


def wait_until_the_stream_is_current(settings: Settings, timeout_s: float = 1800) -> None:
    """Wait until the newest trending list is at most two minutes old, so Spark does not slow the catch-up."""
    from core.clients import redis_client
    from core.snapshots import Keys, decode_trending

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
    python = str(Layout(settings.stack.home_path).venv_python)
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
    layout = Layout(settings.stack.home_path)
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


def stop_streaming_job(settings: Settings, job_id: str) -> None:
    """Stop the job with a savepoint to resume from; if that fails, cancel it (it keeps a checkpoint)."""
    say(f"stopping the streaming job {job_id} with a savepoint (the next make run resumes from it) …")
    previous = flink_jobs.ResumeRecord.load(settings)
    try:
        savepoint = flink_jobs.stop_with_savepoint(settings, job_id)
    except flink_jobs.JobControlError as exc:
        say(f"{exc}; cancelling the job instead (the next make run resumes from its last checkpoint)")
        flink_jobs.cancel(settings, job_id)
        return
    say(f"savepoint written: {savepoint}")
    flink_jobs.ResumeRecord(job_id, started_from=savepoint).save(settings)
    if previous and previous.started_from and previous.started_from != savepoint:
        flink_jobs.discard_restore_point(settings, previous.started_from)  # superseded by the new savepoint


def down(settings: Settings) -> int:
    background = processes(settings)
    stop(background["batch-setup"], "the batch set-up")
    stop(background["airflow"], "Airflow (its scheduler, web UI and running tasks)")
    stop(background["navigation"], "the navigation step")
    stop(background["web"], "the site")
    stop(background["producer"], "the producer; it flushes what it accepted")
    stop(background["edits-synthetic"], "the synthetic edit stream")
    try:
        for job_id in flink_jobs.jobs_named(settings, JOB_NAME):
            stop_streaming_job(settings, job_id)
        for job_id in flink_jobs.jobs_named(settings, EDITS_JOB_NAME):
            say(f"cancelling the edit job {job_id} (it reads on from its committed offsets next time)")
            flink_jobs.cancel(settings, job_id)
    except OSError:
        pass  # the cluster is not running: nothing to stop
    return subprocess.run([sys.executable, str(HERE / "stack.py"), "stop"]).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", nargs="?", choices=["up", "stop", "batch-setup", "airflow"], default="up")
    parser.add_argument(
        "--fresh", action="store_true", help="up: start the streaming job empty, not from its saved state"
    )
    args = parser.parse_args()
    settings = load_settings()
    if args.action == "up":
        return up(settings, fresh=args.fresh)
    return {"stop": down, "batch-setup": batch_setup, "airflow": airflow.serve}[args.action](settings)


if __name__ == "__main__":
    sys.exit(main())
