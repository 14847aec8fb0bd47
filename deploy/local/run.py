#!/usr/bin/env python3
"""Bring the whole system up on this machine, or take it down.

    python3 deploy/local/run.py          # install what is missing, start everything, print where to look
    python3 deploy/local/run.py --fresh  # the same, but the streaming job starts empty
    python3 deploy/local/run.py stop     # stop the producer, the job (with a savepoint), then the stack

Up means: the local stack (Redis, MinIO, Kafka, Flink), the streaming job
submitted to the cluster (once; resumed from the savepoint `stop` took, or
from the last checkpoint of a job that died), the synthetic producer in real
time at 2,000 page requests a second (the first time starting 65 simulated
minutes in the past so the first trending hour is complete at once), with a
trend injected a few minutes from now; the site
(python -m web); and, once, a batch demo in the background: a week of
synthetic history backfilled into the averages with Spark, then the anomaly
job on a synthetic day with a spike and a drop (its hourly counts under
demo/, apart from the live stream's), so /anomalies has something to show.
The live hours' anomalies come from cron or Airflow (deploy/cron, deploy/airflow).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from core import flink_jobs  # noqa: E402
from core.config import LOCAL_CREDENTIALS_FILE, Settings, load_settings  # noqa: E402
from core.windows import MINUTE_MS  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402
from stack_manager.pids import ManagedProcess  # noqa: E402

JOB_NAME = "wikitrends-streaming"
# 2,000 page requests a second over the 6 M-article catalogue: a big wiki's traffic, which the job
# keeps up with on one 2-core machine with room to spare (README, "Throughput").
LIVE_VIEWS_PER_MINUTE = 120_000
# The batch demo's synthetic history: a smaller world, so a week of it is written in minutes.
DEMO_VIEWS_PER_MINUTE = 6000


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def processes(settings: Settings) -> dict[str, ManagedProcess]:
    """What run.py starts beside the stack, each known by its pid file and the name in its command line."""
    layout = Layout(settings.stack.home_path)
    return {
        name: ManagedProcess(layout.pid_file(name), layout.log(name), marker=name)
        for name in ("producer", "web", "batch-demo")
    }


def batch_demo_done(settings: Settings) -> Path:
    """The file that says the batch demo ran (it runs once per stack home)."""
    return Layout(settings.stack.home_path).run / "batch-demo.done"


def stop(process: ManagedProcess, what: str) -> None:
    """Stop one of run.py's processes and what it started (a batch demo's spark-submit)."""
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
                "If the saved state no longer fits this version of the job (README, 'Stopping, resuming, "
                "upgrading'), start it empty with: python3 deploy/local/run.py --fresh"
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
    if producer.pid():
        say(f"the synthetic producer is already running (pid {producer.pid()})")
    else:
        # A first start writes the past hour at once so that the first trending hour is complete; a
        # resumed job already has its hour, and the time it was down stays empty, as it was.
        start = "now" if resumed else "now-65m"
        pid = producer.start(
            [
                *(python, "-m", "producer", "synthetic", "--start", start, "--duration", "30d"),
                *("--speedup", "1", "--views-per-minute", str(LIVE_VIEWS_PER_MINUTE)),
                *("--trend", "+70m,60m,400", "--spike", "+67m,3h,300", "--drop", "+67m,2h,0"),
            ],
            cwd=ROOT,
        )
        say(f"synthetic producer started (pid {pid}, log {producer.log})")
    site = background["web"]
    if site.pid():
        say(f"the site is already running (pid {site.pid()})")
    else:
        say(f"site started (pid {site.start([python, '-m', 'web'], cwd=ROOT)}, log {site.log})")
    demo = background["batch-demo"]
    done_file = batch_demo_done(settings)
    if not demo.pid() and not done_file.exists():
        pid = demo.start([python, str(HERE / "run.py"), "batch-demo"], cwd=ROOT)
        say(
            f"batch demo started in the background (pid {pid}, log {demo.log}): it waits until the "
            "stream has caught up, then anomalies in ~10 minutes"
        )
    print(
        "\nThe system is up. Look at:\n"
        f"  the site: trending now               http://{settings.web.host}:{settings.web.port}/\n"
        f"            anomalies (batch demo)     http://{settings.web.host}:{settings.web.port}/anomalies\n"
        f"            JSON                       http://{settings.web.host}:{settings.web.port}/api/trending\n"
        f"  Flink web UI (the job, its metrics)  {settings.flink.rest_url}\n"
        f"  MinIO console (hourly counts)        http://{settings.s3.host}:{settings.s3.console_port}"
        f"  (keys in {settings.stack.home_path / LOCAL_CREDENTIALS_FILE})\n"
        "Stop it all with: make down",
        flush=True,
    )
    return 0


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
    say("batch demo: the stream is still catching up; starting anyway")


def batch_demo(settings: Settings) -> int:
    """A week of synthetic history -> backfill -> anomalies of a synthetic day with a spike and a drop.

    It starts once the streaming job has caught up with the clock and runs at a lower CPU priority
    (nice 10): the live list comes first.
    """
    say("batch demo: waiting until the streaming job has caught up with the clock …")
    wait_until_the_stream_is_current(settings)
    os.nice(10)  # children (Spark, the history writer) inherit it
    python = str(Layout(settings.stack.home_path).venv_python)
    submit = str(HERE / "spark-submit")
    bucket = settings.s3.bucket
    today = time.strftime("%Y-%m-%d", time.gmtime())
    week_ago = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 7 * 86_400))
    demo_counts = {**os.environ, "WIKITRENDS_S3_HOURLY_COUNTS_PREFIX": "demo/hourly-counts"}
    world = ["--views-per-minute", str(DEMO_VIEWS_PER_MINUTE)]
    steps = [
        (
            "a week of synthetic history as dump files",
            [
                python,
                "-m",
                "producer",
                "history",
                *world,
                "--from",
                week_ago,
                "--days",
                "7",
                "--out",
                f"s3://{bucket}/demo/dumps",
            ],
            None,
        ),
        (
            "the backfill of the historical averages",
            [submit, "batch/backfill.py", "--input", f"s3a://{bucket}/demo/dumps/*.gz"],
            None,
        ),
        (
            "a synthetic today with a spike and a drop",
            [
                python,
                "-m",
                "producer",
                "history",
                *world,
                "--from",
                today,
                "--days",
                "1",
                "--format",
                "counts",
                "--spike",
                f"{today}T09:00:00Z,4h,40",
                "--drop",
                f"{today}T08:00:00Z,10h,0",
                "--out",
                f"s3://{bucket}/demo/hourly-counts",
            ],
            None,
        ),
        (
            "the anomaly job on that day, hours 00-17",
            [submit, "batch/anomalies.py", "--date", today, "--hour", "17"],
            demo_counts,
        ),
    ]
    for what, command, env in steps:
        say(f"batch demo: {what} …")
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            say(f"batch demo: {what} failed; see above")
            return 1
    (batch_demo_done(settings)).write_text(today)
    say("batch demo: done; the anomalies are on the site")
    return 0


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
    stop(background["batch-demo"], "the batch demo")
    stop(background["web"], "the site")
    stop(background["producer"], "the producer; it flushes what it accepted")
    try:
        for job_id in flink_jobs.jobs_named(settings, JOB_NAME):
            stop_streaming_job(settings, job_id)
    except OSError:
        pass  # the cluster is not running: nothing to stop
    return subprocess.run([sys.executable, str(HERE / "stack.py"), "stop"]).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", nargs="?", choices=["up", "stop", "batch-demo"], default="up")
    parser.add_argument(
        "--fresh", action="store_true", help="up: start the streaming job empty, not from its saved state"
    )
    args = parser.parse_args()
    settings = load_settings()
    if args.action == "up":
        return up(settings, fresh=args.fresh)
    return {"stop": down, "batch-demo": batch_demo}[args.action](settings)


if __name__ == "__main__":
    sys.exit(main())
