"""Producer throughput against the real broker, with a bare kafka-python send loop as the baseline.

    python bench/producer_throughput.py [--events 300000] [--processes 1,2,3]

Baseline: pre-built (key, value) messages of the same synthetic run sent in a
plain loop by one kafka-python producer with the same settings and the
default partitioner. Ours: the synthetic source end to end (generation,
encoding, sending, delivery) with 1 and more processes. Each figure is
events per second until every message is acknowledged (acks=all).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kafka import KafkaAdminClient, KafkaProducer  # noqa: E402

from core.config import load_settings  # noqa: E402
from producer.sink import StopFlag  # noqa: E402
from producer.synthetic import Pace, SyntheticRun, _TitleBytes, encode_chunk, produce  # noqa: E402
from producer.world import (  # noqa: E402
    Catalogue,
    background_views,
    minute_events_with_access,  # noqa: E402
    parse_time_ms,
)
from stores.clients import (
    kafka_security,  # noqa: E402
    new_topic,  # noqa: E402
)

START = parse_time_ms("2026-03-02T12:00:00Z")


def make_run(events: int, catalogue: Catalogue) -> SyntheticRun:
    views_per_minute = 60_000
    minutes = max(1, round(events / background_views(views_per_minute, START)))
    return SyntheticRun(catalogue, seed=5, start_ms=START, minutes=minutes, views_per_minute=views_per_minute)


def bare_send_loop(bootstrap: str, topic: str, run: SyntheticRun) -> tuple[int, float]:
    """The ceiling: kafka-python sending messages that already exist."""
    title_bytes = _TitleBytes(run.catalogue)
    keys: list[bytes] = []
    values: list[bytes] = []
    for minute in run.minute_starts():
        ranks, timestamps, access = minute_events_with_access(
            run.catalogue, minute, run.views_per_minute, run.seed
        )
        chunk_keys, chunk_values = encode_chunk(
            ranks, timestamps, access, run.catalogue.project.encode(), title_bytes
        )
        keys += chunk_keys
        values += chunk_values
    producer = KafkaProducer(
        **kafka_security(), bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=512 * 1024
    )
    began = time.perf_counter()
    for key, value in zip(keys, values, strict=True):
        producer.send(topic, key=key, value=value)
    producer.flush()
    elapsed = time.perf_counter() - began
    producer.close()
    return len(keys), elapsed


def ours(bootstrap: str, topic: str, run: SyntheticRun, processes: int) -> tuple[int, float]:
    began = time.perf_counter()
    result = produce(run, Pace(speedup=0), bootstrap, topic, processes, StopFlag())
    return result.accepted, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=300_000, help="events per measurement (default 300,000)"
    )
    parser.add_argument("--processes", default="1,2,3", help="process counts to measure (default 1,2,3)")
    parser.add_argument("--catalogue-size", type=int, default=6_000_000)
    args = parser.parse_args()
    settings = load_settings()
    bootstrap = settings.kafka.bootstrap
    topic = f"bench-producer-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=bootstrap)
    admin.create_topics([new_topic(settings.kafka, topic)])
    catalogue = Catalogue(args.catalogue_size)
    catalogue.probabilities  # build the 6 M-article CDF once, outside the timings  # noqa: B018
    run = make_run(args.events, catalogue)
    try:
        print(
            f"broker {bootstrap}, topic {topic}, catalogue {catalogue.size:,}, ~{args.events:,} events each"
        )
        count, elapsed = bare_send_loop(bootstrap, topic, run)
        baseline = count / elapsed
        print(
            f"baseline  bare kafka-python send loop, 1 process : {baseline:>9,.0f} events/s "
            f"({count:,} in {elapsed:.1f} s)"
        )
        for processes in (int(p) for p in args.processes.split(",")):
            count, elapsed = ours(bootstrap, topic, run, processes)
            rate = count / elapsed
            print(
                f"producer  synthetic source, {processes} process(es)      : {rate:>9,.0f} events/s "
                f"({count:,} in {elapsed:.1f} s)  ratio {rate / baseline:.2f}"
                f"  per process {rate / processes / baseline:.2f}"
            )
    finally:
        admin.delete_topics([topic])
        admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
