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
from core.contracts import s3_location
from stores.clients import delete_keys_under, flink_rest, list_keys, s3_client

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
        delete_tree(settings, f"{settings.checkpoint_dir.rstrip('/')}/{job_id}")


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
    """The newest complete checkpoint a job left (on the local disk or on S3), or None."""
    root = f"{settings.checkpoint_dir.rstrip('/')}/{job_id}"
    folder, on_s3 = local_path(root), s3_location(root)
    if folder is not None:
        complete = [str(meta.parent) for meta in folder.glob("chk-*/_metadata")]
    elif on_s3 is not None:
        bucket, prefix = on_s3
        scheme = urllib.parse.urlparse(root).scheme
        complete = [
            f"{scheme}://{bucket}/{key.removesuffix('/_metadata')}"
            for key in list_keys(s3_client(settings), bucket, prefix + "/")
            if key.endswith("/_metadata") and key.split("/")[-2].startswith("chk-")
        ]
    else:
        return None
    return max(complete, key=lambda chk: int(chk.rsplit("chk-", 1)[1]), default=None)


def has_metadata(settings: Settings, location: str) -> bool:
    """Whether a savepoint or checkpoint is still there (its _metadata file); True where we cannot look."""
    folder, on_s3 = local_path(location), s3_location(location)
    if folder is not None:
        return (folder / "_metadata").exists()
    if on_s3 is not None:
        bucket, prefix = on_s3
        return bool(list_keys(s3_client(settings), bucket, f"{prefix}/_metadata"))
    return True


def delete_tree(settings: Settings, location: str) -> None:
    """Delete a folder of checkpoints or a savepoint, on the local disk or on S3."""
    folder, on_s3 = local_path(location), s3_location(location)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    elif on_s3 is not None:
        bucket, prefix = on_s3
        delete_keys_under(s3_client(settings), bucket, prefix + "/")


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
        if self.started_from and has_metadata(settings, self.started_from):
            return self.started_from
        return None


def discard_restore_point(settings: Settings, location: str) -> None:
    """Delete a savepoint, or the whole checkpoint folder of the job a checkpoint belongs to."""
    folder, checkpoints = local_path(location), local_path(settings.checkpoint_dir)
    if folder is not None:  # paths compared, as a location may be a path or a file: URI
        in_checkpoints = checkpoints is not None and folder.parent.parent == checkpoints
        job_folder = str(folder.parent)
    else:
        job_folder = location.rstrip("/").rsplit("/", 1)[0]
        in_checkpoints = job_folder.rsplit("/", 1)[0] == settings.checkpoint_dir.rstrip("/")
    delete_tree(settings, job_folder if in_checkpoints else location)  # <checkpoints>/<job id>/chk-N
