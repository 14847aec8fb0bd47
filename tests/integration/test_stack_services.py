"""Each real part of the stack is proven alive by doing real work with it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer

from core.config import REPO_ROOT, Settings
from core.contracts import pipeline_topics
from stores.clients import kafka_security
from tests.integration.helpers import consume_all

FLINK_CLI = REPO_ROOT / "deploy" / "local" / "flink"
UPPERCASE_JOB = Path(__file__).parent / "jobs" / "uppercase_copy.py"


def test_pipeline_topics_are_provisioned(kafka_bootstrap: str, settings: Settings) -> None:
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    try:
        existing = set(admin.list_topics())
    finally:
        admin.close()
    assert set(pipeline_topics(settings.kafka)) <= existing


def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic("roundtrip")
    sent = [
        (f"Article_{i}".encode(), json.dumps({"ts": 1_700_000_000_000 + i, "title": f"Article_{i}"}).encode())
        for i in range(200)
    ]
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=kafka_bootstrap, acks="all")
    for key, value in sent:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()

    received = consume_all(kafka_bootstrap, topic, expected=len(sent))

    assert sorted((r.key, r.value) for r in received) == sorted(sent)
    # Keys decide partitions: every record of one key is in one partition.
    partitions_by_key: dict[bytes, set[int]] = {}
    for record in received:
        partitions_by_key.setdefault(record.key, set()).add(record.partition)
    assert all(len(parts) == 1 for parts in partitions_by_key.values())


def test_flink_run_py_moves_records_between_kafka_topics(
    kafka_bootstrap: str, flink_overview: dict, settings: Settings, new_topic
) -> None:
    source, sink = new_topic("flink-in"), new_topic("flink-out")
    payloads = [f"page request {i} für Zürich" for i in range(50)]
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=kafka_bootstrap, acks="all")
    for payload in payloads:
        producer.send(source, value=payload.encode())
    producer.flush()
    producer.close()

    submitted = subprocess.run(
        [str(FLINK_CLI), "run", "-py", str(UPPERCASE_JOB), "--source", source, "--sink", sink],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert submitted.returncode == 0, f"flink run failed:\n{submitted.stdout}\n{submitted.stderr}"

    received = consume_all(kafka_bootstrap, sink, expected=len(payloads))
    assert sorted(r.value.decode() for r in received) == sorted(p.upper() for p in payloads)

    with urllib.request.urlopen(f"{settings.flink.rest_url}/jobs/overview", timeout=5) as response:
        jobs = json.load(response)["jobs"]
    ours = [job for job in jobs if job["name"] == f"uppercase-copy {source} -> {sink}"]
    assert [job["state"] for job in ours] == ["FINISHED"]


def test_spark_writes_and_reads_parquet_on_s3a(settings: Settings, s3_client) -> None:
    prefix = f"tests/spark-roundtrip-{uuid.uuid4().hex[:8]}"
    script = f"""
import json
import os
from batch.spark import spark_session
spark = spark_session("foundation-test")
rows = [("Albert_Einstein", 3, 120), ("Zürich", 14, 7), ("東京", 23, 42)]
frame = spark.createDataFrame(rows, "title string, hour int, views long")
frame.write.mode("overwrite").parquet("s3a://{settings.s3.bucket}/{prefix}")
back = spark.read.parquet("s3a://{settings.s3.bucket}/{prefix}")
print(json.dumps(sorted(map(list, back.collect()))))
spark.stop()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO_ROOT
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    assert rows == [["Albert_Einstein", 3, 120], ["Zürich", 14, 7], ["東京", 23, 42]]

    listed = s3_client.list_objects_v2(Bucket=settings.s3.bucket, Prefix=prefix + "/")
    names = [obj["Key"].rsplit("/", 1)[-1] for obj in listed.get("Contents", [])]
    assert "_SUCCESS" in names
    assert any(name.endswith(".parquet") for name in names)


def test_redis_set_get(redis_client) -> None:
    key = f"wikitrends:test:{uuid.uuid4().hex}"
    redis_client.set(key, "Ελληνικά", ex=60)
    assert redis_client.get(key).decode() == "Ελληνικά"
    redis_client.delete(key)
    assert redis_client.get(key) is None


def test_a_taken_port_is_named_with_what_to_do() -> None:
    """Starting Redis on a port another program holds fails at once, saying which port and how to move it."""
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        started = subprocess.run(
            [sys.executable, str(REPO_ROOT / "deploy" / "local" / "stack.py"), "start"],
            env={**os.environ, "WIKITRENDS_REDIS_PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert started.returncode == 1
    assert f"port {port} on 127.0.0.1, which Redis needs, is taken" in started.stdout
    assert "WIKITRENDS_REDIS_PORT=<free port>" in started.stdout
