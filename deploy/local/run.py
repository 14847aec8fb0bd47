#!/usr/bin/env python3
"""Bring the whole system up on this machine, or take it down.

    python3 deploy/local/run.py          # install what is missing, start everything, print where to look
    python3 deploy/local/run.py --fresh  # the same, but the streaming job starts empty
    python3 deploy/local/run.py --source wikipedia --wikis en,de   # real traffic (needs the internet)
    python3 deploy/local/run.py stop     # stop Airflow, the site, the producer, the job (with a savepoint),
                                         # then the stack

Up means (the live world's producers: deploy/local/live_world.py; the batch
set-up: deploy/local/batch_setup.py): the local stack (Redis, MinIO, Kafka, Flink), the streaming job
submitted to the cluster (once; resumed from the savepoint `stop` took, or
from the last checkpoint of a job that died), the synthetic producer in real
time at 2,000 page requests a second (the first time starting at the top of
the previous hour, so that the first trending hour is complete at once and
every hourly file is whole), with a spike and a drop injected half an hour
into the stream, a trend from twenty minutes in, rising for three hours, one
on a watched article from fifty minutes in (a TRAFFIC_SPIKE alert), and
four seeded trends an hour of other sizes and lengths (what is injected is
written to .stack/runs/live-ground-truth.json);
the edit job (streaming/edits/job.py) and the synthetic edit stream (watch-list
alerts every two hours, an edit surge on the trending article); the site (python -m web);
Airflow (scheduler and web UI, deploy/airflow's DAGs); and, once, the batch
set-up in the background: a week of the same synthetic world as hourly counts
and today's hours before the stream, the averages backfilled from that week
with Spark, then the batch DAGs unpaused, so that Airflow computes each live
hour's anomalies at minute 5 of the next (the first one, the hour that just
ended, at once), then last month's clickstream of the same world ingested;
and the navigation step (python -m batch.navigation), which keeps where each
listed article's readers come from in Redis for the site.

With ``--source wikipedia`` (deploy/local/real_world.py) the page requests are Wikimedia's hourly
pageview files and the edits Wikimedia's recentchange stream; the batch set-up backfills the averages
from a week of those files. The source is remembered: a later run keeps it unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from batch_setup import batch_setup, batch_setup_done, unpause_batch_dags  # noqa: E402
from core.config import LOCAL_CREDENTIALS_FILE, Settings, load_settings  # noqa: E402
from live_world import live_ground_truth, say, start_edit_stream, start_producer, stream_start  # noqa: E402
from real_world import (  # noqa: E402
    SOURCES,
    chosen_source,
    start_live_edits,
    start_wikipedia_producer,
    wikipedia_batch_setup,
)
from stack_manager import airflow  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402
from stack_manager.pids import ManagedProcess  # noqa: E402
from streaming import flink_jobs  # noqa: E402

JOB_NAME = "wikitrends-streaming"
EDITS_JOB_NAME = "wikitrends-edits"


def processes(settings: Settings) -> dict[str, ManagedProcess]:
    """What run.py starts beside the stack, each known by its pid file and the name in its command line."""
    layout = Layout.of(settings)
    return {
        name: ManagedProcess(layout.pid_file(name), layout.log(name), marker=name)
        for name in (
            "producer",
            "edits-synthetic",
            "edits-live",
            "web",
            "navigation",
            "airflow",
            "batch-setup",
        )
    }


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
        say(f"submitting the streaming job {JOB_NAME} (flink run -d -py streaming/pageviews/job.py)")
    try:
        job_id = flink_jobs.submit(
            dict(os.environ),
            "-py",
            "streaming/pageviews/job.py",
            "--job-name",
            JOB_NAME,
            restore_from=restore,
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


def up(settings: Settings, fresh: bool = False, source: str = "synthetic", wikis: str = "") -> int:
    if subprocess.run([sys.executable, str(HERE / "stack.py"), "start"]).returncode != 0:
        return 1
    python = str(Layout.of(settings).venv_python)
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
        say(f"the page-request producer is already running (pid {producer.pid()})")
        start = None
    elif source == "wikipedia":
        start_wikipedia_producer(settings, producer, python, wikis)
        start = None
    else:
        start = stream_start(settings, resumed)
        start_producer(settings, producer, python, start)
    edits_start = start or datetime.now(UTC).replace(second=0, microsecond=0)
    edits = background["edits-live" if source == "wikipedia" else "edits-synthetic"]
    if not start_edits(settings, edits, python, edits_start, live=source == "wikipedia"):
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
        pid = setup.start(
            [python, str(HERE / "run.py"), "batch-setup", "--source", source, "--wikis", wikis], cwd=ROOT
        )
        say(
            f"batch set-up started in the background (pid {pid}, log {setup.log}): "
            + (
                "the averages from a week of Wikimedia's hourly files (download and Spark), then Airflow "
                "runs the hourly anomalies"
                if source == "wikipedia"
                else "once the stream has caught up, a week of history and the averages (~5 minutes), then "
                "Airflow runs the hourly anomalies, the first at once"
            )
        )
    layout = Layout.of(settings)
    profile = f" PROFILE={settings.stack.profile}" if settings.stack.profile else ""
    web = f"http://{settings.web.host}:{settings.web.port}"
    origin = (
        f"  the Wikipedia source (hours sent)    {background['producer'].log}\n"
        if source == "wikipedia"
        else f"  what the world injects (trends)      {live_ground_truth(settings)}\n"
    )
    print(
        "\nThe system is up. Look at:\n"
        f"  the site: trending now               {web}/\n"
        f"            anomalies of the hour      {web}/anomalies\n"
        f"            JSON                       {web}/api/trending  {web}/api/anomalies\n"
        f"            an article (titles link)   {web}/articles/<project>/<title>\n"
        f"            watch-list alerts          {web}/alerts  (edits and traffic spikes)\n"
        f"            JSON                       {web}/api/alerts  {web}/api/entities\n"
        f"{origin}"
        f"  Flink web UI (the job, its metrics)  {settings.flink.rest_url}\n"
        f"  Airflow (the batch DAGs)             {airflow.ui_url(settings)}"
        f"  (user {airflow.ADMIN_USER}, password in {airflow.admin_password_file(layout)})\n"
        f"  MinIO console (hourly counts)        http://{settings.s3.host}:{settings.s3.console_port}"
        f"  (keys in {settings.stack.state_path / LOCAL_CREDENTIALS_FILE})\n"
        f"Stop it all with: make down{profile}",
        flush=True,
    )
    return 0


def start_edits(
    settings: Settings, producer: ManagedProcess, python: str, start: datetime, live: bool = False
) -> bool:
    """Submit the edit job (unless it runs) and start the edit stream: synthetic from ``start``, or
    Wikimedia's live one.

    The job reads on from its consumer group's committed offsets; its alert rules' state starts empty.
    """
    if flink_jobs.jobs_named(settings, EDITS_JOB_NAME):
        say(f"the edit job {EDITS_JOB_NAME} is already running")
    else:
        say(f"submitting the edit job {EDITS_JOB_NAME} (flink run -d -py streaming/edits/job.py)")
        try:
            job_id = flink_jobs.submit(
                dict(os.environ), "-py", "streaming/edits/job.py", "--job-name", EDITS_JOB_NAME
            )
        except flink_jobs.JobControlError as exc:
            say(f"the edit job could not be submitted: {exc}\nSee .stack/logs/flink/.")
            return False
        say(f"the edit job is {job_id}")
    if producer.pid():
        say(f"the edit stream is already running (pid {producer.pid()})")
    elif live:
        start_live_edits(producer, python)
    else:
        start_edit_stream(producer, python, start)
    return True


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
    stop(background["edits-live"], "the live edit stream")
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
    parser.add_argument(
        "--source",
        choices=SOURCES,
        help="up: the synthetic world (default; no network needed) or real Wikipedia traffic (the dumps "
        "site and EventStreams); remembered for the next run",
    )
    parser.add_argument("--wikis", help="with --source wikipedia: e.g. en,de (default: [wikipedia] projects)")
    args = parser.parse_args()
    settings = load_settings()
    wikis = args.wikis or ",".join(settings.wikipedia.projects)
    if args.action == "up":
        return up(settings, args.fresh, chosen_source(settings, args.source), wikis)
    if args.action == "batch-setup" and args.source == "wikipedia":
        return wikipedia_batch_setup(settings, wikis, unpause_batch_dags)
    return {"stop": down, "batch-setup": batch_setup, "airflow": airflow.serve}[args.action](settings)


if __name__ == "__main__":
    sys.exit(main())
