"""Small helpers shared by the integration tests."""

from __future__ import annotations

import subprocess
import sys
import time

from kafka import KafkaConsumer, KafkaProducer

from core.config import REPO_ROOT

STACK = REPO_ROOT / "deploy" / "local" / "stack.py"


def run_stack(*args: str) -> None:
    """deploy/local/stack.py with ``args`` (start, status, stop <service>, restart), which must succeed."""
    done = subprocess.run([sys.executable, str(STACK), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stack.py {' '.join(args)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60, idle_s: float = 0) -> list:
    """Read a topic from the start until ``expected`` records arrived or the time is up.

    With ``idle_s``, keep reading until nothing new came for that long, to catch extras.
    """
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        max_poll_records=10_000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    records: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
        if idle_s:
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < idle_s:
                batch = list(consumer)
                if batch:
                    records.extend(batch)
                    quiet_since = time.monotonic()
    finally:
        consumer.close()
    return records


def produce_values(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes] | None = None) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for index, value in enumerate(values):
        producer.send(topic, key=keys[index] if keys else None, value=value)
    producer.flush()
    producer.close()
