"""Real Wikipedia: follow Wikimedia's hourly pageview files and send each hour's views as page requests.

For each hour from the start on: the verified file is taken from S3 when an earlier run kept it, else
downloaded from the dumps site (resumed, checked against the month's checksum file) and kept on S3 for
the backfill and later runs; its lines pass replay's filters (wikis, articles) and its views are spread
over the hour as ``replay`` does (seeded, so the same file always gives the same page requests in the
same order). They go to Kafka in transactions of ``chunk_events``, each with a ledger record of how many
of the hour's page requests are now committed, so a restart resumes exactly where the last commit ended:
no hour skipped, none sent twice. An hour not published yet is waited for.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from botocore.exceptions import ClientError

from core.config import Settings
from core.dumps import dump_file_name
from core.dumps_site import HOUR, HourSent, floor_hour, hour_file_path, iso_hour, listed_hours, month_folder
from producer.dumps_site import DumpsSite, HourNotPublished, SiteUnavailable, seconds
from producer.replay import ReplayStats, encoded_pages, page_requests, read_hour, spread_over_hour
from producer.sink import PageRequestSink, Progress, StopFlag
from producer.storage import read_text_lines
from stores.clients import s3_client

log = logging.getLogger("producer.wikipedia")
DIGEST_METADATA = "digest"  # S3 user metadata: the checksum the kept file was verified with


class LedgerMismatch(RuntimeError):
    """The ledger's record of an hour does not fit its file: the file changed after part was sent."""


class DumpsArchive:
    """The verified hourly files kept on S3 under ``[s3] dumps_prefix``, in the dumps site's layout."""

    def __init__(self, settings: Settings) -> None:
        self.client = s3_client(settings)
        self.bucket = settings.s3.bucket
        self.prefix = settings.s3.dumps_prefix.strip("/")

    def key(self, hour_start: datetime) -> str:
        return f"{self.prefix}/{hour_file_path(hour_start)}"

    def uri(self, hour_start: datetime) -> str:
        return f"s3://{self.bucket}/{self.key(hour_start)}"

    def digest_of(self, hour_start: datetime) -> str | None:
        """The kept file's digest ("" if it was kept unverified), or None when it is not kept."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.key(hour_start))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return head.get("Metadata", {}).get(DIGEST_METADATA, "")

    def fetch(self, hour_start: datetime, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.client.download_file(self.bucket, self.key(hour_start), str(destination))

    def keep(self, hour_start: datetime, local: Path, digest: str) -> None:
        self.client.upload_file(
            str(local), self.bucket, self.key(hour_start), ExtraArgs={"Metadata": {DIGEST_METADATA: digest}}
        )


class HourFiles:
    """An hour's verified file on this machine: from S3 when kept there, else from the site, then kept."""

    def __init__(
        self, site: DumpsSite, archive: DumpsArchive, settings: Settings, clock=time.monotonic
    ) -> None:
        self.site, self.archive, self.clock = site, archive, clock
        self.folder = settings.wikipedia.download_path(settings.stack)
        self.unverified_after_s = settings.wikipedia.unverified_after_minutes * 60
        self._listed_without_digest: dict[datetime, float] = {}
        self._months: dict[str, tuple[list[datetime], dict[str, str]]] = {}  # what each folder said
        self.bytes_downloaded = 0

    def local_path(self, hour_start: datetime) -> Path:
        return self.folder / dump_file_name(hour_start)

    def get(self, hour_start: datetime) -> tuple[Path, str]:
        """(local file, digest it was verified with); HourNotPublished while the site lacks it."""
        digest = self.keep(hour_start)
        local = self.local_path(hour_start)
        if not local.exists():
            self.archive.fetch(hour_start, local)
        return local, digest

    def keep(self, hour_start: datetime) -> str:
        """Make sure the hour's verified file is kept on S3, downloading it first if it is not; its digest.

        A file it downloads stays in the download folder until ``done_with``.
        """
        kept = self.archive.digest_of(hour_start)
        if kept is not None:
            return kept
        name, local = dump_file_name(hour_start), self.local_path(hour_start)
        listed, digest = self._published(hour_start)
        if not listed:
            raise HourNotPublished(f"{name} is not listed yet")
        if not digest:
            first_seen = self._listed_without_digest.setdefault(hour_start, self.clock())
            if self.clock() - first_seen < self.unverified_after_s:
                raise HourNotPublished(f"{name} is listed but its checksum is not published yet")
            log.warning(
                "%s: no checksum published %s after it was listed; sending it unverified",
                name,
                seconds(self.clock() - first_seen),
            )
        self.site.download(hour_start, local, digest)
        size = local.stat().st_size
        self.bytes_downloaded += size
        self.archive.keep(hour_start, local, digest)
        log.info("%s: %s bytes verified and kept at %s", name, f"{size:,}", self.archive.uri(hour_start))
        return digest

    def _published(self, hour_start: datetime) -> tuple[bool, str]:
        """Whether the hour's file is listed, and its published digest ("" if none yet). A month's listing
        and checksums are read again only when they lack the hour: a backfill of a month reads them
        once, not once an hour."""
        month, name = month_folder(hour_start), dump_file_name(hour_start)
        hours, digests = self._months.get(month, ((), {}))
        if hour_start not in hours or name not in digests:
            hours, digests = listed_hours(self.site.month_files(hour_start)), self.site.checksums(hour_start)
            self._months[month] = (hours, digests)
        return hour_start in hours, digests.get(name, "")

    def done_with(self, hour_start: datetime) -> None:
        self.local_path(hour_start).unlink(missing_ok=True)


