"""Streaming job throughput on this machine, against the input ceiling measured in the same run.

    python bench/streaming_throughput.py [--minutes 72] [--views-per-minute 100000] [--latency-minutes 10]

1. Pre-loads a private ``pageviews`` topic with a seeded synthetic batch of
   ``--minutes`` simulated minutes (default 72: every trending minute of an
   hour and one hourly file are really computed) at ``--views-per-minute``,
   over the 6,000,000-article catalogue, with the producer's processes.
2. Ceiling: a Flink SQL job that only reads the topic (raw) into a blackhole,
   and a bare kafka-python consumer of the same topic.
3. The streaming job from scratch on the same topic, everything on
   (windows to ten topics exactly-once, dead letters, trending to Redis,
   hourly counts to S3): events per second while it consumes the batch.
   While it runs, samples Flink's per-operator busy and back-pressure ratios
   and records in/out (where the time goes).
4. Freshness in real time: the producer at ``--live-rate`` events/s from now,
   and for ``--latency-minutes`` minutes the delay from the end of each
   minute (wall clock) to its trending list in Redis: median and maximum.
Also prints the JobManager's and TaskManager's resident memory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaAdminClient  # noqa: E402

from bench import flame_graph  # noqa: E402
from bench.pipeline import fast_consumer, private_pipeline, start_live_producer, topic_size  # noqa: E402
from core.config import Settings, load_settings  # noqa: E402
from core.contracts import Keys  # noqa: E402
from core.snapshots import decode_trending  # noqa: E402
from stores.clients import (  # noqa: E402
    flink_rest,
    kafka_security,  # noqa: E402
    new_topic,  # noqa: E402
    redis_client,
)
from streaming.flink_jobs import cancel, submit  # noqa: E402

PYTHON = sys.executable


def run_bounded(settings: Settings, env: dict[str, str], total: int, *args: str, while_running=None) -> float:
    """Submit a job that reads the batch and finishes; events/s from its source's start to the job's end."""
    job_id = submit(env, *args)
    began, sampled = time.monotonic(), False
    while (job := flink_rest(settings, f"/jobs/{job_id}"))["state"] not in ("FINISHED", "FAILED", "CANCELED"):
        if while_running and not sampled and time.monotonic() - began > 40:
            while_running(job_id)  # once, when it is well into the batch
            sampled = True
        time.sleep(1)
    if job["state"] != "FINISHED":
        raise RuntimeError(f"job {job_id} ended {job['state']}")
    source_start = job["vertices"][0]["start-time"]
    return total / ((job["end-time"] - source_start) / 1000)


def print_operators(settings: Settings, job_id: str, flame_graph_file: Path | None = None) -> None:
    """Where the time goes: each operator's busy and back-pressured share of time, and its records;
    with ``flame_graph_file``, then the busiest one's flame graph, summed by frame and written there."""
    job = flink_rest(settings, f"/jobs/{job_id}")
    print("operators (sampled once while the job runs; ratios averaged over subtasks):")
    print(f"  {'busy':>5} {'backp':>5} {'records in':>12} {'records out':>12}  operator")
    busiest, busiest_ratio = None, -1.0
    for vertex in job["vertices"]:
        metrics = flink_rest(
            settings,
            f"/jobs/{job_id}/vertices/{vertex['id']}/subtasks/metrics"
            "?get=busyTimeMsPerSecond,backPressuredTimeMsPerSecond",
        )
        values = {m["id"]: m.get("avg", 0.0) for m in metrics}
        print(
            f"  {values.get('busyTimeMsPerSecond', 0) / 10:>4.0f}% "
            f"{values.get('backPressuredTimeMsPerSecond', 0) / 10:>4.0f}% "
            f"{vertex['metrics']['read-records']:>12,} {vertex['metrics']['write-records']:>12,}  "
            f"{vertex['name'][:110]}",
            flush=True,
        )
        if values.get("busyTimeMsPerSecond", 0) > busiest_ratio:
            busiest, busiest_ratio = vertex, values.get("busyTimeMsPerSecond", 0)
    if flame_graph_file is None:
        return
    tree = flame_graph.sample(settings, job_id, busiest["id"])
    if tree is None:
        print("flame graph: no samples came (is rest.flamegraph.enabled set?)")
        return
    stacks = flame_graph.folded_stacks(tree)
    flame_graph.write_folded(stacks, flame_graph_file)
    print(
        f"flame graph of the busiest operator ({busiest['name'][:70]}), folded stacks in {flame_graph_file}:"
    )
    print("\n".join(flame_graph.summary(stacks)), flush=True)


