"""Hostile input at volume: a million bad payloads among valid page requests, and nothing lost.

    python bench/hostile_input.py [--hostile 1000000] [--valid 250000] [--mib-titles 100] [--seed 7]

1. Fills a private ``pageviews`` topic with ``--valid`` page requests (an hour of event time on
   2,000 articles in two wikis) and ``--hostile`` generated bad payloads among them, in event-time
   order: random bytes, truncated JSON, huge strings, wrong types, NaN and Infinity, titles of
   about 1 MiB (the largest record the broker takes), control characters, bytes and escapes that
   are not UTF-8, absurd timestamps. Every bad payload starts with a marker of its kind, so that
   its dead letter can be traced back.
2. Runs the streaming job, everything on, over the topic to its end (``--bounded``).
3. Checks what an operator would: every bad payload is in the dead-letter topic once, with a
   reason; every valid event is counted exactly (each window row equals the count computed here
   from the valid events, and no other row exists); the job never restarted. Prints the figures
   per kind and exits 1 on any difference.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from bench.pipeline import private_pipeline, read_back  # noqa: E402
from bench.streaming_throughput import run_bounded  # noqa: E402
from core.config import Settings  # noqa: E402
from core.contracts import windows_topics  # noqa: E402
from core.events import MAX_TITLE_CHARS  # noqa: E402
from core.windows import window_starts_of  # noqa: E402
from producer.sink import Progress  # noqa: E402
from producer.world import MINUTE_MS, parse_time_ms  # noqa: E402
from stores.clients import flink_rest, kafka_security  # noqa: E402
from streaming import flink_jobs  # noqa: E402

START = parse_time_ms("2026-03-02T08:00:00Z")
SPAN_MS = 60 * MINUTE_MS
ARTICLES = [f"Article_{n}" for n in range(1, 1_996)] + ["Zürich", "東京", "Москва", "Café_(film)", "Smile_😀"]
PROJECTS = ["en.wikipedia", "de.wikipedia"]
# The broker takes records up to 1,048,588 bytes (message.max.bytes); a title this long fills one.
MIB_TITLE_CHARS = 1_048_000
HUGE_STRING_CHARS = 65_536
MARKER = '{"hostile":"%s",'
RANDOM_BYTES_MARKER = b"\x00random-bytes\x00"


def hostile_payload(kind: str, ts: int, rng: random.Random) -> bytes:
    """One bad payload of ``kind`` (with a plausible ``ts`` where the kind needs one)."""
    head = MARKER % kind
    title = rng.choice(ARTICLES)
    if kind == "random-bytes":
        return RANDOM_BYTES_MARKER + rng.randbytes(rng.randint(1, 300))
    if kind == "truncated-json":
        whole = f'{head}"ts":{ts},"project":"en.wikipedia","title":"{title}"}}'
        return whole[: rng.randint(len(head), len(whole) - 1)].encode()
    if kind == "huge-string":
        huge = "x" * rng.randint(MAX_TITLE_CHARS + 1, HUGE_STRING_CHARS)
        field = rng.choice(["project", "title"])
        other = {"project": "en.wikipedia", "title": title, field: huge}
        return f'{head}"ts":{ts},"project":"{other["project"]}","title":"{other["title"]}"}}'.encode()
    if kind == "wrong-type":
        ts_value, project, title_value = str(ts), '"en.wikipedia"', json.dumps(title)
        wrong = rng.choice(
            [
                "ts-array",
                "ts-bool",
                "ts-object",
                "ts-null",
                "ts-fraction",
                "title-object",
                "title-array",
                "title-null",
                "project-object",
                "project-array",
            ]
        )
        if wrong.startswith("ts-"):
            ts_value = {
                "ts-array": f"[{ts}]",
                "ts-bool": "true",
                "ts-object": f'{{"ms":{ts}}}',
                "ts-null": "null",
                "ts-fraction": f"{ts}.5",
            }[wrong]
        elif wrong.startswith("title-"):
            title_value = {"title-object": '{"name":"X"}', "title-array": '["X"]', "title-null": "null"}[
                wrong
            ]
        else:
            project = {"project-object": '{"wiki":"en"}', "project-array": '["en.wikipedia"]'}[wrong]
        return f'{head}"ts":{ts_value},"project":{project},"title":{title_value}}}'.encode()
    if kind == "nan-infinity":
        value = rng.choice(["NaN", "Infinity", "-Infinity"])
        return f'{head}"ts":{value},"project":"en.wikipedia","title":"{title}"}}'.encode()
    if kind == "mib-title":
        return f'{head}"ts":{ts},"project":"en.wikipedia","title":"{"M" * MIB_TITLE_CHARS}"}}'.encode()
    if kind == "control-chars":
        bad = rng.choice(["\\t", "\\n", "\\u0000", "\\u001b", "\\u007f", "\\r\\n"])
        return f'{head}"ts":{ts},"project":"en.wikipedia","title":"{title}{bad}x"}}'.encode()
    if kind == "invalid-utf8":
        bad = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xe9t\xe9", b"\xed\xa0\x80", b"\\ud800", b"\\udfff"])
        return f'{head}"ts":{ts},"project":"en.wikipedia","title":"{title}_'.encode() + bad + b'"}'
    if kind == "absurd-ts":
        now = int(time.time() * 1000)
        value = rng.choice(
            [
                "-1",
                "0",
                str(START // 1000),
                str(2**63 - 1),
                "99999999999999999999",
                str(32_503_680_000_000),
                str(now + 3_600_000),
                "1e30",
            ]
        )
        return f'{head}"ts":{value},"project":"en.wikipedia","title":"{title}"}}'.encode()
    raise ValueError(f"unknown kind {kind}")


# Shares of the bad payloads; the 1 MiB titles are a fixed number (--mib-titles).
KIND_SHARES = {
    "random-bytes": 0.16,
    "truncated-json": 0.16,
    "huge-string": 0.002,
    "wrong-type": 0.16,
    "nan-infinity": 0.1,
    "control-chars": 0.14,
    "invalid-utf8": 0.14,
    "absurd-ts": 0.138,
}


def say(line: str) -> None:
    print(line, flush=True)


def kind_of_dead_letter(payload: str) -> str:
    """The kind a dead letter's payload was generated as (its marker), or "valid" for a page request."""
    if payload.startswith(RANDOM_BYTES_MARKER.decode()):
        return "random-bytes"
    if payload.startswith('{"hostile":"'):
        return payload[len('{"hostile":"') :].split('"', 1)[0]
    return "valid"


