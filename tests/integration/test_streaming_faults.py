"""The streaming job through faults on the real stack: the stack restarted, the JobManager lost,
Redis and S3 down, the Kafka broker stopped. Each run is checked against the same oracle as the
undisturbed one (streaming_run.py): nothing lost, nothing counted twice.
"""

from __future__ import annotations

import bisect
import json
import time
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from core.config import Settings, load_settings
from core.contracts import Keys, hourly_counts_key
from core.snapshots import decode_trending
from core.windows import MINUTE_MS
from stores.clients import flink_rest, kafka_security, list_keys, new_topic
from streaming import flink_jobs
from tests.integration.helpers import kill_taskmanager, run_stack
from tests.integration.streaming_run import (
    START,
    Isolated,
    cancel_job,
    check_outputs,
    completed_checkpoints,
    produce_run,
    read_topic,
    source_watermark,
    submit_job,
    wait_for,
    wait_until_done,
)


def event_time(payload: bytes) -> int:
    """An input record's event time; malformed records count as the earliest."""
    try:
        return int(json.loads(payload)["ts"])
    except (ValueError, KeyError, TypeError):
        return 0


def produce_in_parts(isolated: Isolated, tmp_path: Path, splits: list[int]) -> tuple[dict, list[list]]:
    """The same run written to a staging topic and cut by event time at ``splits``, to be fed part by part."""
    staging = f"{isolated.settings.kafka.pageviews_topic}-staging"
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=isolated.settings.kafka.bootstrap)
    admin.create_topics([new_topic(isolated.settings.kafka, staging, 4)])
    try:
        truth = produce_run(isolated, tmp_path, topic=staging)
        parts: list[list] = [[] for _ in range(len(splits) + 1)]
        for record in read_topic(isolated.settings.kafka.bootstrap, staging):
            parts[bisect.bisect_right(splits, event_time(record.value))].append(record)
    finally:
        admin.delete_topics([staging])
        admin.close()
    return truth, parts


def feed(settings: Settings, records: list) -> None:
    """Copy staged records into the job's input, each to its partition, in event-time order.

    In time order, not partition after partition as they were read back: a running job would see
    the other partitions idle (the idle timeout) and let event time run ahead with one of them.
    """
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap, acks="all")
    for record in sorted(records, key=lambda record: event_time(record.value)):
        producer.send(
            settings.kafka.pageviews_topic, key=record.key, value=record.value, partition=record.partition
        )
    producer.close()


def published_through(redis_client, settings: Settings, minute: int):
    """A condition: the newest trending list in Redis is for ``minute`` or later."""
    keys = Keys(settings.redis)

    def check() -> bool:
        raw = redis_client.get(keys.trending_latest)
        return raw is not None and decode_trending(raw).minute >= minute

    return check


def fed_in_parts(isolated: Isolated, **overrides: str) -> Isolated:
    """The job's settings for a test that feeds its input in parts, pausing between them.

    No partition is declared idle during the pauses: PyFlink's Python operators can drop a watermark
    they hold when their input turns idle (docs/streaming.md, "When the input stops"), and after a
    silence longer than the idle timeout a burst of backlog (which live traffic never is) would let
    the first partition read run event time ahead of the others. ``overrides``: more WIKITRENDS_
    STREAMING_* settings, by key.
    """
    streaming = {"IDLE_TIMEOUT_SECONDS": "3600", **overrides}
    env = {**isolated.env, **{f"WIKITRENDS_STREAMING_{key}": value for key, value in streaming.items()}}
    return Isolated(env, load_settings(env))


@pytest.fixture
def fault_drill(isolated: Isolated) -> Isolated:
    """The job for tests that feed it while it runs, across outages: checkpoints every 10 s,
    abandoned after 30 s (the job fails on the first), so an outage can outlast the timeout."""
    return fed_in_parts(isolated, CHECKPOINT_INTERVAL_SECONDS="10", CHECKPOINT_TIMEOUT_SECONDS="30")


