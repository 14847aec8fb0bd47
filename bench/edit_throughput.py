"""The edit job's throughput on a replay, against the input ceilings measured in the same run.

    python bench/edit_throughput.py [--edits 600000] [--edits-per-minute 20000]

1. Pre-loads a private ``edits`` topic with the seeded synthetic edit stream
   (recentchange JSON, the injected alerts included) at ``--edits-per-minute``
   of simulated time, as fast as the producer sends: a recorded day replayed
   at once is the same load.
2. Ceilings: a Flink job that only reads the topic (raw, into a blackhole),
   and one kafka-python consumer that reads and parses every event with the
   job's own parser (``core.edit_events.parse_recentchange``).
3. The edit job from scratch on the topic, everything on (parsing, dead
   letters, watch-list matching, the alert rules in keyed state, alerts to
   Kafka exactly-once, activity and alerts to Redis): edits per second from
   its first record read to the last edit reaching its Redis publisher. A
   minute in, samples Flink's per-operator busy and back-pressure ratios.

All of Wikimedia makes about 30 edits a second; the target is 100 times that.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pipeline import fast_consumer, private_pipeline, topic_size  # noqa: E402
from bench.streaming_throughput import print_operators, run_bounded  # noqa: E402
from core.config import Settings  # noqa: E402
from core.edit_events import MalformedEditEvent, parse_recentchange  # noqa: E402
from stores.clients import flink_rest  # noqa: E402
from streaming.flink_jobs import cancel, submit  # noqa: E402

PYTHON = sys.executable
WIKIMEDIA_EDITS_PER_SECOND = 30
TARGET = 100 * WIKIMEDIA_EDITS_PER_SECOND


def parsing_consumer(settings: Settings, total: int) -> tuple[float, int]:
    """Events/s one Python process reads from Kafka and parses with the job's parser, and how many of
    the events are edits (the rest: other event types and malformed ones)."""
    consumer = fast_consumer(settings, settings.kafka.edits_topic)
    began, count, edits = time.monotonic(), 0, 0
    for record in consumer:
        with contextlib.suppress(MalformedEditEvent):
            edits += parse_recentchange(record.value) is not None
        count += 1
        if count >= total:
            break
    consumer.close()
    return count / (time.monotonic() - began), edits


def edit_job_rate(
    settings: Settings, env: dict[str, str], tag: str, total: int, edits: int, parallelism: int
) -> float:
    """Events/s of the edit job from its first record read to its Redis publisher having every edit
    (``edits`` of the ``total`` events; the publisher also counts the few alerts)."""
    job_id = submit(
        env,
        *("-py", "streaming/edits/job.py", "--startup", "earliest-offset"),
        *("--job-name", tag, "--parallelism", str(parallelism)),
    )
    first_read = sampled = None
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            job = flink_rest(settings, f"/jobs/{job_id}")
            if job["state"] in ("FAILED", "CANCELED", "FINISHED"):
                raise RuntimeError(f"the edit job {job_id} ended {job['state']}")
            source = job["vertices"][0]
            publisher = next(v for v in job["vertices"] if "to Redis" in v["name"])
            read = source["metrics"]["write-records"]
            published = publisher["metrics"]["read-records"]
            now = time.monotonic()
            if first_read is None and read > 0:
                first_read = now
            if first_read is not None and sampled is None and now - first_read > 60:
                print_operators(settings, job_id)
                sampled = now
            if published >= edits:
                return total / (now - first_read)
            if first_read is not None and int(now) % 30 == 0:
                rate = read / max(now - first_read, 1)
                print(
                    f"  ... {read:,} of {total:,} read ({rate:,.0f}/s), {published:,} published", flush=True
                )
            time.sleep(1)
        raise RuntimeError("the edit job did not publish every edit within an hour")
    finally:
        cancel(settings, job_id, discard_checkpoints=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--edits", type=int, default=600_000, help="about how many edits to pre-load")
    parser.add_argument(
        "--edits-per-minute", type=int, default=20_000, help="background edits per simulated minute"
    )
    parser.add_argument(
        "--parallelism", type=int, default=1, help="the edit job's parallelism (default 1, as make run)"
    )
    args = parser.parse_args()
    minutes = max(1, args.edits // args.edits_per_minute)

    with private_pipeline("editbench") as (tag, env, settings):
        print(
            f"pre-loading {settings.kafka.edits_topic}: ~{args.edits:,} synthetic edits over {minutes} "
            f"simulated minutes ...",
            flush=True,
        )
        began = time.monotonic()
        subprocess.run(
            [PYTHON, "-m", "producer", "edits-synthetic", "--start", "2026-03-02T06:00:00Z"]
            + ["--duration", f"{minutes}m", "--edits-per-minute", str(args.edits_per_minute)]
            + ["--speedup", "0", "--injected-after", "1m"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        total = topic_size(settings, settings.kafka.edits_topic)
        print(f"  {total:,} edits in {time.monotonic() - began:.0f} s", flush=True)

        # The read-only job reads the page-request topic setting: point it at the edits.
        raw_env = {**env, "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": settings.kafka.edits_topic}
        ceiling = run_bounded(settings, raw_env, total, "-py", str(ROOT / "bench" / "read_only_job.py"))
        print(f"ceiling   Flink source only (raw -> blackhole)        : {ceiling:>9,.0f} edits/s", flush=True)
        parsing, edits = parsing_consumer(settings, total)
        print(f"ceiling   one Python process: kafka-python + parse    : {parsing:>9,.0f} edits/s", flush=True)
        rate = edit_job_rate(settings, env, tag, total, edits, args.parallelism)
        print(
            f"job       edit job, everything on (parallelism {args.parallelism})   : {rate:>9,.0f} edits/s  "
            f"ratio {rate / ceiling:.2f} of the Flink source, {rate / parsing:.2f} of one parsing "
            f"process; {rate / WIKIMEDIA_EDITS_PER_SECOND:,.0f}x all of Wikimedia "
            f"(target {TARGET:,}/s: {'met' if rate >= TARGET else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
