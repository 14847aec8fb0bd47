"""Request logs written in batches: one line per request, flushed every half second.

Going through the logging module costs about a quarter of a cached API
request; this writes the same information with one write per flush (like
nginx's ``access_log … buffer=``). Server errors also go to the ``web`` logger.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

import tornado.web

log = logging.getLogger("web")


class AccessLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lines: list[str] = []
        self._second = -1
        self._stamp = ""

    def __call__(self, handler: tornado.web.RequestHandler) -> None:
        """Tornado's ``log_function``: record one finished request."""
        now = time.time()
        if int(now) != self._second:  # format the timestamp once a second, not once a request
            self._second = int(now)
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now))
        request = handler.request
        status = handler.get_status()
        self.lines.append(
            f"{self._stamp} web.access {status} {request.method} {request.uri} {request.remote_ip} "
            f"{1000.0 * request.request_time():.1f}ms\n"
        )
        if status >= 500:
            log.warning("%d %s %s", status, request.method, request.uri)

    def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            self.stream.write("".join(lines))
            self.stream.flush()
