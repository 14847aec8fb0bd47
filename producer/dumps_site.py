"""Talking to Wikimedia's dumps site (or a mirror): month listings, checksum files and resumable,
verified downloads, with retries and backoff on connection errors, 5xx answers and bad files.

The layout and the parsing are core/dumps_site.py; this module only does the HTTP.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx

from core.dumps_site import hour_file_path, listed_file_names, month_folder, parse_checksums, retry_delay
from core.settings import WikipediaSettings
from producer.sink import Progress, StopFlag

log = logging.getLogger("producer.dumps_site")
DOWNLOAD_BLOCK = 1 << 20
USER_AGENT = "wikitrends (https://github.com/; hourly trending from Wikimedia's pageview files)"


class HourNotPublished(Exception):
    """The hour's file is not on the site (yet): not listed, or listed but answering 404."""


class SiteUnavailable(Exception):
    """The site kept failing (connection errors, 5xx, bad files) for every retry in a row."""


class ChecksumMismatch(Exception):
    """A downloaded file's digest is not the published one."""


class TruncatedDownload(Exception):
    """The connection ended before the announced length."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    base_seconds: float
    max_seconds: float

    @classmethod
    def of(cls, settings: WikipediaSettings) -> RetryPolicy:
        return cls(settings.retry_attempts, settings.retry_base_seconds, settings.retry_max_seconds)


def _retryable(error: Exception) -> bool:
    if isinstance(error, httpx.HTTPStatusError):
        return error.response.status_code >= 500 or error.response.status_code == 429
    return isinstance(error, httpx.TransportError | ChecksumMismatch | TruncatedDownload)


class DumpsSite:
    """One dumps site: its base URL (``…/other/pageviews``) and the month folders under it."""

    def __init__(
        self,
        base_url: str,
        checksum_file: str,
        retry: RetryPolicy,
        stop: StopFlag,
        timeout_s: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.checksum_file = checksum_file
        self.retry = retry
        self.stop = stop
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=15.0),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )

    def close(self) -> None:
        self.http.close()

    def url_of(self, relative: str) -> str:
        return self.base_url + relative

    def _with_retries(self, what: str, attempt: Callable[[], object]):
        """Run ``attempt`` until it succeeds; retryable failures wait with backoff, others raise."""
        for failure in range(1, self.retry.attempts + 1):
            try:
                return attempt()
            except Exception as error:
                if not _retryable(error):
                    raise
                if failure == self.retry.attempts:
                    raise SiteUnavailable(f"{what}: {describe(error)} ({failure} tries in a row)") from None
                delay = retry_delay(failure, self.retry.base_seconds, self.retry.max_seconds)
                log.warning("%s: %s; trying again in %s", what, describe(error), seconds(delay))
                if self.stop.wait(delay):
                    raise SiteUnavailable(f"{what}: stopped by {self.stop.reason}") from None
        raise AssertionError("unreachable")

    def _get_text(self, relative: str) -> str | None:
        """The text at ``relative``, or None when the site answers 404."""

        def attempt() -> str | None:
            response = self.http.get(self.url_of(relative))
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.text

        return self._with_retries(f"reading {self.url_of(relative)}", attempt)

    def month_files(self, hour_start: datetime) -> list[str]:
        """The file names in the month folder of ``hour_start`` (empty when the folder does not exist)."""
        listing = self._get_text(month_folder(hour_start))
        return listed_file_names(listing) if listing is not None else []

    def checksums(self, hour_start: datetime) -> dict[str, str]:
        """The month's published digests by file name (empty when the checksum file is missing)."""
        text = self._get_text(month_folder(hour_start) + self.checksum_file)
        return parse_checksums(text) if text is not None else {}

    def download(self, hour_start: datetime, destination: Path, digest: str) -> Path:
        """Download an hour's file to ``destination``, resuming a partial one, verified against ``digest``.

        ``digest`` "" means none is published: the file is kept unverified. Raises HourNotPublished on
        404, SiteUnavailable when every retry failed.
        """
        url = self.url_of(hour_file_path(hour_start))
        partial = destination.with_name(destination.name + ".partial")
        destination.parent.mkdir(parents=True, exist_ok=True)

        def attempt() -> Path:
            self._fetch_into(url, partial)
            if digest:
                found = file_digest(partial, len(digest))
                if found != digest:
                    partial.unlink()  # a resumed download cannot mend a wrong byte: start over
                    raise ChecksumMismatch(f"digest {found} is not the published {digest}")
            partial.replace(destination)
            return destination

        return self._with_retries(f"downloading {url}", attempt)

    def _fetch_into(self, url: str, partial: Path) -> None:
        """Stream ``url`` into ``partial``, continuing from its current length with a Range request."""
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        with self.http.stream("GET", url, headers=headers) as response:
            if response.status_code == 404:
                raise HourNotPublished(f"{url} answers 404")
            if response.status_code == 416:  # nothing after what we have: the partial file is whole
                return
            response.raise_for_status()
            resumed = response.status_code == 206
            if have and not resumed:
                log.info("%s: the server does not resume downloads; starting again from byte 0", url)
                have = 0
            length = response.headers.get("Content-Length")
            total = have + int(length) if length is not None else None
            progress = Progress(f"downloading {url.rsplit('/', 1)[-1]} (bytes)", total=total)
            received = have
            with partial.open("ab" if resumed else "wb") as out:
                for block in response.iter_bytes():  # as it arrives: a cut connection keeps what came
                    out.write(block)
                    received += len(block)
                    progress.update(received)
            if total is not None and received < total:
                raise TruncatedDownload(f"got {received:,} of {total:,} bytes")
            if resumed:
                log.info("%s: resumed at byte %s, now %s bytes", url, f"{have:,}", f"{received:,}")


def file_digest(path: Path, hex_length: int = 32) -> str:
    """The file's MD5 (32 hex digits) or SHA-1 (40), as the site's checksum file gives it."""
    algorithm = {32: hashlib.md5, 40: hashlib.sha1, 64: hashlib.sha256}.get(hex_length, hashlib.md5)
    digest = algorithm()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(DOWNLOAD_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def seconds(value: float) -> str:
    """A wait in an operator's words: "0.3 s", "12 s", "5 min"."""
    if value < 10:
        return f"{value:.1f} s"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.0f} min"


def describe(error: Exception) -> str:
    """A failure in an operator's words."""
    if isinstance(error, httpx.HTTPStatusError):
        return f"the site answered {error.response.status_code} {error.response.reason_phrase}"
    if isinstance(error, httpx.TransportError):
        return f"connection failed ({error.__class__.__name__}: {error})"
    return str(error)
