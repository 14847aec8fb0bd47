"""Following a Wikimedia EventStreams stream (server-sent events), for the live sources.

The event-stream format is read by httpx-sse over httpx, not by hand. After a
dropped connection, an error or a server that closes the stream, the client
reconnects with the id of the last event its caller handled (``Last-Event-ID``),
so the stream resumes where it stopped, after a pause that doubles up to a
limit (or the server's ``retry``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import ServerSentEvent, SSEError, connect_sse

from producer.sink import StopFlag

log = logging.getLogger("producer.eventstreams")

RECENTCHANGE_URL = "https://stream.wikimedia.org/v2/stream/recentchange"
# Wikimedia asks clients to say who they are (https://meta.wikimedia.org/wiki/User-Agent_policy).
USER_AGENT = "wikitrends-producer/0.1 (streaming analytics of Wikipedia page views and edits)"
CONNECT_TIMEOUT_S = 10.0


@dataclass
class StreamPosition:
    """Where a follower is: the last event handled, and how often it had to reconnect."""

    last_event_id: str | None = None
    reconnects: int = 0


def follow_stream(
    url: str,
    stop: StopFlag,
    position: StreamPosition,
    read_timeout_s: float = 30.0,
    max_backoff_s: float = 30.0,
) -> Iterator[ServerSentEvent]:
    """The stream's events until ``stop`` is set, across reconnections.

    An event counts as handled once the caller asks for the next one: only then does its id become
    the position a reconnection resumes from.
    """
    backoff_s = 1.0
    timeout = httpx.Timeout(read_timeout_s, connect=CONNECT_TIMEOUT_S)
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True) as client:
        while not stop.is_set():
            headers = {"Last-Event-ID": position.last_event_id} if position.last_event_id else {}
            try:
                with connect_sse(client, "GET", url, headers=headers) as source:
                    source.response.raise_for_status()
                    log.info(
                        "connected to %s%s",
                        url,
                        f" (resuming after {position.last_event_id})" if position.last_event_id else "",
                    )
                    backoff_s = 1.0
                    for event in source.iter_sse():
                        if event.retry is not None:
                            backoff_s = min(event.retry / 1000, max_backoff_s)
                        yield event
                        if event.id:
                            position.last_event_id = event.id
                        if stop.is_set():
                            return
                    log.warning("the stream closed; reconnecting")
            except (httpx.HTTPError, SSEError) as error:
                log.warning(
                    "stream error (%s); reconnecting in %.0f s", error or type(error).__name__, backoff_s
                )
                stop.wait(backoff_s)
                backoff_s = min(backoff_s * 2, max_backoff_s)
            if not stop.is_set():
                position.reconnects += 1