def newest_published_hour(site: DumpsSite, now: datetime) -> datetime | None:
    """The newest hour listed in this month's folder or the previous one."""
    this_month = floor_hour(now) - HOUR
    for month_hour in (this_month, this_month.replace(day=1) - HOUR):
        hours = listed_hours(site.month_files(month_hour))
        if hours:
            return hours[-1]
    return None


@dataclass
class HourSender:
    """Sends one hour's page requests in ledger-recorded transactions (see the module's docstring)."""

    sink: PageRequestSink
    ledger_topic: str
    stream: str
    settings: Settings
    projects: frozenset[str]
    articles_only: bool
    seed: int
    stop: StopFlag
    replay_stats: ReplayStats = field(default_factory=ReplayStats)
    events_sent: int = 0

    def send(self, hour_start: datetime, local: Path, digest: str, previous: HourSent | None) -> bool:
        """Send what the ledger lacks of the hour; True once the whole hour is committed."""
        started = time.monotonic()
        hour_ms = int(hour_start.timestamp() * 1000)
        articles = self.settings.articles if self.articles_only else None
        with read_text_lines(str(local), self.settings) as lines:
            views = read_hour(lines, hour_ms, self.projects, articles, self.replay_stats, local.name)
        pages, timestamps = spread_over_hour(views.views, hour_ms, self.seed)
        total, sent = int(pages.size), previous.sent if previous else 0
        if previous is not None and previous.events != total:
            raise LedgerMismatch(
                f"{local.name}: the ledger says {previous.events:,} page requests, the file now gives "
                f"{total:,} (was it replaced after {sent:,} were sent?)"
            )
        record = HourSent(self.stream, iso_hour(hour_start), local.name, digest, total, sent)
        encoded = encoded_pages(views)
        chunk = self.settings.wikipedia.chunk_events
        progress = Progress(f"page requests of {iso_hour(hour_start)} sent", total=total)
        while sent < total or (previous is None and sent == total == 0):
            if self.stop.is_set():
                log.warning(
                    "stopped by %s after %s of %s page requests of %s",
                    self.stop.reason,
                    f"{sent:,}",
                    f"{total:,}",
                    record.hour,
                )
                return False
            end = min(sent + chunk, total)
            keys, values = page_requests(encoded, pages[sent:end].tolist(), timestamps[sent:end].tolist())
            record = HourSent(self.stream, record.hour, record.file, digest, total, end)
            self.sink.send_transaction(keys, values, [(self.ledger_topic, record.key, record.encode())])
            self.events_sent += end - sent
            sent, previous = end, record
            progress.update(sent)
        log.info(
            "%s: %s page requests of %s pages committed in %.0f s",
            record.hour,
            f"{total:,}",
            f"{len(views.titles):,}",
            time.monotonic() - started,
        )
        return True


def follow(
    files: HourFiles,
    sender: HourSender,
    ledger: dict[datetime, HourSent],
    first: datetime,
    until: datetime | None,
    once: bool,
) -> int:
    """Send every hour from ``first`` (to ``until``), waiting for each to be published; hours sent."""
    settings, stop = sender.settings.wikipedia, sender.stop
    hour, waiting_for, hours_sent = first, None, 0
    while not stop.is_set() and (until is None or hour <= until):
        try:
            local, digest = files.get(hour)
        except HourNotPublished as why:
            if once:
                log.info("%s: %s; stopping (--once)", iso_hour(hour), why)
                break
            if waiting_for != hour:
                log.info(
                    "waiting for %s: %s (files appear about 45 minutes after their hour); looking "
                    "again every %s",
                    iso_hour(hour),
                    why,
                    seconds(settings.poll_seconds),
                )
                waiting_for = hour
            stop.wait(settings.poll_seconds)
            continue
        except SiteUnavailable as error:
            log.error("%s; looking again in %s", error, seconds(settings.poll_seconds))
            stop.wait(settings.poll_seconds)
            continue
        if not sender.send(hour, local, digest, ledger.get(hour)):
            break
        files.done_with(hour)
        hours_sent += 1
        hour += HOUR
    return hours_sent
