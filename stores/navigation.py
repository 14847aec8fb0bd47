"""Reading one article's navigation summary from the ingested clickstream on S3.

The ingest job (batch/clickstream.py) keeps, per wiki and month, per-article summaries split into
``[navigation] summary_buckets`` files by a hash of the title; ``current.json`` names the current
version of each month. A lookup reads the pointer (at most once a minute) and the one bucket that can
hold the title, so it costs one small S3 read at most; the rows of titles already looked up are kept,
so a list that changes each minute costs reads only for its new articles.
"""

from __future__ import annotations

import io
import threading
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core import clickstream
from core.clickstream import Navigation, Outgoing, Referrer
from core.config import Settings
from core.contracts import clickstream_pointer_key, clickstream_summaries_key
from stores.clients import list_keys, read_json_object, s3_client
from stores.recent import RecentEntries

POINTER_SECONDS = 60.0  # a new month appears once a month: re-reading the pointer each minute is plenty
CACHED_BUCKETS = 16
# Lists keep most of their articles from one minute to the next: their rows are kept, so that only the
# articles new to a list cost a bucket read.
CACHED_TITLES = 10_000
_MISSING = object()


class NoClickstream(LookupError):
    """The article's wiki has no clickstream month ingested; the message says which wiki."""


class NavigationStore:
    """Finds articles in the newest month of their wiki's clickstream. Thread-safe."""

    def __init__(self, settings: Settings, client=None) -> None:
        self.settings = settings
        self.client = client or s3_client(settings, attempts=2)  # a page waits on it: fail fast
        self._lock = threading.Lock()
        self._pointer: tuple[float, dict[str, dict[str, str]]] | None = None
        self._buckets = RecentEntries(CACHED_BUCKETS)  # (wiki, month, version, bucket) -> its Arrow table
        self._rows = RecentEntries(CACHED_TITLES)  # (wiki, month, version, title) -> row, or None: not there

    def months(self) -> dict[str, dict[str, str]]:
        """wiki -> month -> current version (re-read at most every POINTER_SECONDS)."""
        with self._lock:
            if self._pointer and time.monotonic() - self._pointer[0] < POINTER_SECONDS:
                return self._pointer[1]
        months = clickstream_months(self.client, self.settings)
        with self._lock:
            self._pointer = (time.monotonic(), months)
        return months

    def month_version(self, wiki: str, month: str | None = None) -> tuple[str, str] | None:
        """(month, version) of ``month`` of ``wiki`` (default: its newest), or None when not ingested."""
        versions = self.months().get(wiki, {})
        month = month or max(versions, default=None)
        return (month, versions[month]) if month in versions else None

    def find(self, project: str, title: str, month: str | None = None) -> tuple[str, Navigation | None]:
        """The month looked in (``month``, default the newest of the article's wiki) and the article's
        summary there, None when that month does not have it. NoClickstream when its wiki has no such
        month (or is not a Wikipedia).
        """
        wiki = clickstream.wiki_of_project(project)
        found = self.month_version(wiki, month) if wiki else None
        if found is None:
            raise NoClickstream(
                f"no clickstream has been ingested for {project}{f' in {month}' if month else ''}"
            )
        month, version = found
        row = self._rows.get((wiki, month, version, title), _MISSING)
        if row is _MISSING:
            row = row_of(self._bucket(wiki, month, version, title), title)
            self._rows.put((wiki, month, version, title), row)
        return month, None if row is None else summary_navigation(row, project, month)

    def _bucket(self, wiki: str, month: str, version: str, title: str) -> pa.Table:
        bucket = clickstream.summary_bucket(title, self.settings.navigation.summary_buckets)
        table = self._buckets.get((wiki, month, version, bucket), _MISSING)
        if table is _MISSING:
            table = self._read_bucket(
                clickstream_summaries_key(self.settings.s3, wiki, month, version, bucket)
            )
            self._buckets.put((wiki, month, version, bucket), table)
        return table

    def _read_bucket(self, prefix: str) -> pa.Table | None:
        """The bucket's summaries as one Arrow table (kept columnar: an enwiki bucket holds some 20,000
        articles, whose rows as Python objects would take a hundred times the memory); None when empty."""
        bucket = self.settings.s3.bucket
        # Small files, read in the calling thread: no Arrow thread pool is started for them, so a one-shot
        # process (python -m batch.navigation --once) has none to tear down at exit (one such exit aborted
        # with "terminate called without an active exception" on a CI run).
        tables = [
            pq.read_table(
                io.BytesIO(self.client.get_object(Bucket=bucket, Key=key)["Body"].read()),
                use_threads=False,
                pre_buffer=False,
            )
            for key in list_keys(self.client, bucket, prefix + "/")
            if key.endswith(".parquet")
        ]
        return pa.concat_tables(tables) if tables else None


def row_of(summaries: pa.Table | None, title: str) -> dict | None:
    """The summary row of ``title`` in a bucket's table, None when the bucket does not have it."""
    if summaries is None:
        return None
    rows = summaries.filter(pc.equal(summaries["title"], title)).to_pylist()
    return rows[0] if rows else None


def clickstream_months(client, settings: Settings) -> dict[str, dict[str, str]]:
    """The current version of each wiki's clickstream months, read now ({} when none was ingested)."""
    return read_json_object(client, settings.s3.bucket, clickstream_pointer_key(settings.s3)) or {}


def summary_navigation(row: dict, project: str, month: str) -> Navigation:
    """A summary row of the ingest job (batch/clickstream.py) as a Navigation, shares computed here."""
    incoming, outgoing = row["incoming"], row["outgoing"]
    return Navigation(
        project=project,
        title=row["title"],
        month=month,
        incoming=incoming,
        sources={source: row[clickstream.source_column(source)] for source in clickstream.SOURCES},
        top_referrers=[
            Referrer(r["title"], r["source"], r["clicks"], clickstream.share(r["clicks"], incoming))
            for r in row["referrers"] or []
        ],
        outgoing=outgoing,
        top_outgoing=[
            Outgoing(o["title"], o["clicks"], clickstream.share(o["clicks"], outgoing))
            for o in row["outgoing_links"] or []
        ],
    )
