"""The producers against the real broker: exact, repeatable, and losing nothing."""

from __future__ import annotations

import gzip
import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.articles import is_article
from core.config import REPO_ROOT, load_settings
from core.dumps import decode_title, dump_hour_start, parse_dump_line, project_of
from core.events import encode_page_request
from producer.world import (
    ACCESS_NAMES,
    DAILY_CURVE,
    MINUTE_MS,
    Catalogue,
    minute_events_with_access,
    parse_scenario,
    parse_time_ms,
)
from tests.data import SHARED_DATA
from tests.integration.helpers import consume_all
from tests.oracle import parse_page_request

START = "2026-03-02T09:00:00Z"


def run_producer(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "producer", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_synthetic_run_matches_its_ground_truth_exactly(
    kafka_bootstrap: str, new_topic, tmp_path: Path
) -> None:
    topic = new_topic("synthetic", partitions=4)
    truth_path = tmp_path / "truth.json"
    options = [
        "--catalogue-size",
        "20000",
        "--seed",
        "11",
        "--views-per-minute",
        "3000",
        "--start",
        START,
        "--duration",
        "12m",
        "--speedup",
        "0",
    ]
    scenarios = ["--trend", "+2m,10m,120", "--spike", "+0m,6m,40", "--drop", "+3m,5m,0"]
    done = run_producer(
        "synthetic",
        *options,
        *scenarios,
        "--processes",
        "2",
        "--topic",
        topic,
        "--bootstrap",
        kafka_bootstrap,
        "--ground-truth",
        str(truth_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    truth = json.loads(truth_path.read_text())
    assert truth["complete"] and truth["events_failed"] == 0

    records = consume_all(kafka_bootstrap, topic, expected=truth["events_accepted"], idle_s=2)
    assert len(records) == truth["events_accepted"]

    # Byte for byte what the seeded generator makes, whatever the number of processes.
    catalogue = Catalogue(20_000)
    start_ms = parse_time_ms(START)
    parsed = [
        parse_scenario(flag.lstrip("-"), spec, start_ms, catalogue)
        for flag, spec in zip(scenarios[::2], scenarios[1::2], strict=True)
    ]
    expected_values = []
    for minute in range(start_ms, start_ms + 12 * MINUTE_MS, MINUTE_MS):
        ranks, timestamps, access = minute_events_with_access(
            catalogue, minute, 3000, seed=11, scenarios=tuple(parsed)
        )
        expected_values += [
            encode_page_request(int(t), "en.wikipedia", catalogue.title(int(r)), ACCESS_NAMES[a])
            for r, t, a in zip(ranks, timestamps, access, strict=True)
        ]
    assert sorted(r.value for r in records) == sorted(expected_values)
    assert all(r.key == json.loads(r.value)["title"].encode() for r in records[:5000])

    # The ground truth's per-minute counts are the consumed counts, for every tracked article.
    observed: Counter = Counter()
    for record in records:
        event = parse_page_request(record.value, now_ms=int(time.time() * 1000))
        observed[(event.title, event.ts - event.ts % MINUTE_MS)] += 1
    for title, entry in truth["tracked"].items():
        for minute, count in entry["views_per_minute"].items():
            assert observed[(title, int(minute))] == count, (title, minute)
    by_kind = {s["kind"]: s["title"] for s in truth["scenarios"]}
    trend = [
        truth["tracked"][by_kind["trend"]]["views_per_minute"][str(start_ms + m * MINUTE_MS)]
        for m in range(2, 12)
    ]
    assert trend == sorted(trend) and trend[-1] >= 120
    drop = truth["tracked"][by_kind["drop"]]["views_per_minute"]
    assert all(drop[str(start_ms + m * MINUTE_MS)] == 0 for m in range(3, 8))

    # The overall shape is Zipf with exponent 1: top ranks within 10 % of their expected share.
    titles = Counter(json.loads(r.value)["title"] for r in records)
    total = sum(titles.values())
    for rank in range(1, 8):  # rank 0 is fine too but the drop and spike articles are not in 1..7
        share = titles[catalogue.title(rank)] / total
        assert abs(share / catalogue.probabilities[rank] - 1) < 0.1, (rank, share)


def test_replay_reproduces_a_real_dump_hour_exactly(kafka_bootstrap: str, new_topic, tmp_path: Path) -> None:
    topic = new_topic("replay", partitions=2)
    dump = tmp_path / "pageviews-20160607-170000"
    real_lines = (SHARED_DATA / "pagecounts-raw-sample-2016-06-0x-170000.txt").read_text().splitlines(True)
    malformed = [
        "en Broken_line 12\n",
        "en Not_a_count many 0\n",
        "en Bad%FF%FE 3 0\n",
        "xx.zz Odd_code 2 0\n",
    ]
    dump.write_text("".join(real_lines[:500] + malformed + real_lines[500:]))

    done = run_producer("replay", str(dump), "--topic", topic, "--bootstrap", kafka_bootstrap)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "4 malformed" in done.stdout
    assert done.stderr.count("skipping malformed line") == 4

    expected: Counter = Counter()
    for line in real_lines:
        record = parse_dump_line(line)
        title = decode_title(record.title)
        if project_of(record.domain_code) == "en.wikipedia" and is_article(title, load_settings().articles):
            expected[title] += record.views
    records = consume_all(kafka_bootstrap, topic, expected=sum(expected.values()), idle_s=2)
    events = [json.loads(r.value) for r in records]
    assert Counter(e["title"] for e in events) == expected
    hour_start = int(dump_hour_start(dump.name).timestamp() * 1000)
    assert all(hour_start <= e["ts"] < hour_start + 3_600_000 for e in events)
    assert {e["project"] for e in events} == {"en.wikipedia"}


def test_sigterm_mid_run_loses_no_accepted_event(kafka_bootstrap: str, new_topic, tmp_path: Path) -> None:
    topic = new_topic("sigterm", partitions=2)
    truth_path = tmp_path / "truth.json"
    producer = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "producer",
            "synthetic",
            "--catalogue-size",
            "10000",
            "--start",
            START,
            "--duration",
            "1d",
            "--speedup",
            "0",
            "--max-rate",
            "4000",
            "--topic",
            topic,
            "--bootstrap",
            kafka_bootstrap,
            "--ground-truth",
            str(truth_path),
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(6)
    producer.send_signal(signal.SIGTERM)
    stdout, stderr = producer.communicate(timeout=60)
    assert producer.returncode == 0, stderr[-3000:]
    sent = int(re.search(r"sent ([\d,]+) page requests", stdout).group(1).replace(",", ""))
    assert "stopped early by SIGTERM" in stdout
    truth = json.loads(truth_path.read_text())
    assert truth["complete"] is False and truth["events_accepted"] == sent and sent > 1000

    records = consume_all(kafka_bootstrap, topic, expected=sent, idle_s=2)
    assert len(records) == sent


def test_an_unreachable_broker_is_a_clear_error() -> None:
    done = run_producer(
        "synthetic", "--catalogue-size", "100", "--duration", "1m", "--bootstrap", "127.0.0.1:9"
    )
    assert done.returncode == 2
    assert "no Kafka broker answered at 127.0.0.1:9" in done.stderr


class RecordedStream:
    """A local EventStreams stand-in: serves recorded recentchange events as server-sent events.

    The first connection is cut after ``cut_after`` events; a reconnect is
    served from just after the Last-Event-ID it sends. One message in the
    stream is not JSON.
    """

    def __init__(self, changes: list[str], cut_after: int) -> None:
        self.messages = changes[:10] + ["this is not json"] + changes[10:]
        self.cut_after = cut_after
        self.last_event_ids: list[str | None] = []
        stream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                resume = self.headers.get("Last-Event-ID")
                stream.last_event_ids.append(resume)
                first = int(resume) + 1 if resume is not None else 0
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(b": hello\n\n")
                for index in range(first, len(stream.messages)):
                    if resume is None and index == stream.cut_after:
                        return  # drop the connection mid-stream
                    self.wfile.write(
                        f"event: message\nid: {index}\ndata: {stream.messages[index]}\n\n".encode()
                    )
                    self.wfile.flush()
                time.sleep(30)  # then stay open and quiet, like a live stream

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v2/stream/recentchange"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_live_stream_resumes_after_a_drop_and_skips_bad_messages(kafka_bootstrap: str, new_topic) -> None:
    topic = new_topic("live")
    changes = (SHARED_DATA / "recentchange-enwiki-2023-07-29.ndjson").read_text().splitlines()
    articles = [json.loads(c) for c in changes if json.loads(c)["namespace"] == 0]
    stream = RecordedStream(changes, cut_after=40)
    try:
        done = run_producer(
            "live",
            "--url",
            stream.url,
            "--limit",
            str(len(articles)),
            "--topic",
            topic,
            "--bootstrap",
            kafka_bootstrap,
            timeout=120,
        )
    finally:
        stream.server.shutdown()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 malformed" in done.stdout and "1 reconnects" in done.stdout
    assert stream.last_event_ids == [None, "39"]

    records = consume_all(kafka_bootstrap, topic, expected=len(articles), idle_s=2)
    got = sorted((r.key.decode(), json.loads(r.value)["ts"]) for r in records)
    want = sorted((a["title"].replace(" ", "_"), a["timestamp"] * 1000) for a in articles)
    assert got == want  # each change once: resumed, not replayed from the start


def test_live_edits_resume_after_a_drop_skip_canaries_and_keep_each_event_as_it_came(
    kafka_bootstrap: str, new_topic
) -> None:
    topic = new_topic("live-edits")
    changes = (SHARED_DATA / "recentchange-enwiki-2023-07-29.ndjson").read_text().splitlines()
    canary = json.dumps(
        {**json.loads(changes[0]), "meta": {"domain": "canary", "dt": "2023-07-29T07:51:39Z"}}
    )
    stream = RecordedStream([*changes[:30], canary, *changes[30:]], cut_after=40)
    # Every message but the canary, the one that is not JSON too: the edit job dead-letters it.
    expected = [message for message in stream.messages if message != canary]
    try:
        done = run_producer(
            *("edits-live", "--url", stream.url, "--limit", str(len(expected))),
            *("--topic", topic, "--bootstrap", kafka_bootstrap),
            timeout=120,
        )
    finally:
        stream.server.shutdown()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "1 reconnects" in done.stdout and stream.last_event_ids == [None, "39"]

    records = consume_all(kafka_bootstrap, topic, expected=len(expected), idle_s=2)
    assert sorted(record.value.decode() for record in records) == sorted(expected)  # each once, as it came
    titles = {json.loads(change)["title"] for change in changes}
    assert {record.key.decode() for record in records} <= titles | {""}


def test_history_mode_writes_dump_files_the_replay_reads(tmp_path: Path) -> None:
    done = run_producer(
        "history",
        "--catalogue-size",
        "5000",
        "--views-per-minute",
        "500",
        "--from",
        "2026-01-01",
        "--days",
        "1",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    files = sorted(path.name for path in tmp_path.iterdir())
    assert len(files) == 24
    assert files[0] == "pageviews-20260101-010000.gz" and files[-1] == "pageviews-20260102-000000.gz"
    # The file named 13:00 holds the hour 12:00-13:00: its views follow the daily curve for hour 12.
    lines = gzip.decompress((tmp_path / "pageviews-20260101-130000.gz").read_bytes()).decode().splitlines()
    records = [parse_dump_line(line) for line in lines]
    assert {r.domain_code for r in records} == {"en"}
    assert records[0].title == "Main_Page" and records[0].views == max(r.views for r in records)
    assert sum(r.views for r in records) == pytest.approx(500 * 60 * DAILY_CURVE[12], rel=0.05)
