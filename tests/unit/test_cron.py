"""deploy/cron: the crontab's schedule, and the runner's locking and logs.

The runner is driven with a stand-in spark-submit that records its arguments:
what is under test is the runner's own logic (which job, which hour, the lock),
not Spark.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.config import REPO_ROOT

CRON = REPO_ROOT / "deploy" / "cron"


def run_job(tmp_path: Path, job: str) -> subprocess.CompletedProcess:
    recorder = tmp_path / "spark-submit"
    recorder.write_text('#!/usr/bin/env bash\necho "submitted: $*"\n')
    recorder.chmod(0o755)
    env = {
        **os.environ,
        "WIKITRENDS_SPARK_SUBMIT": str(recorder),
        "WIKITRENDS_LOG_DIR": str(tmp_path / "logs"),
        "WIKITRENDS_LOCK_DIR": str(tmp_path / "locks"),
    }
    return subprocess.run(
        [str(CRON / "run-job.sh"), job], env=env, capture_output=True, text=True, timeout=30
    )


def log_text(tmp_path: Path, job: str) -> str:
    return "".join(p.read_text() for p in (tmp_path / "logs").glob(f"{job}-*.log"))


def test_crontab_runs_anomalies_at_minute_5_and_the_fold_after_midnight() -> None:
    entries = [
        line.split()
        for line in (CRON / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    schedule = {entry[-1]: entry[:5] for entry in entries}
    assert schedule["anomalies"] == ["5", "*", "*", "*", "*"]
    minute, hour, *rest = schedule["update_averages"]
    assert hour == "0" and rest == ["*", "*", "*"]


def test_anomalies_run_for_the_hour_that_just_ended_and_are_logged(tmp_path: Path) -> None:
    done = run_job(tmp_path, "anomalies")
    assert done.returncode == 0, done.stderr
    ended = datetime.now(UTC) - timedelta(hours=1)
    log = log_text(tmp_path, "anomalies")
    assert f"submitted: batch/anomalies.py --date {ended:%Y-%m-%d} --hour {ended.hour}" in log
    assert "finished with exit code 0" in log


def test_the_fold_runs_for_yesterday(tmp_path: Path) -> None:
    assert run_job(tmp_path, "update_averages").returncode == 0
    yesterday = datetime.now(UTC) - timedelta(days=1)
    assert f"submitted: batch/update_averages.py --date {yesterday:%Y-%m-%d}" in log_text(
        tmp_path, "update_averages"
    )


def test_last_months_clickstream_is_ingested_on_the_8th(tmp_path: Path, monkeypatch) -> None:
    line = next(line for line in (CRON / "crontab").read_text().splitlines() if line.endswith("clickstream"))
    assert line.split()[:5] == ["0", "4", "8", "*", "*"]
    monkeypatch.setenv("WIKITRENDS_CLICKSTREAM_DUMPS", "s3a://b/dumps")
    assert run_job(tmp_path, "clickstream").returncode == 0
    first_of_month = datetime.now(UTC).replace(day=1)
    last_month = first_of_month - timedelta(days=1)
    assert (
        f"submitted: batch/clickstream.py --input s3a://b/dumps/clickstream-*-{last_month:%Y-%m}.tsv.gz"
        in log_text(tmp_path, "clickstream")
    )


def test_a_run_never_overlaps_the_previous_one(tmp_path: Path) -> None:
    (tmp_path / "locks").mkdir()
    with open(tmp_path / "locks" / "batch-anomalies.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # the previous run, still going
        done = run_job(tmp_path, "anomalies")
    assert done.returncode == 75
    log = log_text(tmp_path, "anomalies")
    assert "still holds" in log and "skipping this one" in log and "submitted" not in log
    # Another job has its own lock and runs.
    assert run_job(tmp_path, "update_averages").returncode == 0


def test_an_unknown_job_is_refused(tmp_path: Path) -> None:
    done = run_job(tmp_path, "reindex")
    assert done.returncode == 64 and "unknown job reindex" in done.stderr
