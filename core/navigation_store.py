"""Reading one article's navigation summary from the ingested clickstream on S3.

The ingest job (batch/clickstream.py) keeps, per wiki and month, per-article summaries split into
``[navigation] summary_buckets`` files by a hash of the title; ``current.json`` names the current
version of each month. A lookup reads the pointer (at most once a minute) and the one bucket that can
hold the title (kept decoded for the newest month: a list's articles share few buckets), so it costs
one small S3 read at most.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import OrderedDict

import pyarrow.parquet as pq

from core import clickstream
from core.clickstream import Navigation, Outgoing, Referrer
from core.config import Settings
from core.contracts import clickstream_pointer_key, clickstream_summaries_key

POINTER_SECONDS = 60.0  # a new month appears once a month: re-reading the pointer each minute is plenty
CACHED_BUCKETS = 16


class NoClickstream(LookupError):
    """The article's wiki has no clickstream month ingested; the message says which wiki."""


class NavigationStore:
    """Looks articles up in the newest month of their wiki's clickstream. Thread-safe."""

    def __init__(self, settings: Settings, client=None) -> None:
        from core.clients import s3_client

        self.settings = settings
        self.client = client or s3_client(settings, attempts=2)  # a page waits on it: fail fast
        self._lock = threading.Lock()
        self._pointer: tuple[float, dict[str, dict[str, str]]] | None = None
        self._buckets: OrderedDict[tuple[str, str, str, int], dict[str, dict]] = OrderedDict()

    def months(self) -> dict[str, dict[str, str]]:
        """wiki -> month -> current version (re-read at most every POINTER_SECONDS)."""
        with self._lock:
            if self._pointer and time.monotonic() - self._pointer[0] < POINTER_SECONDS:
                return self._pointer[1]
        try:
            body = self.client.get_object(
                Bucket=self.settings.s3.bucket, Key=clickstream_pointer_key(self.settings.s3)
            )["Body"].read()
            months = json.loads(body)
        except self.client.exceptions.NoSuchKey:
            months = {}
        with self._lock:
            self._pointer = (time.monotonic(), months)
        return months

    def newest_month(self, wiki: str) -> tuple[str, str] | None:
        """(month, version) of the newest month ingested for ``wiki``, or None."""
        versions = self.months().get(wiki)
        if not versions:
            return None
        month = max(versions)
        return month, versions[month]

    def lookup(self, project: str, title: str, month: str | None = None) -> Navigation | None:
        """The article's summary in ``month`` (default: the newest month of its wiki); None when that month
        does not have it. NoClickstream when its wiki has no such month (or is not a Wikipedia).
        """
        wiki = clickstream.wiki_of_project(project)
        versions = self.months().get(wiki, {}) if wiki else {}
        month = month or max(versions, default=None)
        if wiki is None or month not in versions:
            raise NoClickstream(
                f"no clickstream has been ingested for {project}{f' in {month}' if month else ''}"
            )
        version = versions[month]
        row = self._bucket(wiki, month, version, title).get(title)
        return None if row is None else summary_navigation(row, project, month)

    def _bucket(self, wiki: str, month: str, version: str, title: str) -> dict[str, dict]:
        bucket = clickstream.summary_bucket(title, self.settings.navigation.summary_buckets)
        key = (wiki, month, version, bucket)
        with self._lock:
            if key in self._buckets:
                self._buckets.move_to_end(key)
                return self._buckets[key]
        rows = self._read_bucket(clickstream_summaries_key(self.settings.s3, wiki, month, version, bucket))
        with self._lock:
            self._buckets[key] = rows
            while len(self._buckets) > CACHED_BUCKETS:
                self._buckets.popitem(last=False)
        return rows

    def _read_bucket(self, prefix: str) -> dict[str, dict]:
        rows: dict[str, dict] = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.settings.s3.bucket, Prefix=prefix + "/"
        )
        for page in pages:
            for item in page.get("Contents", []):
                if not item["Key"].endswith(".parquet"):
                    continue
                body = self.client.get_object(Bucket=self.settings.s3.bucket, Key=item["Key"])["Body"].read()
                for row in pq.read_table(io.BytesIO(body)).to_pylist():
                    rows[row["title"]] = row
        return rows


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
