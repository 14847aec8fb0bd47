"""Where `make run` resumes the streaming job from: the restore-point rules of streaming/flink_jobs."""

from __future__ import annotations

import os
from pathlib import Path

from core.config import Settings, load_settings
from core.contracts import s3_location
from streaming import flink_jobs


def local_settings(tmp_path: Path) -> Settings:
    return load_settings({**os.environ, "WIKITRENDS_STACK_HOME": str(tmp_path / "stack")})


def checkpoint(settings: Settings, job_id: str, number: int, complete: bool = True) -> Path:
    folder = flink_jobs.local_path(settings.checkpoint_dir) / job_id / f"chk-{number}"
    folder.mkdir(parents=True)
    if complete:  # Flink writes _metadata last: a folder without it is a checkpoint in progress
        (folder / "_metadata").write_bytes(b"state")
    return folder


def savepoint(settings: Settings, name: str) -> Path:
    folder = flink_jobs.local_path(settings.savepoint_dir) / name
    folder.mkdir(parents=True)
    (folder / "_metadata").write_bytes(b"state")
    return folder


def test_the_checkpoint_and_savepoint_folders_are_in_the_stack_home(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    assert settings.checkpoint_dir == (tmp_path / "stack" / "data" / "flink-checkpoints").as_uri()
    assert settings.savepoint_dir == settings.checkpoint_dir + "-savepoints"
    assert flink_jobs.local_path(settings.checkpoint_dir) == tmp_path / "stack" / "data" / "flink-checkpoints"
    assert flink_jobs.local_path("s3://bucket/checkpoints") is None


def test_the_newest_complete_checkpoint_is_chosen_by_number(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    checkpoint(settings, "job-a", 9)
    newest = checkpoint(settings, "job-a", 12)
    checkpoint(settings, "job-a", 13, complete=False)
    checkpoint(settings, "job-b", 40)
    assert flink_jobs.newest_checkpoint(settings, "job-a") == str(newest)
    assert flink_jobs.newest_checkpoint(settings, "job-c") is None


def test_a_stopped_job_resumes_from_its_savepoint(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    saved = savepoint(settings, "savepoint-abc")
    flink_jobs.ResumeRecord("job-a", started_from=str(saved)).save(settings)
    assert flink_jobs.ResumeRecord.load(settings).restore_point(settings) == str(saved)


def test_a_job_that_died_resumes_from_its_own_checkpoint_before_what_it_started_from(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    saved = savepoint(settings, "savepoint-abc")
    record = flink_jobs.ResumeRecord("job-a", started_from=str(saved))
    assert record.restore_point(settings) == str(saved)  # died before its first checkpoint
    newest = checkpoint(settings, "job-a", 3)
    assert record.restore_point(settings) == str(newest)


def test_nothing_to_resume_from_starts_empty(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    assert flink_jobs.ResumeRecord.load(settings) is None
    gone = flink_jobs.ResumeRecord("job-a", started_from=str(tmp_path / "deleted-savepoint"))
    assert gone.restore_point(settings) is None


def test_discarding_a_restore_point_removes_a_savepoint_or_the_jobs_checkpoints(tmp_path: Path) -> None:
    settings = local_settings(tmp_path)
    saved = savepoint(settings, "savepoint-abc")
    retained = checkpoint(settings, "job-a", 7)
    kept = checkpoint(settings, "job-b", 2)
    flink_jobs.discard_restore_point(settings, str(saved))
    flink_jobs.discard_restore_point(settings, str(retained))
    assert not saved.exists() and not retained.parent.exists() and kept.exists()


def test_s3_locations_are_read_as_bucket_and_prefix_and_local_ones_are_not() -> None:
    assert s3_location("s3://wikitrends/flink/checkpoints/abc/chk-3/") == (
        "wikitrends",
        "flink/checkpoints/abc/chk-3",
    )
    assert s3_location("s3p://bucket/savepoint-1") == ("bucket", "savepoint-1")
    assert s3_location("file:///tmp/checkpoints") is None
    assert flink_jobs.local_path("s3://bucket/x") is None
