"""Wikimedia's dumps site on loopback, for tests: the real layout, files in the real format, and faults.

``<url>/YYYY/`` and ``<url>/YYYY/YYYY-MM/`` answer an nginx-style HTML index as dumps.wikimedia.org
does; each month folder holds ``pageviews-YYYYMMDD-HH0000.gz`` files and ``md5sums.txt``. Files answer
Range requests (206, or 416 past the end). ``fail(hour, …)`` queues faults for the next requests of an
hour's file: "404", "503", "truncate" (the announced length, half the bytes, then the connection
closes) and "corrupt" (the whole length with a byte changed).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import Counter, deque
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from core.articles import is_article
from core.config import Settings
from core.dumps import MalformedLine, decode_title, parse_dump_line, project_of
from core.dumps_site import hour_file_path
from producer.world import Catalogue
from tests.data import SHARED_DATA

REAL_HOUR_SAMPLE = SHARED_DATA / "pagecounts-raw-sample-2016-06-0x-170000.txt"
# Lines of the real formats' quirks: one article written raw, percent-encoded and with a space encoded
# (one title once decoded), the mobile and Zero sites, other families, and lines the parser refuses.
QUIRK_LINES = [
    "en Zoë_Saldaña 5 0",
    "en Zo%C3%AB_Salda%C3%B1a 3 0",
    "en.m Zo%C3%AB%20Salda%C3%B1a 2 0",
    "en.zero Zo%C3%AB_Salda%C3%B1a 1 0",
    "de.m Köln 4 0",
    "de.m.voy K%C3%B6ln 2 0",
    "en.d dictionary 3 0",
    "en Special:Search 40 0",
    "en Main_Page 900 0",
    "en Missing_a_field 3",
    "en Not_a_count x 0",
    "en Bad%FFbytes 2 0",
    "xx.unknownfamily Title 2 0",
]


def hour_text(hour_index: int, catalogue_size: int = 400, scale: int = 1) -> str:
    """An hour's file text: the real sample (all wikis), synthetic-world articles and the quirk lines.

    Views change with ``hour_index`` so that every hour differs; ``scale`` multiplies the synthetic ones.
    """
    lines = []
    for line in REAL_HOUR_SAMPLE.read_text(encoding="utf-8").splitlines():
        fields = line.split(" ")
        if len(fields) == 4 and fields[2].isdigit():
            fields[2] = str(int(fields[2]) + hour_index % 3)
            fields[3] = "0"  # pageviews files write 0 for the size
        lines.append(" ".join(fields))
    catalogue = Catalogue(catalogue_size, 1.0, "en.wikipedia")
    for rank in range(catalogue_size):
        views = scale * (2_000 // (rank + 1)) + (rank * 7 + hour_index * 13) % 5
        if views:
            lines.append(f"en{'.m' if rank % 3 == 0 else ''} {catalogue.title(rank)} {views} 0")
    lines += QUIRK_LINES
    return "\n".join(lines) + "\n"


def expected_views(text: str, projects: frozenset[str], settings: Settings) -> Counter:
    """(project, title) -> views the Wikipedia source should send for one hour's text (the oracle)."""
    views: Counter = Counter()
    for line in text.splitlines():
        try:
            record = parse_dump_line(line)
            project, title = project_of(record.domain_code), decode_title(record.title)
        except MalformedLine:
            continue
        if project in projects and is_article(title, settings.articles):
            views[(project, title)] += record.views
    return +views


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        pass  # a client that hung up on a truncated answer is what the test wants


class DumpsMirror:
    """The site's folders and files, served on 127.0.0.1 at ``base_url`` while started."""

    def __init__(self, base_path: str = "/other/pageviews") -> None:
        self.base_path = base_path.rstrip("/")
        self.files: dict[str, bytes] = {}  # path relative to the base -> bytes
        self.unlisted_digests: set[str] = set()
        self.faults: dict[str, deque[str]] = {}
        self.downloads: Counter = Counter()  # GETs of each file, whatever the answer
        self.ranges: list[tuple[str, str]] = []  # (file, Range header) of every resumed GET
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{self.base_path}"

    def publish(self, hour_start: datetime, text: str, with_checksum: bool = True) -> bytes:
        """Put an hour's file on the site (gzipped, as Wikimedia does); returns its bytes."""
        payload = gzip.compress(text.encode("utf-8"), mtime=0)
        path = hour_file_path(hour_start)
        with self.lock:
            self.files[path] = payload
            if not with_checksum:
                self.unlisted_digests.add(path)
        return payload

    def fail(self, hour_start: datetime, *faults: str) -> None:
        with self.lock:
            self.faults.setdefault(hour_file_path(hour_start), deque()).extend(faults)

    def gets_of(self, hour_start: datetime) -> int:
        return self.downloads[hour_file_path(hour_start)]

    def checksum_text(self, folder: str) -> str:
        return "".join(
            f"{hashlib.md5(data).hexdigest()}  {path.rsplit('/', 1)[-1]}\n"
            for path, data in sorted(self.files.items())
            if path.startswith(folder) and path not in self.unlisted_digests
        )

    def listing(self, folder: str) -> str | None:
        children = sorted(
            {
                path[len(folder) :].split("/", 1)[0] + ("/" if "/" in path[len(folder) :] else "")
                for path in self.files
                if path.startswith(folder)
            }
        )
        if not children:
            return None
        if folder.count("/") == 2:  # a month folder
            children.append("md5sums.txt")
        rows = "".join(
            f'<a href="{name}">{name}</a>{" " * max(1, 50 - len(name))}07-Dec-2026 05:45  {len(name)}\n'
            for name in children
        )
        return (
            f"<html>\r\n<head><title>Index of {self.base_path}/{folder}</title></head>\r\n<body>\r\n"
            f'<h1>Index of {self.base_path}/{folder}</h1><hr><pre><a href="../">../</a>\r\n{rows}'
            "</pre><hr></body>\r\n</html>\r\n"
        )

    def start(self) -> DumpsMirror:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - the standard library's name
                if not self.path.startswith(mirror.base_path + "/"):
                    return self._answer(404, b"not found")
                relative = self.path[len(mirror.base_path) + 1 :]
                with mirror.lock:
                    if relative.endswith("md5sums.txt"):
                        return self._answer(
                            200, mirror.checksum_text(relative[: -len("md5sums.txt")]).encode()
                        )
                    if relative == "" or relative.endswith("/"):
                        page = mirror.listing(relative)
                        return (
                            self._answer(404, b"not found")
                            if page is None
                            else self._answer(200, page.encode())
                        )
                    data = mirror.files.get(relative)
                    mirror.downloads[relative] += 1
                    pending = mirror.faults.get(relative)
                    fault = pending.popleft() if pending else ""
                if data is None or fault == "404":
                    return self._answer(404, b"not found")
                if fault == "503":
                    return self._answer(503, b"try again later")
                if fault == "corrupt":
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                first = 0
                if self.headers.get("Range"):
                    mirror.ranges.append((relative, self.headers["Range"]))
                    first = int(self.headers["Range"].removeprefix("bytes=").split("-")[0])
                    if first >= len(data):
                        return self._answer(416, b"")
                body = data[first:]
                self.send_response(206 if first else 200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                if first:
                    self.send_header("Content-Range", f"bytes {first}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
