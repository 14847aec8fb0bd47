"""The Wikipedia source against a dumps site on loopback (tests/dumps_mirror.py), the real Kafka and S3.

Each run ends with every hour's page requests in Kafka exactly once (read as the streaming job reads
them, read_committed), compared with the views of the files the site served.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.dumps_site import HourSent, hour_file_path, hours_between, iso_hour
from stores.clients import kafka_security, new_topic
from tests.dumps_mirror import DumpsMirror, expected_views, hour_text
from tests.integration.test_batch import private_run, read_averages_rows
from tests.oracle import parse_page_request

# Across a month's end: the file of 2026-11-30 23:00-24:00 lives in the 2026-12 folder.
FIRST_HOUR = datetime(2026, 11, 30, 22, tzinfo=UTC)
WIKIS = frozenset({"en.wikipedia", "de.wikipedia"})


class SourceRun:
    """Private topics, S3 prefix and transactional id for runs of ``python -m producer wikipedia``."""

    def __init__(self, mirror: DumpsMirror, tmp_path: Path, chunk_events: int) -> None:
        tag = f"wp{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            **private_names(tag),
            "WIKITRENDS_WIKIPEDIA_POLL_SECONDS": "0.3",
            "WIKITRENDS_WIKIPEDIA_RETRY_BASE_SECONDS": "0.1",
            "WIKITRENDS_WIKIPEDIA_RETRY_MAX_SECONDS": "0.3",
            "WIKITRENDS_WIKIPEDIA_CHUNK_EVENTS": str(chunk_events),
            "WIKITRENDS_WIKIPEDIA_DOWNLOAD_DIR": str(tmp_path / "downloads"),
        }
        self.settings: Settings = load_settings(self.env)
        admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=self.settings.kafka.bootstrap)
        admin.create_topics([new_topic(self.settings.kafka, self.settings.kafka.pageviews_topic, 4)])
        admin.close()
        self.mirror = mirror
        self.log = tmp_path / f"{tag}.log"
        self.watchers: list[KafkaConsumer] = []

    def start(self, first: datetime, last: datetime) -> subprocess.Popen:
        command = [
            sys.executable, "-m", "producer", "wikipedia", "--base-url", self.mirror.base_url,
            "--wikis", "en,de", "--since", iso_hour(first), "--until", iso_hour(last),
        ]  # fmt: skip
        with self.log.open("a") as log:
            return subprocess.Popen(
                command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def finish(self, process: subprocess.Popen, timeout_s: float = 240) -> str:
        try:
            process.wait(timeout=timeout_s)
        finally:
            if process.poll() is None:
                process.kill()
        output = self.log.read_text()
        assert process.returncode == 0, output[-4000:]
        return output

    def committed(self, topic: str) -> list:
        consumer = KafkaConsumer(
            topic,
            **kafka_security(),
            bootstrap_servers=self.settings.kafka.bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=3000,
            max_poll_records=10_000,
        )
        try:
            return list(consumer)
        finally:
            consumer.close()

    def views_sent(self) -> dict[datetime, Counter]:
        """(hour -> (project, title) -> page requests) of everything committed to the page-request topic."""
        hours: dict[datetime, Counter] = {}
        for message in self.committed(self.settings.kafka.pageviews_topic):
            request = parse_page_request(message.value, int(time.time() * 1000))
            hour = datetime.fromtimestamp(request.ts // 3_600_000 * 3600, UTC)
            hours.setdefault(hour, Counter())[(request.project, request.title)] += 1
            assert message.key == request.title.encode()
        return hours

    def ledger(self) -> list[HourSent]:
        return [HourSent.decode(m.value) for m in self.committed(self.settings.kafka.wikipedia_hours_topic)]

    def close(self) -> None:
        for consumer in self.watchers:
            consumer.close()

    def watch_ledger(self):
        """A function giving the newest committed ledger record of each hour, read as they come."""
        consumer = KafkaConsumer(
            **kafka_security(),
            bootstrap_servers=self.settings.kafka.bootstrap,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        topic = self.settings.kafka.wikipedia_hours_topic
        newest: dict[str, HourSent] = {}

        def poll() -> dict[str, HourSent]:
            if not consumer.assignment():
                if topic not in consumer.topics():  # the source creates it
                    time.sleep(0.1)
                    return newest
                consumer.assign([TopicPartition(topic, 0)])
            for batch in consumer.poll(timeout_ms=100).values():
                for message in batch:
                    record = HourSent.decode(message.value)
                    newest[record.hour] = record
            return newest

        self.watchers.append(consumer)
        return poll


@pytest.fixture
def mirror():
    site = DumpsMirror().start()
    yield site
    site.stop()


def publish(mirror: DumpsMirror, hours: list[datetime]) -> dict[datetime, str]:
    texts = {hour: hour_text(index) for index, hour in enumerate(hours)}
    for hour, text in texts.items():
        mirror.publish(hour, text)
    return texts


def assert_each_hour_once(run: SourceRun, texts: dict[datetime, str]) -> None:
    sent = run.views_sent()
    assert sorted(sent) == sorted(texts)
    for hour, text in texts.items():
        expected = expected_views(text, WIKIS, run.settings)
        assert sent[hour] == expected, (
            f"{iso_hour(hour)}: {sum(sent[hour].values())} sent, {sum(expected.values())} in the file"
        )


def test_every_hour_sent_once_through_the_sites_faults(mirror: DumpsMirror, tmp_path: Path) -> None:
    hours = hours_between(FIRST_HOUR, FIRST_HOUR + timedelta(hours=5))
    texts = publish(mirror, hours[:-1])  # the last hour appears while the source runs
    mirror.fail(hours[1], "503", "503")
    mirror.fail(hours[2], "truncate")
    mirror.fail(hours[3], "corrupt")
    mirror.fail(hours[4], "404", "404", "404")
    run = SourceRun(mirror, tmp_path, chunk_events=5_000)
    process = run.start(hours[0], hours[-1])
    deadline = time.monotonic() + 180
    while not any(r.hour == iso_hour(hours[4]) and r.done for r in run.ledger()):
        assert process.poll() is None and time.monotonic() < deadline, run.log.read_text()[-4000:]
        time.sleep(0.5)
    assert "waiting for " + iso_hour(hours[5]) in run.log.read_text()
    texts[hours[5]] = hour_text(5)
    mirror.publish(hours[5], texts[hours[5]])
    output = run.finish(process)

    assert_each_hour_once(run, texts)
    assert mirror.gets_of(hours[1]) == 3  # two 503s, then the file
    truncated = hours[2] + timedelta(hours=1)  # the file is named after the end of its hour
    assert [path for path, _ in mirror.ranges] == [f"2026/2026-12/pageviews-{truncated:%Y%m%d-%H}0000.gz"]
    assert mirror.gets_of(hours[2]) == 2  # cut off, then the rest from where it stopped
    assert mirror.gets_of(hours[3]) == 2 and "is not the published" in output  # corrupt, then whole again
    assert mirror.gets_of(hours[4]) == 4  # 404 three times, then published
    # The 23:00-24:00 file of November's last day is in December's folder, and kept on S3 there.
    assert f"{run.settings.s3.dumps_prefix}/2026/2026-12/pageviews-20261201-000000.gz" in output


def test_a_source_killed_mid_hour_resumes_without_a_gap_or_a_duplicate(
    mirror: DumpsMirror, tmp_path: Path
) -> None:
    hours = hours_between(FIRST_HOUR, FIRST_HOUR + timedelta(hours=2))
    texts = {hour: hour_text(index, scale=20 if index == 1 else 1) for index, hour in enumerate(hours)}
    for hour, text in texts.items():
        mirror.publish(hour, text)
    run = SourceRun(mirror, tmp_path, chunk_events=2_000)
    process = run.start(hours[0], hours[-1])
    newest = run.watch_ledger()
    deadline = time.monotonic() + 180
    while True:  # kill it while the middle hour is part sent
        record = newest().get(iso_hour(hours[1]))
        if record is not None and 0 < record.sent < record.events:
            break
        assert process.poll() is None and time.monotonic() < deadline, run.log.read_text()[-4000:]
    process.send_signal(signal.SIGKILL)
    process.wait()
    output = run.finish(run.start(hours[0], hours[-1]))

    restart = output[output.rindex("wikipedia: de.wikipedia") :]
    assert restart.startswith(
        f"wikipedia: de.wikipedia, en.wikipedia from {mirror.base_url}, starting at {iso_hour(hours[1])}"
    )
    assert_each_hour_once(run, texts)
    assert mirror.gets_of(hours[1]) == 1  # the restart took the file kept on S3
    assert [h for h, r in newest().items() if r.done] == [iso_hour(h) for h in hours]
    run.close()


def test_a_backfill_from_the_site_equals_one_from_the_same_files_on_disk(
    mirror: DumpsMirror, tmp_path: Path, spark, s3_client
) -> None:
    first_day, last_day = "2026-11-30", "2026-12-01"
    hours = hours_between(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, 23, tzinfo=UTC))
    on_disk = tmp_path / "dumps"
    on_disk.mkdir()
    for index, hour in enumerate(hours):
        payload = mirror.publish(hour, hour_text(index, catalogue_size=150))
        (on_disk / hour_file_path(hour).rsplit("/", 1)[-1]).write_bytes(payload)
    mirror.fail(hours[5], "503")
    mirror.fail(hours[30], "truncate")

    from_site, from_disk = private_run(), private_run()
    log = from_site.in_session(
        "backfill.py", "--from-site", "--base-url", mirror.base_url, "--from", first_day, "--to", last_day,
        "--wikis", "en,de",
    )  # fmt: skip
    from_disk.in_session(
        "backfill.py", "--input", str(on_disk / "pageviews-*.gz"), "--from", first_day, "--to", last_day,
        "--wikis", "en,de",
    )  # fmt: skip

    assert "hours on S3: 48" in log and "keeping the articles of de.wikipedia, en.wikipedia" in log
    site_pointer, site_rows = read_averages_rows(s3_client, from_site)
    disk_pointer, disk_rows = read_averages_rows(s3_client, from_disk)
    assert site_pointer.days == disk_pointer.days == 2
    key = lambda row: (row["project"], row["title"])  # noqa: E731
    assert sorted(site_rows, key=key) == sorted(disk_rows, key=key)
    assert {row["project"] for row in site_rows} == WIKIS
    assert ("en.wikipedia", "Zoë_Saldaña") in {key(row) for row in site_rows}
    assert not any(row["title"] == "Main_Page" for row in site_rows)
    # A second backfill of the same days downloads nothing: S3 has every hour.
    downloads = sum(mirror.downloads.values())
    from_site.in_session("backfill.py", "--from-site", "--base-url", mirror.base_url, "--from", first_day,
                         "--to", last_day)  # fmt: skip
    assert sum(mirror.downloads.values()) == downloads
