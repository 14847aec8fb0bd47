"""Live source: Wikimedia EventStreams ``recentchange`` (server-sent events) as page requests.

Each change to a page becomes one page request for that page at the change's
time. The stream is followed by producer/eventstreams.py (httpx-sse), which
resumes after a dropped connection from the last event handled.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from httpx_sse import ServerSentEvent

from core.events import PageRequest, encode_page_request, normalize_title, project_of_server
from producer.eventstreams import StreamPosition, follow_stream
from producer.sink import PageRequestSink, Progress, StopFlag

log = logging.getLogger("producer.live")

MALFORMED_SAMPLES = 5


@dataclass
class LiveStats:
    messages: int = 0
    malformed: int = 0
    ignored: int = 0  # valid changes that are not page requests we keep (other namespaces, projects)
    events: int = 0
    reconnects: int = 0


def page_request_from_change(change: object, namespaces: frozenset[int]) -> PageRequest | None:
    """The page request a recentchange stands for, None when filtered; ValueError when malformed."""
    if not isinstance(change, dict):
        raise ValueError("not a JSON object")
    title, server, ts = change.get("title"), change.get("server_name"), change.get("timestamp")
    if not isinstance(title, str) or not title or not isinstance(server, str):
        raise ValueError("no title or server_name")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        raise ValueError(f"timestamp {ts!r} is not epoch seconds")
    if namespaces and change.get("namespace") not in namespaces:
        return None
    return PageRequest(ts=int(ts * 1000), project=project_of_server(server), title=normalize_title(title))


def stream_changes(
    url: str,
    sink: PageRequestSink,
    namespaces: frozenset[int],
    stop: StopFlag,
    limit: int = 0,
    read_timeout_s: float = 30.0,
    max_backoff_s: float = 30.0,
) -> LiveStats:
    """Follow the stream until stopped (or ``limit`` page requests sent), reconnecting after drops."""
    stats, position = LiveStats(), StreamPosition()
    progress = Progress("live page requests sent")
    for message in follow_stream(url, stop, position, read_timeout_s, max_backoff_s):
        stats.messages += 1
        _handle(message, sink, namespaces, stats)
        progress.update(stats.events)
        if limit and stats.events >= limit:
            stop.set("limit reached")
    stats.reconnects = position.reconnects
    return stats


def _handle(
    message: ServerSentEvent, sink: PageRequestSink, namespaces: frozenset[int], stats: LiveStats
) -> None:
    if message.event != "message":
        return
    try:
        request = page_request_from_change(json.loads(message.data), namespaces)
    except ValueError as error:  # json.JSONDecodeError is a ValueError too
        stats.malformed += 1
        if stats.malformed <= MALFORMED_SAMPLES:
            log.warning("skipping malformed event %s (%s): %r", message.id, error, message.data[:200])
        return
    if request is None:
        stats.ignored += 1
        return
    sink.send(request.title.encode("utf-8"), encode_page_request(request.ts, request.project, request.title))
    stats.events += 1
