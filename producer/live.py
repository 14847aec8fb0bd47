"""Live source: Wikimedia EventStreams ``recentchange`` (server-sent events) as page requests.

Each change to a page becomes one page request for that page at the change's
time. After a dropped connection the client reconnects with the id of the
last event it handled (``Last-Event-ID``), so the stream resumes where it
stopped.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

from core.events import PageRequest, encode_page_request, normalize_title, project_of_server
from producer.sink import PageRequestSink, Progress, StopFlag

log = logging.getLogger("producer.live")

DEFAULT_URL = "https://stream.wikimedia.org/v2/stream/recentchange"
MALFORMED_SAMPLES = 5


@dataclass(frozen=True)
class ServerSentEvent:
    id: str | None
    event: str
    data: str


@dataclass
class LiveStats:
    messages: int = 0
    malformed: int = 0
    ignored: int = 0  # valid changes that are not page requests we keep (other namespaces, projects)
    events: int = 0
    reconnects: int = 0
    last_event_id: str | None = None


def parse_sse(lines: Iterator[str]) -> Iterator[ServerSentEvent]:
    """Server-sent events from a stream of text lines (the WHATWG event-stream format)."""
    event_id: str | None = None
    event_type, data = "message", []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event_id, event_type, "\n".join(data))
            event_type, data = "message", []
            continue
        if line.startswith(":"):
            continue  # a comment, used as keep-alive
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
        elif name == "event":
            event_type = value


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


def _lines(response) -> Iterator[str]:
    for raw in response:
        yield raw.decode("utf-8", errors="replace")


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
    stats = LiveStats()
    progress = Progress("live page requests sent")
    backoff = 1.0
    while not stop.is_set():
        headers = {"Accept": "text/event-stream", "User-Agent": "wikitrends-producer/0.1"}
        if stats.last_event_id:
            headers["Last-Event-ID"] = stats.last_event_id
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), timeout=read_timeout_s
            ) as resp:
                log.info(
                    "connected to %s%s",
                    url,
                    f" (resuming after {stats.last_event_id})" if stats.last_event_id else "",
                )
                backoff = 1.0
                for message in parse_sse(_lines(resp)):
                    if stop.is_set():
                        break
                    stats.messages += 1
                    _handle(message, sink, namespaces, stats)
                    if message.id is not None:
                        stats.last_event_id = message.id
                    progress.update(stats.events)
                    if limit and stats.events >= limit:
                        stop.set("limit reached")
                        break
                else:
                    log.warning("the stream closed; reconnecting")
        except (urllib.error.URLError, OSError) as error:
            log.warning("stream error (%s); reconnecting in %.0f s", error, backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff_s)
        if not stop.is_set():
            stats.reconnects += 1
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
