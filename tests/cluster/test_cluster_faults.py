"""The streaming job on the cluster layout through the losses a cluster has, and rescaled.

One run, fed in four parts, each part meeting one event while the job works: a Kafka broker killed
(three brokers, two replicas must acknowledge: the job should ride through), a TaskManager killed
(the job restarts on the other's slots from its newest checkpoint on S3), a stop with a savepoint
on S3 and a resume at twice the parallelism across both TaskManagers, and the JobManager killed and
started again (it takes the job over from ZooKeeper and S3, with no resubmission). The outputs must
equal the oracle's: every window, every minute's list and every hour, none lost or doubled.
What each event did (restarts, seconds to recover) is written to the profile's runs folder
(cluster-faults.json) and logged.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.contracts import s3_location
from core.windows import MINUTE_MS
from stores.clients import flink_rest, list_keys
from streaming import flink_jobs
from tests.integration.helpers import kill_service, run_stack
from tests.integration.streaming_run import (
    START,
    Isolated,
    cancel_job,
    check_outputs,
    completed_checkpoints,
    submit_job,
    wait_for,
    wait_until_done,
)
from tests.integration.test_streaming_faults import fed_in_parts, feed, produce_in_parts, published_through

log = logging.getLogger(__name__)
RESCALED_PARALLELISM = 4


def s3_keys(s3_client, uri: str) -> list[str]:
    """The keys under an s3:// folder."""
    bucket, prefix = s3_location(uri)
    return list_keys(s3_client, bucket, prefix + "/")


def job_state(settings: Settings, job_id: str) -> dict:
    try:
        return flink_rest(settings, f"/jobs/{job_id}")
    except OSError:  # the JobManager is away or electing its leader
        return {}


def all_tasks_running(settings: Settings, job_id: str) -> bool:
    job = job_state(settings, job_id)
    return job.get("state") == "RUNNING" and all(v["status"] == "RUNNING" for v in job.get("vertices", []))


def failovers(settings: Settings, job_id: str) -> int:
    """How many failures the job has restarted tasks for (Flink's exception history: with region
    failover, one entry per failed region)."""
    return len(flink_jobs.failures(settings, job_id))


def checkpoints_done(settings: Settings, job_id: str) -> int:
    """Completed checkpoints the JobManager counts for the job (-1 while it cannot say)."""
    try:
        return completed_checkpoints(settings, job_id)
    except OSError:
        return -1


def recovered(settings: Settings, job_id: str, since: float) -> float:
    """Wait until every task of the job runs again and a checkpoint completes; seconds since ``since``."""
    wait_for(lambda: all_tasks_running(settings, job_id), "every task running again", timeout_s=600)
    done = checkpoints_done(settings, job_id)
    wait_for(lambda: checkpoints_done(settings, job_id) > done, "a checkpoint after it", timeout_s=600)
    return round(time.monotonic() - since, 1)


def vertex_parallelism(settings: Settings, job_id: str) -> dict[str, int]:
    return {vertex["name"][:60]: vertex["parallelism"] for vertex in job_state(settings, job_id)["vertices"]}


@pytest.mark.disturbs_stack
def test_a_broker_a_taskmanager_and_the_jobmanager_lost_and_a_rescale_give_the_oracles_outputs(
    isolated: Isolated, tmp_path: Path, s3_client, redis_client
) -> None:
    isolated = fed_in_parts(isolated)
    settings = isolated.settings
    truth, parts = produce_in_parts(
        isolated, tmp_path, [START + 35 * MINUTE_MS, START + 65 * MINUTE_MS, START + 95 * MINUTE_MS]
    )
    outcome: dict[str, dict] = {}
    restore_points: list[str] = []
    feed(settings, parts[0])
    job_id = submit_job(isolated)
    try:
        wait_for(published_through(redis_client, settings, START + 20 * MINUTE_MS), "the lists up to 08:20")
        wait_for(lambda: completed_checkpoints(settings, job_id) >= 1, "a first checkpoint")
        assert s3_keys(s3_client, f"{settings.checkpoint_dir}/{job_id}"), "no checkpoint of the job on S3"
        assert s3_keys(s3_client, settings.flink.high_availability_dir), "no job graph in the HA folder on S3"

        # 1. A broker lost while the next part arrives (written with acks=all: two replicas suffice).
        began, before = time.monotonic(), failovers(settings, job_id)
        kill_service(settings, "kafka-2")
        feed(settings, parts[1])
        wait_for(published_through(redis_client, settings, START + 50 * MINUTE_MS), "the lists up to 08:50")
        outcome["kafka broker killed"] = {
            "failovers": failovers(settings, job_id) - before,
            "seconds to the next checkpoint": recovered(settings, job_id, began),
        }
        run_stack("start")

        # 2. A TaskManager lost: the job goes on with the other's two slots, from its newest checkpoint.
        began, before = time.monotonic(), failovers(settings, job_id)
        kill_service(settings, "flink-taskmanager-1")
        wait_for(lambda: failovers(settings, job_id) > before, "the job failing over", timeout_s=300)
        seconds = recovered(settings, job_id, began)
        outcome["taskmanager killed"] = {
            "failovers": failovers(settings, job_id) - before,
            "seconds to running and checkpointing": seconds,
        }
        run_stack("start")

        # 3. Rescaled: stopped with a savepoint on S3 at parallelism 2, resumed at 4 across both.
        began = time.monotonic()
        savepoint = flink_jobs.stop_with_savepoint(settings, job_id)
        restore_points.append(savepoint)
        assert savepoint.startswith("s3://"), savepoint
        rescaled_env = {**isolated.env, "WIKITRENDS_FLINK_PARALLELISM": str(RESCALED_PARALLELISM)}
        rescaled = Isolated(rescaled_env, load_settings(rescaled_env))
        job_id = submit_job(rescaled, restore_from=savepoint)
        seconds = recovered(settings, job_id, began)
        parallelism = vertex_parallelism(settings, job_id)
        assert max(parallelism.values()) == RESCALED_PARALLELISM, parallelism
        outcome["rescaled 2 -> 4 through a savepoint"] = {"seconds stop to checkpointing": seconds}
        feed(settings, parts[2])
        wait_for(published_through(redis_client, settings, START + 80 * MINUTE_MS), "the lists up to 09:20")

        # 4. The JobManager lost and started again: it takes the job over from ZooKeeper and S3.
        wait_for(lambda: completed_checkpoints(settings, job_id) >= 1, "a checkpoint of the rescaled job")
        began = time.monotonic()
        kill_service(settings, "flink-jobmanager")
        run_stack("start")
        seconds = recovered(settings, job_id, began)
        outcome["jobmanager killed and started again"] = {
            "same job id resumed": job_state(settings, job_id).get("jid") == job_id,
            "seconds to running and checkpointing": seconds,
        }
        feed(settings, parts[3])

        wait_until_done(isolated, s3_client, redis_client, job_id)
        check_outputs(isolated, s3_client, redis_client, truth)
        # What `make run` would resume from after this job's loss: its newest checkpoint, on S3.
        newest = flink_jobs.newest_checkpoint(settings, job_id)
        assert newest and newest.startswith("s3://") and flink_jobs.has_metadata(settings, newest)
    finally:
        record = settings.stack.state_path / "runs" / "cluster-faults.json"
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(json.dumps(outcome, indent=2))
        log.info("what each event did: %s", json.dumps(outcome))
        cancel_job(settings, job_id)  # and its checkpoints on S3
        for location in restore_points:
            flink_jobs.discard_restore_point(settings, location)
            assert not flink_jobs.has_metadata(settings, location)
