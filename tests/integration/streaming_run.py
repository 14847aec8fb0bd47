"""The streaming tests' shared run: an isolated pipeline, a seeded input, the oracle and its checks.

Used by test_streaming.py (the undisturbed run and a killed TaskManager) and
test_streaming_faults.py (restarts and outages), each test with its own topics and prefixes.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import EditKeys, Keys, hourly_counts_key, pipeline_topics, windows_topic
from core.edit_rules import WatchList
from core.events import DEAD_LETTER_PAYLOAD_CHARS, DESKTOP, MOBILE_ACCESS
from core.snapshots import decode_trending
from core.traffic_alerts import traffic_alerts_of_lists
from core.windows import MINUTE_MS, hour_start_of, hour_window_ends, topic_digit, window_starts_of
from producer.world import parse_time_ms
from stores.clients import flink_rest, kafka_security, new_topic
from stores.edits import change_watchlist_args, change_watchlist_script, encode_alert
from streaming import flink_jobs
from tests.api_contract import check_alert_record
from tests.oracle import TrendingOracle

log = logging.getLogger(__name__)
START = parse_time_ms("2026-03-02T08:00:00Z")
END = START + 135 * MINUTE_MS  # events up to 10:15
# A live stream never ends; this input does. Once the job has read it all, its partitions go
# idle, and PyFlink's Python operators can drop a watermark they were holding when their
# output turns idle (seen on CI: the source at 10:22, the trending publisher stuck at 10:05).
# So, like live traffic, clock ticks keep arriving while the test waits: one per partition,
# a minute later each time, under their own title (checked apart from the run's articles).
TICK_TITLE = "Clock_tick"
FIRST_TICK = END + 8 * MINUTE_MS
LAST_MINUTE = END + MINUTE_MS
HUGE_TITLE = b'{"ts":1772438400000,"project":"en.wikipedia","title":"' + b"A" * 900_000 + b'"}'
MALFORMED = [
    (b"this is not json", "not a JSON object"),
    (b'{"project":"en.wikipedia","title":"No_ts"}', "ts missing or not a number"),
    (b'{"ts":1772438400,"project":"en.wikipedia","title":"Seconds_not_ms"}', "ts outside"),
    (b'{"ts":1772438400000,"project":"en.wikipedia"}', "title missing"),
    (b'{"ts":1772438400000,"project":"en.wikipedia","title":"Tab\\there"}', "control characters"),
    (b'{"ts":1772438400000,"project":"en.wikipedia","title":"Caf\xe9_latin1"}', "not UTF-8"),
    (b'{"ts":1772438400000,"project":"en.wikipedia","title":"Half_\\ud800"}', "not UTF-8"),
    # A title of 900,000 characters: refused, and its dead letter cut so that it fits in Kafka.
    (
        HUGE_TITLE,
        f"title longer than 255 characters (payload of {len(HUGE_TITLE)} characters cut to "
        f"{DEAD_LETTER_PAYLOAD_CHARS})",
    ),
    # An hour ahead of the clock: it would hold every true event late for an hour.
    (
        json.dumps(
            {"ts": int(time.time() * 1000) + 3_600_000, "project": "en.wikipedia", "title": "From_the_future"}
        ).encode(),
        "ts outside",
    ),
]
# The run's two injected trends: the first (the producer's default title for a trend) is on the
# watch list the test sets through the API's Redis write, the second is not.
WATCHED_TREND_TITLE = "Article_19999"
UNWATCHED_TREND_TITLE = "Article_15000"
WATCHED_ENTITY = "Injected trend"
# Automated traffic: a desktop-only burst on a quiet page (core/automated.py flags it).
BOT_TITLE = "Article_12000"
LATE_EVENT = json.dumps(
    {"ts": START + 5 * MINUTE_MS, "project": "en.wikipedia", "title": "Late_arrival"}
).encode()


@dataclass
class Isolated:
    """One test's private names, passed to the producer and the job as WIKITRENDS_* variables."""

    env: dict[str, str]
    settings: Settings


@pytest.fixture
def isolated(kafka_bootstrap: str, redis_client, s3_client, flink_overview) -> Isolated:
    tag = f"e2e{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        **private_names(tag),
        # Keep every minute of the run readable, so each can be checked.
        "WIKITRENDS_STREAMING_TRENDING_RETENTION_MINUTES": "1000",
    }
    settings = load_settings(env)
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    topics = pipeline_topics(settings.kafka)
    admin.create_topics([new_topic(settings.kafka, t, 4) for t in topics])
    # The watch list as PUT /api/watchlist/<entity> leaves it: the job reads it when it starts.
    edit_keys = EditKeys(settings.redis)
    change_watchlist_script(redis_client)(
        keys=[edit_keys.watchlist, edit_keys.watchlist_version],
        args=change_watchlist_args(settings, WATCHED_ENTITY, [WATCHED_TREND_TITLE]),
    )
    yield Isolated(env, settings)
    admin.delete_topics(topics)
    admin.close()