def fill_topic(settings: Settings, valid: int, hostile: int, mib_titles: int, seed: int):
    """Send the mix in event-time order; the valid events' window counts and the bad ones per kind."""
    rng = random.Random(seed)
    kinds = rng.choices(list(KIND_SHARES), weights=list(KIND_SHARES.values()), k=hostile - mib_titles)
    kinds += ["mib-title"] * mib_titles
    rng.shuffle(kinds)
    is_valid = [True] * valid + [False] * hostile
    rng.shuffle(is_valid)
    producer = KafkaProducer(
        **kafka_security(),
        bootstrap_servers=settings.kafka.bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=1 << 20,
        max_request_size=1_100_000,
    )
    per_minute: Counter = Counter()
    sent_kinds: Counter = Counter()
    progress = Progress("  sent", len(is_valid), out=say)
    hostile_kinds = iter(kinds)
    for index, valid_here in enumerate(is_valid):
        ts = START + index * SPAN_MS // len(is_valid)
        if valid_here:
            project, title = rng.choice(PROJECTS), rng.choice(ARTICLES)
            event = {"ts": ts, "project": project, "title": title}
            if index % 10 == 0:
                event["agent"] = "user"  # extra fields are allowed
            producer.send(
                settings.kafka.pageviews_topic,
                key=title.encode(),
                value=json.dumps(event, ensure_ascii=False).encode(),
            )
            per_minute[(project, title, ts - ts % MINUTE_MS)] += 1
        else:
            kind = next(hostile_kinds)
            producer.send(settings.kafka.pageviews_topic, value=hostile_payload(kind, ts, rng))
            sent_kinds[kind] += 1
        progress.update(index + 1)
    producer.flush()
    producer.close()
    windows: Counter = Counter()
    for (project, title, minute), count in per_minute.items():
        for start in window_starts_of(minute):
            windows[(project, title, start)] += count
    return windows, sent_kinds


