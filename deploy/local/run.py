#!/usr/bin/env python3
"""Bring the whole system up on this machine, or take it down.

    python3 deploy/local/run.py          # install what is missing, start everything, print where to look
    python3 deploy/local/run.py stop     # stop the producer and the job, then the stack

Up means: the local stack (Redis, MinIO, Kafka, Flink), the streaming job
submitted to the cluster (once), and the synthetic producer in real time,
starting 70 simulated minutes in the past so the first trending hour is
complete at once, with a trend injected a few minutes from now.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from core.config import Settings, settings  # noqa: E402

JOB_NAME = "wikitrends-streaming"
# 100 page requests a second over the 6 M-article catalogue: what one 2-core machine's job keeps up
# with in real time (most articles are seen once, so each event makes about ten window rows).
DEMO_VIEWS_PER_MINUTE = 6000


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def running_job_ids(config: Settings) -> list[str]:
    with urllib.request.urlopen(f"{config.flink.rest_url}/jobs/overview", timeout=10) as response:
        jobs = json.load(response)["jobs"]
    return [
        job["jid"]
        for job in jobs
        if job["name"] == JOB_NAME and job["state"] in ("RUNNING", "CREATED", "RESTARTING")
    ]


def producer_pid_file(config: Settings) -> Path:
    return config.stack.home_path / "run" / "producer.pid"


def producer_pid(config: Settings) -> int | None:
    try:
        pid = int(producer_pid_file(config).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return pid if b"producer" in cmdline else None


def up(config: Settings) -> int:
    if subprocess.run([sys.executable, str(HERE / "stack.py"), "start"]).returncode != 0:
        return 1
    python = str(config.stack.home_path / "venv" / "bin" / "python")
    if running_job_ids(config):
        say(f"the streaming job {JOB_NAME} is already running")
    else:
        say("submitting the streaming job (flink run -d -py streaming/job.py)")
        command = [str(HERE / "flink"), "run", "-d", "-py", "streaming/job.py", "--job-name", JOB_NAME]
        submitted = subprocess.run(command, cwd=ROOT)
        if submitted.returncode != 0:
            say("the job could not be submitted; see the output above and .stack/logs/flink/")
            return 1
    if producer_pid(config):
        say(f"the synthetic producer is already running (pid {producer_pid(config)})")
    else:
        log = config.stack.home_path / "logs" / "producer.log"
        with log.open("a") as output:
            producer = subprocess.Popen(
                [python, "-m", "producer", "synthetic", "--start", "now-65m", "--duration", "30d",
                 "--speedup", "1", "--views-per-minute", str(DEMO_VIEWS_PER_MINUTE),
                 "--trend", "+70m,60m,400", "--spike", "+67m,3h,300", "--drop", "+67m,2h,0"],
                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        producer_pid_file(config).write_text(str(producer.pid))
        say(f"synthetic producer started (pid {producer.pid}, log {log})")
    print(
        "\nThe system is up. Look at:\n"
        f"  Flink web UI (the job, its metrics)  {config.flink.rest_url}\n"
        f"  MinIO console (hourly counts)        http://{config.s3.host}:{config.s3.console_port}"
        f"  (user {config.s3.access_key})\n"
        f"  trending list in Redis               redis-cli -p {config.redis.port} get "
        f"{config.redis.key_prefix}:trending:latest\n"
        "Stop it all with: make down",
        flush=True,
    )
    return 0


def down(config: Settings) -> int:
    pid = producer_pid(config)
    if pid:
        say(f"stopping the producer (pid {pid}); it flushes what it accepted")
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.1)
    producer_pid_file(config).unlink(missing_ok=True)
    try:
        for job_id in running_job_ids(config):
            say(f"cancelling the streaming job {job_id}")
            request = urllib.request.Request(
                f"{config.flink.rest_url}/jobs/{job_id}?mode=cancel", method="PATCH"
            )
            urllib.request.urlopen(request, timeout=10).close()
    except OSError:
        pass  # the cluster is not running: nothing to cancel
    return subprocess.run([sys.executable, str(HERE / "stack.py"), "stop"]).returncode


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", nargs="?", choices=["up", "stop"], default="up")
    args = parser.parse_args()
    config = settings()
    return up(config) if args.action == "up" else down(config)


if __name__ == "__main__":
    sys.exit(main())