def produce_run(isolated: Isolated, tmp_path: Path, topic: str | None = None) -> dict:
    """The seeded synthetic run, malformed events and clock ticks, into the job's input (or ``topic``)."""
    env = {**isolated.env, "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": topic} if topic else isolated.env
    settings = load_settings(env)
    truth_path = tmp_path / "truth.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "producer",
            "synthetic",
            "--catalogue-size",
            "20000",
            "--seed",
            "3",
            "--views-per-minute",
            "600",
            "--start",
            "2026-03-02T08:00:00Z",
            "--duration",
            "135m",
            "--speedup",
            "0",
            "--trend",
            f"+40m,60m,150,{WATCHED_TREND_TITLE}",
            "--trend",
            f"+55m,50m,150,{UNWATCHED_TREND_TITLE}",
            "--bot",
            f"+50m,50m,60,{BOT_TITLE}",
            "--ground-truth",
            str(truth_path),
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap, acks="all")
    for payload, _ in MALFORMED:
        producer.send(settings.kafka.pageviews_topic, value=payload)
    producer.flush()
    send_ticks(settings, FIRST_TICK)
    return json.loads(truth_path.read_text())


def send_ticks(settings: Settings, ts: int) -> None:
    """One event at ``ts`` into every partition of the input topic."""
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap, acks="all")
    tick = json.dumps({"ts": ts, "project": "en.wikipedia", "title": TICK_TITLE}).encode()
    for partition in producer.partitions_for(settings.kafka.pageviews_topic):
        producer.send(
            settings.kafka.pageviews_topic, key=TICK_TITLE.encode(), value=tick, partition=partition
        )
    producer.close()


def completed_checkpoints(settings: Settings, job_id: str) -> int:
    return flink_rest(settings, f"/jobs/{job_id}/checkpoints")["counts"]["completed"]


def submit_job(isolated: Isolated, restore_from: str | None = None) -> str:
    return flink_jobs.submit(isolated.env, "-py", "streaming/pageviews/job.py", restore_from=restore_from)


def cancel_job(settings: Settings, job_id: str) -> None:
    flink_jobs.cancel(settings, job_id, discard_checkpoints=True)


