"""Streaming job throughput on this machine, against the input ceiling measured in the same run.

    python bench/streaming_throughput.py [--events 2000000] [--latency-minutes 3]

1. Pre-loads a private ``pageviews`` topic with a seeded synthetic batch over
   simulated hours (6,000,000-article catalogue), with the producer's processes.
2. Ceiling: a Flink SQL job that only reads the topic (raw) into a blackhole,
   and a bare kafka-python consumer of the same topic.
3. The streaming job from scratch on the same topic, everything on
   (windows to ten topics exactly-once, dead letters, trending to Redis,
   hourly counts to S3): events per second while it consumes the batch.
4. Latency in real time: the producer in real time, and for a few minutes the
   delay from the end of each minute (event time) to its trending list in Redis.
Also prints the JobManager's and TaskManager's resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient, KafkaConsumer  # noqa: E402
from kafka.admin import NewTopic  # noqa: E402

from core.clients import redis_client  # noqa: E402
from core.config import Settings, load_settings, private_names  # noqa: E402
from core.contracts import pipeline_topics  # noqa: E402
from core.snapshots import Keys, decode_trending  # noqa: E402

FLINK = ROOT / "deploy" / "local" / "flink"
PYTHON = sys.executable


def rest(settings: Settings, path: str, method: str = "GET"):
    request = urllib.request.Request(f"{settings.flink.rest_url}{path}", method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else None


def submit(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([str(FLINK), "run", "-d", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
    return done.stdout.split("JobID")[-1].split()[0]


def run_bounded(settings: Settings, env: dict[str, str], total: int, *args: str) -> float:
    """Submit a job that reads the batch and finishes; events/s from its source's start to the job's end."""
    job_id = submit(env, *args)
    while (job := rest(settings, f"/jobs/{job_id}"))["state"] not in ("FINISHED", "FAILED", "CANCELED"):
        time.sleep(1)
    if job["state"] != "FINISHED":
        raise RuntimeError(f"job {job_id} ended {job['state']}")
    source_start = job["vertices"][0]["start-time"]
    return total / ((job["end-time"] - source_start) / 1000)


def rss_mib(pid_file: Path) -> float:
    pid = int(pid_file.read_text())
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_consumer(settings: Settings, total: int) -> float:
    consumer = KafkaConsumer(settings.kafka.pageviews_topic, bootstrap_servers=settings.kafka.bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=5000,
                             max_poll_records=50_000, fetch_max_bytes=64 * 1024 * 1024)  # fmt: skip
    began, count = time.monotonic(), 0
    for _ in consumer:
        count += 1
        if count >= total:
            break
    consumer.close()
    return count / (time.monotonic() - began)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=3_000_000, help="events in the pre-loaded batch")
    parser.add_argument("--processes", type=int, default=2, help="producer processes for the pre-load")
    parser.add_argument(
        "--latency-minutes", type=int, default=3, help="real-time minutes to sample, 0 to skip"
    )
    args = parser.parse_args()

    tag = f"bench{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    admin.create_topics([NewTopic(t, settings.kafka.partitions, 1) for t in pipeline_topics(settings.kafka)])
    home = settings.stack.home_path
    try:
        views_per_minute = 100_000
        minutes = max(1, args.events // views_per_minute)
        print(
            f"pre-loading {tag}-pageviews: ~{args.events:,} events over {minutes} simulated minutes ...",
            flush=True,
        )
        began = time.monotonic()
        subprocess.run([PYTHON, "-m", "producer", "synthetic", "--start", "2026-03-02T06:00:00Z",
                        "--duration",
                        f"{minutes}m", "--views-per-minute", str(views_per_minute), "--speedup", "0",
                        "--processes", str(args.processes), "--trend", "+20m,60m,500"],
                       cwd=ROOT, env=env, check=True, capture_output=True)  # fmt: skip
        offsets = KafkaConsumer(bootstrap_servers=settings.kafka.bootstrap)
        from kafka import TopicPartition

        parts = [TopicPartition(settings.kafka.pageviews_topic, p) for p in range(settings.kafka.partitions)]
        total = sum(offsets.end_offsets(parts).values())
        offsets.close()
        print(f"  {total:,} events in {time.monotonic() - began:.0f} s", flush=True)
        print("the rates below run from the Kafka source's start to the bounded job's end", flush=True)

        ceiling = run_bounded(settings, env, total, "-py", str(ROOT / "bench" / "read_only_job.py"))
        print(f"ceiling   Flink source only (raw -> blackhole)      : {ceiling:>10,.0f} events/s", flush=True)
        consumer_rate = bare_consumer(settings, total)
        print(
            f"ceiling   bare kafka-python consumer                : {consumer_rate:>10,.0f} events/s",
            flush=True,
        )

        job_rate = run_bounded(
            settings, env, total, "-py", "streaming/job.py", "--bounded", "--job-name", tag
        )
        print(
            f"job       streaming job, everything on              : {job_rate:>10,.0f} events/s  "
            f"ratio {job_rate / ceiling:.2f} of the Flink source, "
            f"{job_rate / consumer_rate:.2f} of kafka-python"
        )
        print(
            f"memory    JobManager {rss_mib(home / 'run' / 'flink-jobmanager.pid'):,.0f} MiB, "
            f"TaskManager {rss_mib(home / 'run' / 'flink-taskmanager.pid'):,.0f} MiB (resident)"
        )

        if args.latency_minutes:
            measure_latency(env, settings, tag, args.latency_minutes)
    finally:
        admin.delete_topics(pipeline_topics(settings.kafka))
        admin.close()
    return 0


def measure_latency(env: dict[str, str], base: Settings, tag: str, minutes: int) -> None:
    """Real time: the producer keeps pace with the clock; sample computed_at - minute per minute."""
    env = {
        **env,
        "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": f"{tag}-pageviews-live",
        "WIKITRENDS_STREAMING_GROUP_ID": f"{tag}-live",
    }
    settings = load_settings(env)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap)
    admin.create_topics([NewTopic(settings.kafka.pageviews_topic, settings.kafka.partitions, 1)])
    producer = subprocess.Popen([PYTHON, "-m", "producer", "synthetic", "--start", "now", "--duration", "2h",
                                 "--speedup", "1", "--views-per-minute", "60000"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    job_id = submit(env, "-py", "streaming/job.py", "--job-name", f"{tag}-live")
    client = redis_client(settings)
    keys = Keys(settings.redis)
    delays: dict[int, float] = {}
    try:
        deadline = time.monotonic() + 120 + 60 * (minutes + 1)
        while len(delays) < minutes + 1 and time.monotonic() < deadline:
            raw = client.get(keys.trending_latest)
            if raw:
                snapshot = decode_trending(raw)
                delays.setdefault(snapshot.minute, (snapshot.computed_at - snapshot.minute) / 1000)
            time.sleep(0.5)
    finally:
        rest(settings, f"/jobs/{job_id}?mode=cancel", method="PATCH")
        producer.terminate()
        producer.wait()
        admin.delete_topics([settings.kafka.pageviews_topic])
        admin.close()
    samples = sorted(delays.values())[1:]  # the first minute seen may be a partial one at startup
    if samples:
        s = base.streaming
        print(
            f"latency   end of minute -> its trending list in Redis: "
            f"median {samples[len(samples) // 2]:.1f} s, "
            f"max {samples[-1]:.1f} s over {len(samples)} minutes (watermark delay "
            f"{s.watermark_delay_seconds} s, checkpoints every {s.checkpoint_interval_seconds} s)"
        )


if __name__ == "__main__":
    sys.exit(main())
