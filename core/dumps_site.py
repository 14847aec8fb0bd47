"""Wikimedia's dumps site for hourly page views: where an hour's file is, what a listing and a checksum
file say, how long to wait before trying again, and the ledger of hours sent.

The site keeps one folder per month, ``<base>/YYYY/YYYY-MM/``, listed as an HTML index (an ``<a
href>`` per file) and holding ``pageviews-YYYYMMDD-HH0000.gz`` per hour (the name gives the END of
the hour, core/dumps.py) beside ``md5sums.txt`` (``<md5>  <file name>`` per line, as md5sum writes).
No I/O here: producer/dumps_site.py talks to the site, producer/wikipedia.py follows it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from core.dumps import dump_file_name, dump_hour_start

HOUR = timedelta(hours=1)
_HREF = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)
_CHECKSUM_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{32,128})\s+\*?(?P<name>\S+)\s*$")


def month_folder(hour_start: datetime) -> str:
    """The month folder holding an hour's file, relative to the base URL: ``2026/2026-12/``.

    The file of 23:00-24:00 on a month's last day is named after the next day's 00:00 and lives in
    the next month's folder, as Wikimedia publishes it.
    """
    stamp = hour_start + HOUR  # the file's name and folder follow the end of its hour
    return f"{stamp:%Y}/{stamp:%Y-%m}/"


def hour_file_path(hour_start: datetime) -> str:
    """An hour's file relative to the base URL: ``2026/2026-12/pageviews-20261207-050000.gz``."""
    return month_folder(hour_start) + dump_file_name(hour_start)


def listed_file_names(index_html: str) -> list[str]:
    """The file names an HTML folder index links to (folders, parents and queries left out)."""
    names = []
    for href in _HREF.findall(index_html):
        name = unquote(href.rsplit("/", 1)[-1]) if not href.endswith("/") else ""
        if name and name not in names:
            names.append(name)
    return names


def listed_hours(file_names: list[str]) -> list[datetime]:
    """The hours (their UTC start) whose ``pageviews-…gz`` file is among ``file_names``, in order."""
    hours = set()
    for name in file_names:
        if name.startswith("pageviews-") and name.endswith(".gz"):
            try:
                hours.add(dump_hour_start(name))
            except ValueError:
                continue
    return sorted(hours)


def parse_checksums(text: str) -> dict[str, str]:
    """``<hex digest>  <file name>`` lines (md5sum's text or binary ``*`` form) -> name: lower-case digest.

    Lines that are not of that shape are ignored: the file is published by people as well as scripts.
    """
    digests = {}
    for line in text.splitlines():
        match = _CHECKSUM_LINE.match(line.strip())
        if match:
            digests[match["name"].rsplit("/", 1)[-1]] = match["digest"].lower()
    return digests


def hours_between(first: datetime, last: datetime) -> list[datetime]:
    """Every hour start from ``first`` to ``last`` inclusive."""
    hours, hour = [], first
    while hour <= last:
        hours.append(hour)
        hour += HOUR
    return hours


def floor_hour(moment: datetime) -> datetime:
    """The start of the UTC hour holding ``moment``."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def retry_delay(failures: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds to wait after the ``failures``-th failure in a row: doubling from base, capped."""
    return min(max_seconds, base_seconds * 2 ** max(failures - 1, 0))


def stream_id(projects: frozenset[str], articles_only: bool, seed: int) -> str:
    """The ledger's name for one choice of wikis, filter and seed: another choice sends other requests."""
    pages = "articles" if articles_only else "all-pages"
    return f"{'+'.join(sorted(projects)) or 'all-wikis'}.{pages}.seed-{seed}"


@dataclass(frozen=True)
class HourSent:
    """One ledger record: how many of an hour's page requests are committed to Kafka, out of how many.

    Written in the same Kafka transaction as the page requests it counts, so the newest committed
    record of an hour is exactly what was sent: a restart resumes after ``sent``.
    """

    stream: str
    hour: str  # ISO 8601 UTC start of the hour
    file: str
    digest: str  # the checksum the file was verified with ("" when none was published)
    events: int  # page requests the hour makes, after the filters
    sent: int  # of them committed, in their seeded order

    @property
    def done(self) -> bool:
        return self.sent >= self.events

    @property
    def key(self) -> bytes:
        return f"{self.stream}|{self.hour}".encode()

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> HourSent:
        return cls(**json.loads(payload))


def iso_hour(hour_start: datetime) -> str:
    return hour_start.astimezone(UTC).strftime("%Y-%m-%dT%H:00:00Z")


def parse_iso_hour(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:00:00Z").replace(tzinfo=UTC)


def newest_per_hour(records: list[HourSent], stream: str) -> dict[datetime, HourSent]:
    """The ledger as it stands for one stream: each hour's newest record (records in topic order)."""
    ledger: dict[datetime, HourSent] = {}
    for record in records:
        if record.stream == stream:
            ledger[parse_iso_hour(record.hour)] = record
    return ledger


def first_hour_to_send(
    ledger: dict[datetime, HourSent], since: datetime | None, newest: datetime
) -> datetime:
    """Where to start: after the last hour done (an unfinished one resumes), else ``since``.

    With no ledger and no ``since``, the newest published hour. A ``since`` earlier than the ledger's
    first hour does not send the hours the ledger already covers again.
    """
    done = sorted(hour for hour, record in ledger.items() if record.done)
    unfinished = sorted(hour for hour, record in ledger.items() if not record.done)
    if unfinished:
        return unfinished[0]
    if done:
        return done[-1] + HOUR
    return since if since is not None else newest