@pytest.mark.disturbs_stack
def test_the_stack_restarted_the_jobmanager_lost_and_the_taskmanager_killed_give_the_same_outputs(
    isolated: Isolated, tmp_path: Path, s3_client, redis_client
) -> None:
    """What `make down` / `make run` do, mid-stream: stop the job with a savepoint, restart every
    service, resume from the savepoint; then the JobManager stopped under a running job (the cluster
    lost), started again and the job resumed from the checkpoint it retained; then the TaskManager
    killed (SIGKILL, a crashed machine) and the job recovered by Flink from its newest checkpoint.
    The input arrives in three parts, so each fault has open windows, minutes and hours to carry
    over; the outputs must equal the oracle's: no window, minute or hour lost or doubled."""
    isolated = fed_in_parts(isolated)
    settings = isolated.settings
    truth, parts = produce_in_parts(isolated, tmp_path, [START + 40 * MINUTE_MS, START + 80 * MINUTE_MS])

    feed(settings, parts[0])
    job_id = submit_job(isolated)
    restore_points: list[str] = []
    try:
        wait_for(published_through(redis_client, settings, START + 25 * MINUTE_MS), "the lists up to 08:25")
        savepoint = flink_jobs.stop_with_savepoint(settings, job_id)
        restore_points.append(savepoint)
        assert flink_rest(settings, f"/jobs/{job_id}")["state"] == "FINISHED"
        run_stack("restart")
        feed(settings, parts[1])
        job_id = submit_job(isolated, restore_from=savepoint)

        wait_for(
            published_through(redis_client, settings, START + 65 * MINUTE_MS),
            "the lists up to 09:05, after the first hour",
        )
        wait_for(lambda: completed_checkpoints(settings, job_id) >= 1, "a checkpoint of the resumed job")
        run_stack("stop", "flink-jobmanager")
        run_stack("start")
        retained = flink_jobs.newest_checkpoint(settings, job_id)
        assert retained, "a job whose cluster went away keeps its newest checkpoint"
        restore_points.append(retained)
        feed(settings, parts[2])
        job_id = submit_job(isolated, restore_from=retained)

        wait_for(published_through(redis_client, settings, START + 90 * MINUTE_MS), "the lists up to 09:30")
        wait_for(lambda: completed_checkpoints(settings, job_id) >= 1, "a checkpoint of the resumed job")
        kill_taskmanager(settings)
        wait_until_done(isolated, s3_client, redis_client, job_id)
        check_outputs(isolated, s3_client, redis_client, truth)
    finally:
        cancel_job(settings, job_id)
        for location in restore_points:
            flink_jobs.discard_restore_point(settings, location)


def outlast_checkpoint_timeout(settings: Settings, job_id: str, what: str) -> None:
    """Keep a service down for longer than the checkpoint timeout, while checkpoints go on completing."""
    began, completed = time.monotonic(), completed_checkpoints(settings, job_id)
    timeout_s = settings.streaming.checkpoint_timeout_seconds
    wait_for(lambda: time.monotonic() - began > timeout_s + 15, f"{what} down for longer than {timeout_s} s")
    assert completed_checkpoints(settings, job_id) >= completed + 3, (
        f"checkpoints stalled while {what} was down"
    )
    assert flink_rest(settings, f"/jobs/{job_id}")["state"] == "RUNNING"
    assert flink_jobs.failures(settings, job_id) == []


@pytest.mark.disturbs_stack
def test_redis_s3_and_kafka_outages_lose_nothing(
    fault_drill: Isolated, tmp_path: Path, s3_client, redis_client
) -> None:
    """Redis stopped across several minutes' lists, then the S3 server stopped across the end of an
    hour, each for longer than the checkpoint timeout: the job keeps checkpointing and never fails (the
    publishers keep what they cannot write in state and retry), the other output stays current, and
    once each service is back everything is published. Then the Kafka broker gone for 30 s: the job
    fails over and recovers from its last checkpoint when the broker is back (the transactions it had
    open are aborted). The outputs equal the oracle's."""
    isolated = fault_drill
    settings = isolated.settings
    splits = [START + 40 * MINUTE_MS, START + 80 * MINUTE_MS, START + 128 * MINUTE_MS]
    truth, parts = produce_in_parts(isolated, tmp_path, splits)

    feed(settings, parts[0])
    job_id = submit_job(isolated)
    try:
        wait_for(published_through(redis_client, settings, START + 25 * MINUTE_MS), "the lists up to 08:25")
        run_stack("stop", "redis")
        feed(settings, parts[1])  # 08:40-09:20: twenty lists to hold, and the 08:00 hour to write
        wait_for(
            lambda: source_watermark(settings, job_id) >= START + 75 * MINUTE_MS, "the job to read 09:15"
        )
        outlast_checkpoint_timeout(settings, job_id, "Redis")
        assert s3_client.head_object(  # S3 went on being written
            Bucket=settings.s3.bucket, Key=hourly_counts_key(settings.s3, START)
        )
        run_stack("start")
        wait_for(published_through(redis_client, settings, START + 75 * MINUTE_MS), "the held lists")

        run_stack("stop", "minio")
        feed(settings, parts[2])  # 09:20-10:08: the 09:00 hour ends while S3 is down
        wait_for(
            lambda: source_watermark(settings, job_id) >= START + 125 * MINUTE_MS, "the job to read 10:05"
        )
        # Redis went on being written: the lists are current while the hour waits for S3.
        wait_for(published_through(redis_client, settings, START + 125 * MINUTE_MS), "the lists up to 10:05")
        outlast_checkpoint_timeout(settings, job_id, "the S3 server")
        run_stack("start")
        wait_for(lambda: hour_written(s3_client, settings, START + 60 * MINUTE_MS), "the held 09:00 hour")
        assert flink_jobs.failures(settings, job_id) == []

        run_stack("stop", "kafka")
        time.sleep(30)
        run_stack("start")
        feed(settings, parts[3])  # 10:08-10:15 and the ticks
        wait_until_done(isolated, s3_client, redis_client, job_id)
        check_outputs(isolated, s3_client, redis_client, truth)
    finally:
        run_stack("start")  # whatever happened, the next test finds every service up
        cancel_job(settings, job_id)


def hour_written(s3_client, settings: Settings, hour_start: int) -> bool:
    """Whether the hour's counts are on S3."""
    key = hourly_counts_key(settings.s3, hour_start)
    return key in list_keys(s3_client, settings.s3.bucket, key)