def rss_mib(pid_file: Path) -> float:
    pid = int(pid_file.read_text())
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bare_consumer(settings: Settings, total: int) -> float:
    consumer = fast_consumer(settings, settings.kafka.pageviews_topic)
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
    parser.add_argument("--minutes", type=int, default=72, help="simulated minutes in the pre-loaded batch")
    parser.add_argument(
        "--views-per-minute", type=int, default=100_000, help="pre-load rate per simulated minute"
    )
    parser.add_argument("--processes", type=int, default=2, help="producer processes for the pre-load")
    parser.add_argument(
        "--consumer-events",
        type=int,
        default=2_000_000,
        help="events the bare kafka-python consumer reads (its rate is steady)",
    )
    parser.add_argument("--live-rate", type=int, default=5_000, help="events/s in the freshness part")
    parser.add_argument(
        "--latency-minutes", type=int, default=10, help="real-time minutes to sample, 0 to skip"
    )
    parser.add_argument("--freshness-only", action="store_true", help="skip the throughput part")
    args = parser.parse_args()

    with private_pipeline("bench") as (tag, env, settings):
        if not args.freshness_only:
            measure_throughput(args, tag, env, settings)
        if args.freshness_only or args.latency_minutes:
            measure_latency(env, settings, tag, args.latency_minutes, args.live_rate)
    return 0


def measure_throughput(args: argparse.Namespace, tag: str, env: dict[str, str], settings: Settings) -> None:
    """The pre-loaded batch read by the two ceilings, then by the streaming job with everything on."""
    home = settings.stack.home_path
    views_per_minute, minutes = args.views_per_minute, args.minutes
    print(
        f"pre-loading {tag}-pageviews: ~{views_per_minute * minutes:,} events over {minutes} simulated "
        f"minutes, 6,000,000-article catalogue ...",
        flush=True,
    )
    began = time.monotonic()
    subprocess.run(
        [
            PYTHON,
            "-m",
            "producer",
            "synthetic",
            "--start",
            "2026-03-02T06:00:00Z",
            "--duration",
            f"{minutes}m",
            "--views-per-minute",
            str(views_per_minute),
            "--speedup",
            "0",
            "--processes",
            str(args.processes),
            "--trend",
            "+20m,60m,500",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    total = topic_size(settings, settings.kafka.pageviews_topic)
    print(f"  {total:,} events in {time.monotonic() - began:.0f} s", flush=True)
    print("the rates below run from the Kafka source's start to the bounded job's end", flush=True)

    ceiling = run_bounded(settings, env, total, "-py", str(ROOT / "bench" / "read_only_job.py"))
    print(f"ceiling   Flink source only (raw -> blackhole)      : {ceiling:>10,.0f} events/s", flush=True)
    consumer_rate = bare_consumer(settings, min(total, args.consumer_events))
    print(
        f"ceiling   bare kafka-python consumer                : {consumer_rate:>10,.0f} events/s",
        flush=True,
    )

    job_rate = run_bounded(
        settings,
        env,
        total,
        "-py",
        "streaming/pageviews/job.py",
        "--bounded",
        "--job-name",
        tag,
        while_running=lambda job_id: print_operators(
            settings, job_id, home / "runs" / f"{tag}-flame-graph.txt"
        ),
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


def measure_latency(env: dict[str, str], base: Settings, tag: str, minutes: int, rate: int) -> None:
    """Real time: the producer keeps pace with the clock; sample computed_at - minute per minute."""
    env = {
        **env,
        "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": f"{tag}-pageviews-live",
        "WIKITRENDS_STREAMING_GROUP_ID": f"{tag}-live",
    }
    settings = load_settings(env)
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap)
    admin.create_topics([new_topic(settings.kafka, settings.kafka.pageviews_topic)])
    producer = start_live_producer(env, rate, "2h")
    client = redis_client(settings)
    keys = Keys(settings.redis)
    delays: dict[int, float] = {}
    job_id = None
    try:
        job_id = submit(env, "-py", "streaming/pageviews/job.py", "--job-name", f"{tag}-live")
        print(f"freshness: {rate:,} events/s in real time for {minutes} minutes ...", flush=True)
        deadline = time.monotonic() + 120 + 60 * (minutes + 1)
        while len(delays) < minutes + 1 and time.monotonic() < deadline:
            raw = client.get(keys.trending_latest)
            if raw:
                snapshot = decode_trending(raw)
                delays.setdefault(snapshot.minute, (snapshot.computed_at - snapshot.minute) / 1000)
            time.sleep(0.5)
    finally:
        if job_id:
            cancel(settings, job_id, discard_checkpoints=True)
        producer.terminate()
        producer.wait()
        admin.delete_topics([settings.kafka.pageviews_topic])
        admin.close()
    # The first minute seen may be one the job started in the middle of.
    samples = sorted(delay for _, delay in sorted(delays.items())[1:])
    if samples:
        s = base.streaming
        print(
            f"freshness end of minute -> its trending list in Redis at {rate:,} events/s: "
            f"median {samples[len(samples) // 2]:.1f} s, "
            f"max {samples[-1]:.1f} s over {len(samples)} minutes (watermark delay "
            f"{s.watermark_delay_seconds} s, checkpoints every {s.checkpoint_interval_seconds} s)"
        )


if __name__ == "__main__":
    sys.exit(main())
