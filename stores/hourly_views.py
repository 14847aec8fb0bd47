"""One article's views per hour, read from the hourly counts files on S3 without reading whole files.

The files are sorted by (project, title) in row groups with min/max statistics
(core.hourly_counts), so one article's count of one hour costs one ranged GET
of the row group that holds it; the file's footer is read once and kept,
since an hour's file is written once. The hours are read side by side in a
few threads (each GET waits on the network, not the interpreter).
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

from core.config import Settings
from core.contracts import hourly_counts_key
from core.hourly_counts import row_group_ranges, row_groups_holding
from stores.recent import RecentEntries

# A missing hour (not written yet) is asked for again after this long.
MISSING_RECHECK_SECONDS = 60
FOOTERS_KEPT = 72  # three days of hours: the last 24 hours of any request, with room to spare
HOURLY_VIEWS_COLUMNS = ["project", "title", "views"]  # what an article's page reads of each hour


class S3RangeFile(io.RawIOBase):
    """A read-only file over one S3 object: every read is a ranged GET, so Parquet reads only what it
    needs (the footer, then the row groups asked for)."""

    def __init__(self, client, bucket: str, key: str, size: int) -> None:
        self.client, self.bucket, self.key, self.size = client, bucket, key, size
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        end = min(self.size, self.position + len(buffer))
        if end <= self.position:
            return 0
        answer = self.client.get_object(
            Bucket=self.bucket, Key=self.key, Range=f"bytes={self.position}-{end - 1}"
        )
        data = answer["Body"].read()
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)


class _Footer:
    """A file's size, Parquet metadata and row groups' key ranges, or that it was missing when asked."""

    def __init__(self, size: int = 0, metadata=None, ranges=None, missing_since: float | None = None):
        self.size, self.metadata, self.ranges, self.missing_since = size, metadata, ranges, missing_since


class HourlyViewsReader:
    """Reads an article's views of given hours from the hourly counts files (stores' side, blocking:
    the site calls it in a worker thread)."""

    def __init__(self, settings: Settings, client=None, threads: int = 8) -> None:
        from stores.clients import s3_client

        self.settings = settings
        self.client = client or s3_client(settings, attempts=1)
        self._footers = RecentEntries(FOOTERS_KEPT)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hourly-views")

    def views(self, project: str, title: str, hour_starts: list[int]) -> dict[int, int | None]:
        """Views of ``(project, title)`` per hour start: 0 when the hour's file does not list it, None
        when there is no file for the hour. Errors of S3 (botocore's) are raised to the caller."""
        counts = self._pool.map(lambda hour: self._views_in(project, title, hour), hour_starts)
        return dict(zip(hour_starts, counts, strict=True))

    def _views_in(self, project: str, title: str, hour_start_ms: int) -> int | None:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        key = hourly_counts_key(self.settings.s3, hour_start_ms)
        footer = self._footer(key)
        if footer.metadata is None:
            return None
        groups = row_groups_holding(footer.ranges, project, title)
        if not groups:
            return 0
        source = S3RangeFile(self.client, self.settings.s3.bucket, key, footer.size)
        table = pq.ParquetFile(source, metadata=footer.metadata, pre_buffer=True).read_row_groups(
            groups, columns=HOURLY_VIEWS_COLUMNS
        )
        found = table.filter(pc.and_(pc.equal(table["project"], project), pc.equal(table["title"], title)))
        return int(pc.sum(found["views"]).as_py() or 0)

    def _footer(self, key: str) -> _Footer:
        import pyarrow.parquet as pq
        from botocore.exceptions import ClientError

        footer = self._footers.get(key)
        if footer is not None and (
            footer.missing_since is None or time.monotonic() - footer.missing_since < MISSING_RECHECK_SECONDS
        ):
            return footer
        try:
            size = self.client.head_object(Bucket=self.settings.s3.bucket, Key=key)["ContentLength"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            footer = _Footer(missing_since=time.monotonic())
        else:
            metadata = pq.ParquetFile(S3RangeFile(self.client, self.settings.s3.bucket, key, size)).metadata
            footer = _Footer(size, metadata, row_group_ranges(metadata))
        self._footers.put(key, footer)
        return footer