def wait_for(condition, what: str, timeout_s: float = 900, between=lambda: None) -> None:
    """Poll ``condition`` every 3 s (calling ``between`` after each miss); log how long it took."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > timeout_s:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(3)
        between()
    log.info("%s after %.0f s", what, time.monotonic() - began)


def read_topics(bootstrap: str, topics: list[str]) -> dict[str, list]:
    """Everything committed in ``topics`` (transactional writers: read_committed), by topic.

    One consumer for all of them: the read ends after 3 s without a record, once, not once per topic.
    """
    consumer = KafkaConsumer(
        *topics,
        **kafka_security(),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
        max_poll_records=20000,
        isolation_level="read_committed",
        check_crcs=False,  # kafka-python checks CRC32C in pure Python: seconds per topic
    )
    by_topic: dict[str, list] = {topic: [] for topic in topics}
    try:
        for record in consumer:
            by_topic[record.topic].append(record)
    finally:
        consumer.close()
    return by_topic


def read_topic(bootstrap: str, topic: str) -> list:
    """Everything committed in one topic."""
    return read_topics(bootstrap, [topic])[topic]


@dataclass
class Oracle:
    """What the job must output, computed in Python from the events produced."""

    window_counts: dict[tuple[str, int], int]  # (title, window_start) -> views
    hourly: dict[int, Counter]  # hour start -> title -> views
    per_minute: dict  # ((project, title), minute start) -> views
    access: dict  # ((project, title), minute start) -> (desktop views, mobile views)

    @classmethod
    def from_events(cls, records: list) -> Oracle:
        per_minute: Counter = Counter()
        desktop: Counter = Counter()
        mobile: Counter = Counter()
        hourly: dict[int, Counter] = defaultdict(Counter)
        for record in records:
            event = json.loads(record.value)
            key = ((event["project"], event["title"]), event["ts"] - event["ts"] % MINUTE_MS)
            per_minute[key] += 1
            desktop[key] += event.get("access") == DESKTOP
            mobile[key] += event.get("access") in MOBILE_ACCESS
            hourly[hour_start_of(event["ts"])][event["title"]] += 1
        windows: Counter = Counter()
        for ((_, title), minute), count in per_minute.items():
            for start in window_starts_of(minute):
                windows[(title, start)] += count
        access = {key: (desktop[key], mobile[key]) for key in per_minute}
        return cls(dict(windows), hourly, dict(per_minute), access)


def check_outputs(isolated: Isolated, s3_client, redis_client, truth: dict) -> None:
    settings = isolated.settings
    windows_topics = [windows_topic(settings.kafka, digit) for digit in range(10)]
    kafka = settings.kafka
    topics = read_topics(
        kafka.bootstrap,
        [kafka.pageviews_topic, kafka.dead_letter_topic, kafka.edit_alerts_topic, *windows_topics],
    )
    # The synthetic run's events: not the malformed ones (no key), the late one (dead-lettered) nor
    # the ticks (their windows never close).
    events = [
        r for r in topics[kafka.pageviews_topic] if r.key not in (None, b"Late_arrival", TICK_TITLE.encode())
    ]
    oracle = Oracle.from_events(events)

    # Every window count is exact, and in the topic of its start minute's last digit, once.
    seen: dict[tuple[str, int], int] = {}
    for digit, topic in enumerate(windows_topics):
        for record in topics[topic]:
            window = json.loads(record.value)
            assert set(window) == {"project", "title", "window_start", "window_end", "count"}
            assert topic_digit(window["window_start"]) == digit
            assert window["window_end"] - window["window_start"] == 10 * MINUTE_MS
            assert record.key.decode() == window["title"]
            key = (window["title"], window["window_start"])
            assert key not in seen, f"window {key} written twice"
            if window["title"] != TICK_TITLE:
                seen[key] = window["count"]
    # Windows past LAST_MINUTE may be out too (the ticks move time on); each must be right.
    assert {key: seen[key] for key in seen if key[1] + 10 * MINUTE_MS <= LAST_MINUTE} == {
        key: count for key, count in oracle.window_counts.items() if key[1] + 10 * MINUTE_MS <= LAST_MINUTE
    }
    assert all(seen[key] == oracle.window_counts.get(key) for key in seen)

    # Every minute's trending list is the rule applied to those windows, ranked by the score.
    keys = Keys(settings.redis)
    trending = TrendingOracle(oracle.per_minute, settings, oracle.access)
    expected_lists, automated_lists, snapshots = {}, {}, []
    for minute in range(START + MINUTE_MS, LAST_MINUTE + 1, MINUTE_MS):
        raw = redis_client.get(keys.trending_minute(minute))
        assert raw is not None, f"no trending list for minute {minute}"
        snapshot = decode_trending(raw)
        snapshots.append(snapshot)
        got = [(a.title, a.counts, pytest.approx(a.score, abs=1e-6)) for a in snapshot.articles]
        expected_lists[minute] = trending.trending(minute)
        assert got == expected_lists[minute], minute
        flagged = [(a.title, a.counts, pytest.approx(a.score, abs=1e-6)) for a in snapshot.automated]
        assert flagged == trending.automated(minute), minute
        automated_lists[minute] = [a.title for a in snapshot.automated]
        assert all(a.likely_automated and a.mobile_share == 0.0 for a in snapshot.automated)
        assert all(a.window_ends == hour_window_ends(minute) for a in snapshot.articles)
        titles = [a.title for a in snapshot.articles]
        assert "Main_Page" not in titles and "Special:Search" not in titles  # not articles
    # The injected trends (08:40-09:40 and 08:55-09:45, rising to 150 a minute) are listed, and they
    # alone: the rest of the world is steady traffic under the daily rhythm.
    trend_titles = {s["title"] for s in truth["scenarios"] if s["kind"] == "trend"}
    assert trend_titles == {WATCHED_TREND_TITLE, UNWATCHED_TREND_TITLE}
    listed = Counter(title for items in expected_lists.values() for title, _, _ in items)
    assert all(listed[title] >= 20 for title in trend_titles), listed
    assert set(listed) == trend_titles, listed
    # The desktop-only burst rose as much, and is listed apart as likely automated, not on the list.
    flagged = Counter(title for titles in automated_lists.values() for title in titles)
    assert set(flagged) == {BOT_TITLE} and flagged[BOT_TITLE] >= 10, flagged
    shares = [a.mobile_share for s in snapshots for a in s.articles]
    assert shares and all(0.5 < share < 0.8 for share in shares), shares  # readers: 65 % on mobile
    assert decode_trending(redis_client.get(keys.trending_latest)).minute >= LAST_MINUTE
    check_traffic_alerts(isolated, redis_client, topics[kafka.edit_alerts_topic], snapshots)

    # Each finished hour's counts on S3 equal the events of that hour, per article.
    for hour in (START, START + 60 * MINUTE_MS):
        body = s3_client.get_object(Bucket=settings.s3.bucket, Key=hourly_counts_key(settings.s3, hour))[
            "Body"
        ]
        table = pq.read_table(io.BytesIO(body.read())).to_pylist()
        assert {row["title"]: row["views"] for row in table} == dict(oracle.hourly[hour])
        assert {row["project"] for row in table} == {"en.wikipedia"}

    # Malformed events and the late one are in the dead-letter topic with their reasons.
    dead = [json.loads(r.value) for r in topics[kafka.dead_letter_topic]]
    reasons = {d["payload"]: d["reason"] for d in dead}
    for payload, reason in MALFORMED:
        assert reason in reasons[payload.decode(errors="replace")[:DEAD_LETTER_PAYLOAD_CHARS]]
    assert reasons[LATE_EVENT.decode()].startswith("late")
    assert len(dead) == len(MALFORMED) + 1


def check_traffic_alerts(isolated: Isolated, redis_client, alert_records: list, lists: list) -> None:
    """The watched trend's rise raised one TRAFFIC_SPIKE, in the alerts topic exactly once and in Redis,
    with the numbers of its first listing; the unwatched trend none. ``lists``: every minute's list,
    already checked against the oracle."""
    settings = isolated.settings
    watchlist = WatchList({WATCHED_ENTITY: (WATCHED_TREND_TITLE,)})
    expected = traffic_alerts_of_lists(lists, watchlist, settings.edits.traffic_spike_quiet_minutes)
    assert [(a.entity, a.title) for a in expected] == [(WATCHED_ENTITY, WATCHED_TREND_TITLE)]
    in_topic = [json.loads(record.value) for record in alert_records]
    published = json.loads(encode_alert(expected[0]))
    assert len(in_topic) == 1, in_topic  # once: committed, no duplicate
    differing = {k: (v, published.get(k)) for k, v in in_topic[0].items() if v != published.get(k)}
    assert differing == {}, differing
    check_alert_record(in_topic[0])
    in_redis = [json.loads(m) for m in redis_client.zrange(EditKeys(settings.redis).alerts, 0, -1)]
    assert in_redis == in_topic


def source_watermark(settings: Settings, job_id: str) -> int:
    """The event time every source subtask of the running job has passed (0 while it restarts).

    It is the input watermark of the operators that read from the source.
    """

    try:
        nodes = flink_rest(settings, f"/jobs/{job_id}/plan")["plan"]["nodes"]
        source = next(n["id"] for n in nodes if not n.get("inputs"))
        reader = next(n["id"] for n in nodes if any(i["id"] == source for i in n.get("inputs", [])))
        marks = [
            int(m["value"]) for m in flink_rest(settings, f"/jobs/{job_id}/vertices/{reader}/watermarks")
        ]
    except (OSError, ValueError, KeyError, StopIteration):
        return 0
    return min(marks, default=0)


def wait_until_done(isolated: Isolated, s3_client, redis_client, job_id: str) -> None:
    settings = isolated.settings
    keys = Keys(settings.redis)

    def last_minute_published() -> bool:
        # The running job's own progress too: after a restore it replays from its checkpoint, and
        # lists published before the failure are already in Redis.
        raw = redis_client.get(keys.trending_latest)
        published = raw is not None and decode_trending(raw).minute >= LAST_MINUTE
        return published and source_watermark(settings, job_id) >= LAST_MINUTE

    ticks = iter(range(FIRST_TICK + MINUTE_MS, FIRST_TICK + 10_000 * MINUTE_MS, MINUTE_MS))
    wait_for(
        last_minute_published,
        "the trending list of the last minute",
        between=lambda: send_ticks(settings, next(ticks)),
    )
    # The late event goes in only once the job has passed its time; then wait for it to come out.
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=settings.kafka.bootstrap, acks="all")
    producer.send(settings.kafka.pageviews_topic, key=b"Late_arrival", value=LATE_EVENT).get(timeout=30)
    producer.close()

    def late_event_dead_lettered() -> bool:
        dead = read_topic(settings.kafka.bootstrap, settings.kafka.dead_letter_topic)
        return len(dead) >= len(MALFORMED) + 1

    wait_for(late_event_dead_lettered, "the late event in the dead-letter topic", timeout_s=180)

    # The traffic alert's sink commits on the same checkpoints, but its commit may land a moment after
    # the dead letters'.
    def traffic_alert_committed() -> bool:
        return bool(read_topic(settings.kafka.bootstrap, settings.kafka.edit_alerts_topic))

    wait_for(traffic_alert_committed, "the traffic alert in the alerts topic", timeout_s=180)
