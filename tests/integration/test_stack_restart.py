"""Stopping and starting the stack keeps what Kafka and S3 hold.

Marked ``restarts_stack``: the conftest runs it after every other test, since
it takes the shared services down for a while.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from kafka import KafkaProducer

from core.config import REPO_ROOT, Settings
from tests.integration.helpers import consume_all

STACK = REPO_ROOT / "deploy" / "local" / "stack.py"


@pytest.mark.restarts_stack
def test_kafka_and_s3_data_survive_a_restart(
    kafka_bootstrap: str, s3_client, redis_client, settings: Settings, new_topic
) -> None:
    topic = new_topic("restart")
    sent = [f"before restart {i}".encode() for i in range(100)]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for value in sent:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()
    key = f"tests/restart-{uuid.uuid4().hex[:8]}.txt"
    s3_client.put_object(Bucket=settings.s3.bucket, Key=key, Body=b"kept across restarts")
    redis_key = f"{settings.redis.key_prefix}:test:restart:{uuid.uuid4().hex[:8]}"
    redis_client.set(redis_key, "kept", ex=600)

    restarted = subprocess.run(
        [sys.executable, str(STACK), "restart"], capture_output=True, text=True, timeout=600
    )
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    status = subprocess.run(
        [sys.executable, str(STACK), "status"], capture_output=True, text=True, timeout=60
    )
    assert status.returncode == 0, status.stdout

    assert sorted(r.value for r in consume_all(kafka_bootstrap, topic, expected=len(sent))) == sorted(sent)
    assert s3_client.get_object(Bucket=settings.s3.bucket, Key=key)["Body"].read() == b"kept across restarts"
    assert redis_client.get(redis_key) == b"kept"
