"""Fetch days of Wikimedia's hourly pageview files into S3 for the backfill: what S3 lacks only.

The files are downloaded, verified and kept exactly as the Wikipedia source does (producer/wikipedia.py),
under ``[s3] dumps_prefix`` in the dumps site's layout, so the source and the backfill share them.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from batch.storage import BatchError
from core.config import Settings
from core.dumps_site import hours_between, month_folder
from producer.dumps_site import DumpsSite, HourNotPublished, RetryPolicy, SiteUnavailable
from producer.sink import Progress, StopFlag
from producer.wikipedia import DumpsArchive, HourFiles

log = logging.getLogger("batch.dumps_fetch")


def last_whole_days(days: int, now: datetime) -> tuple[str, str]:
    """The first and last of the ``days`` whole UTC days before ``now``'s day, as YYYY-MM-DD."""
    today = now.astimezone(UTC).date()
    return f"{today - timedelta(days=days):%Y-%m-%d}", f"{today - timedelta(days=1):%Y-%m-%d}"


def fetch_days(settings: Settings, base_url: str, first_day: str, last_day: str) -> list[str]:
    """Keep every hour of the days on S3 (from the site when missing); the s3a globs that hold them.

    Raises BatchError naming the hours the site does not have.
    """
    first = datetime.fromisoformat(first_day).replace(tzinfo=UTC)
    last = datetime.fromisoformat(last_day).replace(tzinfo=UTC) + timedelta(hours=23)
    hours = hours_between(first, last)
    stop = StopFlag().install()
    site = DumpsSite(base_url, settings.wikipedia.checksum_file, RetryPolicy.of(settings.wikipedia), stop)
    archive = DumpsArchive(settings)
    files = HourFiles(site, archive, settings)
    progress = Progress("hours on S3", total=len(hours), out=log.info)
    missing = []
    try:
        for done, hour in enumerate(hours, start=1):
            try:
                files.keep(hour)
            except HourNotPublished as why:
                missing.append(f"{hour:%Y-%m-%dT%H}:00Z ({why})")
            except SiteUnavailable as error:
                raise BatchError(f"the dumps site at {base_url} failed: {error}") from None
            finally:
                files.done_with(hour)
            progress.update(
                done, detail=f"{files.bytes_downloaded / 1e6:,.0f} MB downloaded", force=done == len(hours)
            )
    finally:
        site.close()
    if missing:
        raise BatchError(f"{len(missing)} hour(s) are not on {base_url}: {', '.join(missing[:5])}")
    folders = sorted({month_folder(hour) for hour in hours})
    prefix = f"s3a://{settings.s3.bucket}/{settings.s3.dumps_prefix.strip('/')}"
    return [f"{prefix}/{folder}pageviews-*.gz" for folder in folders]
