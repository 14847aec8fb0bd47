"""The cluster layout as started by the project: what a user would check before trusting it with data."""

from __future__ import annotations

import json
import urllib.request

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from core.config import Settings
from core.contracts import pipeline_topics
from stores.clients import flink_rest, kafka_security
from tests.integration.helpers import listeners_beyond_loopback


def test_kafka_has_three_brokers_and_every_topic_three_replicas_two_in_sync_required(
    settings: Settings, kafka_bootstrap: str
) -> None:
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    try:
        assert len(admin.describe_cluster()["brokers"]) == 3
        topics = pipeline_topics(settings.kafka)
        for description in admin.describe_topics(topics):
            for partition in description["partitions"]:
                assert len(partition["replica_nodes"]) == 3, description["topic"]
                assert len(partition["isr_nodes"]) == 3, description["topic"]
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic) for topic in topics])
        for topic in topics:
            assert answer["topic"][topic]["min.insync.replicas"]["value"] == "2", topic
    finally:
        admin.close()


def test_flink_runs_two_taskmanagers_with_high_availability_and_state_on_s3(
    settings: Settings, flink_overview: dict
) -> None:
    managers = flink_rest(settings, "/taskmanagers")["taskmanagers"]
    assert len(managers) == settings.flink.taskmanagers == 2
    assert len({manager["path"] for manager in managers}) == 2  # two processes
    assert all(manager["slotsNumber"] == 2 for manager in managers)
    configuration = {entry["key"]: entry["value"] for entry in flink_rest(settings, "/jobmanager/config")}
    assert configuration["high-availability.type"] == "zookeeper"
    assert configuration["high-availability.storageDir"].startswith("s3://")
    assert configuration["state.checkpoints.dir"].startswith("s3://")
    assert configuration["state.savepoints.dir"].startswith("s3://")


def test_spark_has_a_standalone_master_with_a_live_worker(settings: Settings) -> None:
    host, _ = settings.spark.master_address
    url = f"http://{host}:{settings.spark.master_webui_port}/json/"
    with urllib.request.urlopen(url, timeout=5) as answer:
        master = json.load(answer)
    assert master["status"] == "ALIVE"
    assert master["aliveworkers"] == settings.spark.workers
    assert master["cores"] == settings.spark.workers * settings.spark.worker_cores


def test_every_process_of_the_layout_listens_on_loopback_only(settings: Settings) -> None:
    assert listeners_beyond_loopback(settings) == []
