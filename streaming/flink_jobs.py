"""Operating the streaming job on a Flink cluster: submit, stop with a savepoint, cancel, resume.

Used by `make run` / `make down` (deploy/local/run.py), the benchmarks and the
integration tests, so that all of them start and stop the job the same way.

Resuming: `make down` stops the job with a savepoint (Flink's stop: sources
stop, every operator snapshots, the Kafka transactions commit) and records
where it went; `make run` starts the job from that savepoint. A job that
died or was cancelled leaves its newest checkpoint (the job retains it on
cancellation), and `make run` resumes from that instead. The record is one
small JSON file in the local stack's run folder (RESUME_FILE).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

from core.config import REPO_ROOT, ConfigError, Settings, load_settings
from stores.clients import flink_rest

FLINK_CLI = REPO_ROOT / "deploy" / "local" / "flink"
RESUME_FILE = "streaming-job.json"
ACTIVE_STATES = ("CREATED", "RUNNING", "RESTARTING", "INITIALIZING")


def job_settings() -> Settings:
    """The settings a job is built with, once its jars are in place; exits 2 saying what to do if not."""
    settings = load_settings()
    try:
        settings.stack.required_jars("flink")
    except ConfigError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None
    return settings


class JobControlError(RuntimeError):
    """The cluster refused or failed an operation on a job; the message says what and why."""


def submit(env: dict[str, str], *args: str, restore_from: str | None = None) -> str:
    """`flink run -d [-s restore_from] args…` with the given environment; the new job's id."""
    restore = ["-s", restore_from] if restore_from else []
    done = subprocess.run(
        [str(FLINK_CLI), "run", "-d", *restore, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise JobControlError(f"flink run failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout.split("JobID")[-1].split()[0]


def jobs_named(settings: Settings, name: str) -> list[str]:
    """Ids of the cluster's active jobs with this name."""
    return [
        job["jid"]
        for job in flink_rest(settings, "/jobs/overview")["jobs"]
        if job["name"] == name and job["state"] in ACTIVE_STATES
    ]


def failures(settings: Settings, job_id: str) -> list[str]:
    """The exceptions that made the job fail over (restart its tasks) since it was submitted."""
    history = flink_rest(settings, f"/jobs/{job_id}/exceptions")["exceptionHistory"]["entries"]
    return [entry["exceptionName"] for entry in history]


def cancel(settings: Settings, job_id: str, discard_checkpoints: bool = False) -> None:
    """Cancel a job; ``discard_checkpoints`` also deletes the checkpoint it retains (tests, benchmarks)."""
    flink_rest(settings, f"/jobs/{job_id}?mode=cancel", method="PATCH")
    if discard_checkpoints:
        for _ in range(120):  # the retained checkpoint is final once the job is CANCELED
            if flink_rest(settings, f"/jobs/{job_id}")["state"] not in ACTIVE_STATES + ("CANCELLING",):
                break
            time.sleep(1)
        folder = local_path(settings.checkpoint_dir)
        if folder is not None:
            shutil.rmtree(folder / job_id, ignore_errors=True)


def stop_with_savepoint(settings: Settings, job_id: str, timeout_s: float = 600) -> str:
    """Stop a job with a savepoint (sources stop, state is saved, sinks commit); the savepoint's location."""
    trigger = flink_rest(
        settings, f"/jobs/{job_id}/stop", method="POST", body={"targetDirectory": settings.savepoint_dir}
    )["request-id"]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = flink_rest(settings, f"/jobs/{job_id}/savepoints/{trigger}")
        if answer["status"]["id"] == "COMPLETED":
            operation = answer.get("operation", {})
            if "location" in operation:
                return operation["location"]
            cause = operation.get("failure-cause", {}).get("stack-trace", "no reason given")
            raise JobControlError(f"the savepoint of job {job_id} failed: {cause.splitlines()[0]}")
        time.sleep(1)
    raise JobControlError(f"the savepoint of job {job_id} did not complete within {timeout_s:.0f} s")


def local_path(uri: str) -> Path | None:
    """The local folder of a file: URI (checkpoints on the local stack); None for s3: and others."""
    parsed = urllib.parse.urlparse(uri)
    return Path(urllib.parse.unquote(parsed.path)) if parsed.scheme in ("file", "") else None


def newest_checkpoint(settings: Settings, job_id: str) -> str | None:
    """The newest complete checkpoint a job left in the local checkpoint folder, or None."""
    folder = local_path(settings.checkpoint_dir)
    if folder is None:
        return None
    complete = [meta.parent for meta in (folder / job_id).glob("chk-*/_metadata")]
    newest = max(complete, key=lambda chk: int(chk.name.removeprefix("chk-")), default=None)
    return str(newest) if newest else None


@dataclass
class ResumeRecord:
    """What `make run` resumes from: the last job's id and the savepoint or checkpoint it started from.

    After `make down` the job id is the stopped job's and ``started_from`` its savepoint.
    """

    job_id: str
    started_from: str | None = None

    @staticmethod
    def path(settings: Settings) -> Path:
        return settings.stack.run_path / RESUME_FILE

    @classmethod
    def load(cls, settings: Settings) -> ResumeRecord | None:
        try:
            return cls(**json.loads(cls.path(settings).read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def save(self, settings: Settings) -> None:
        self.path(settings).parent.mkdir(parents=True, exist_ok=True)
        self.path(settings).write_text(json.dumps(asdict(self)))

    def restore_point(self, settings: Settings) -> str | None:
        """The job's newest retained checkpoint, else what it started from if still there, else None."""
        newest = newest_checkpoint(settings, self.job_id)
        if newest:
            return newest
        if self.started_from:
            folder = local_path(self.started_from)
            if folder is None or (folder / "_metadata").exists():
                return self.started_from
        return None


def discard_restore_point(settings: Settings, location: str) -> None:
    """Delete a savepoint, or the whole checkpoint folder of the job a checkpoint belongs to (local only)."""
    folder = local_path(location)
    checkpoints = local_path(settings.checkpoint_dir)
    if folder is None or not folder.exists():
        return
    if checkpoints is not None and folder.parent.parent == checkpoints:  # <checkpoints>/<job id>/chk-N
        shutil.rmtree(folder.parent, ignore_errors=True)
    else:
        shutil.rmtree(folder, ignore_errors=True)