def read_all(settings: Settings, topic: str, what: str) -> list:
    """Every committed record of ``topic``, with a progress line every few seconds."""
    records, progress = [], Progress(f"  read {what}", out=say)
    for record in read_back(settings, topic):
        records.append(record)
        progress.update(len(records))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hostile", type=int, default=1_000_000, help="bad payloads to send")
    parser.add_argument("--valid", type=int, default=250_000, help="valid page requests among them")
    parser.add_argument("--mib-titles", type=int, default=100, help="bad payloads with a ~1 MiB title")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with private_pipeline("hostile") as (tag, env, settings):
        print(
            f"filling {settings.kafka.pageviews_topic}: {args.valid:,} valid, {args.hostile:,} bad",
            flush=True,
        )
        began = time.monotonic()
        expected_windows, sent_kinds = fill_topic(
            settings, args.valid, args.hostile, args.mib_titles, args.seed
        )
        print(f"  sent in {time.monotonic() - began:.0f} s", flush=True)

        print("running the streaming job over the topic to its end (--bounded) ...", flush=True)
        try:
            rate = run_bounded(
                settings,
                env,
                args.valid + args.hostile,
                "-py",
                "streaming/pageviews/job.py",
                "--bounded",
                "--job-name",
                tag,
            )
        finally:  # interrupted or failed: leave no job reading a topic about to be deleted
            for job_id in flink_jobs.jobs_named(settings, tag):
                flink_jobs.cancel(settings, job_id)
        jobs = flink_rest(settings, "/jobs/overview")["jobs"]
        (job_id,) = [job["jid"] for job in jobs if job["name"] == tag]
        failures = flink_jobs.failures(settings, job_id)

        dead = [
            json.loads(r.value) for r in read_all(settings, settings.kafka.dead_letter_topic, "dead letters")
        ]
        dead_kinds = Counter(kind_of_dead_letter(d["payload"]) for d in dead)
        reasons: dict[str, Counter] = {}
        for letter in dead:
            short_reason = letter["reason"].split(" (payload of")[0].split(":")[0][:64]
            reasons.setdefault(kind_of_dead_letter(letter["payload"]), Counter())[short_reason] += 1
        windows: Counter = Counter()
        for topic in windows_topics(settings.kafka):
            for record in read_all(settings, topic, f"rows of {topic}"):
                row = json.loads(record.value)
                windows[(row["project"], row["title"], row["window_start"])] += row["count"]

    print(f"\n{'kind':<16}{'sent':>10}{'dead-lettered':>15}  reasons")
    for kind in [*KIND_SHARES, "mib-title"]:
        top = ", ".join(f"{reason} ({n:,})" for reason, n in reasons.get(kind, Counter()).most_common(3))
        print(f"{kind:<16}{sent_kinds[kind]:>10,}{dead_kinds[kind]:>15,}  {top}")
    print(
        f"{'valid events':<16}{args.valid:>10,}{dead_kinds['valid']:>15,}  "
        f"{', '.join(reasons.get('valid', {}))}"
    )
    missing = {k: v for k, v in expected_windows.items() if windows.get(k) != v}
    extra = {k: v for k, v in windows.items() if k not in expected_windows}
    print(
        f"window rows: {len(windows):,} written, {len(expected_windows):,} expected, "
        f"{len(missing):,} wrong or missing, {len(extra):,} unexpected"
    )
    print(f"job: finished, {rate:,.0f} payloads/s, {len(failures)} failures (each would have been a restart)")
    for failure in failures[:5]:
        print(f"  {failure}")
    ok = (
        all(dead_kinds[k] == sent_kinds[k] for k in sent_kinds)
        and dead_kinds["valid"] == 0
        and len(dead) == args.hostile
        and not missing
        and not extra
        and not failures
    )
    print(
        "RESULT: every bad payload dead-lettered once, every valid event counted exactly, no restart"
        if ok
        else "RESULT: DIFFERENCES (above)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
