"""Edit producers: recentchange events to the edits topic (issue 10).

    python -m producer edits-synthetic --help   the seeded synthetic edit stream, with ground truth
    python -m producer edits-replay --help      recorded events (ndjson, or SSE ``data:`` lines)
    python -m producer edits-live --help        Wikimedia EventStreams recentchange, all wikis

Messages are the events' JSON as they came (the edit job judges them: a
malformed one is counted and set aside there), keyed by title so that one
article's edits stay in order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from core.edit_events import event_line
from producer.edit_world import EditWorld, encode_event
from producer.eventstreams import RECENTCHANGE_URL, StreamPosition, follow_stream
from producer.sink import PageRequestSink, Progress, StopFlag
from producer.synthetic import Pace, wait_for_turn
from producer.world import MINUTE_MS, Catalogue, parse_duration_ms, parse_start

log = logging.getLogger("producer")


def add_parsers(sources, settings, world_options) -> None:
    """The ``edits-synthetic`` and ``edits-replay`` sources of ``python -m producer``."""
    synthetic = sources.add_parser(
        "edits-synthetic",
        help="the seeded synthetic edit stream (recentchange events) with injected alerts",
        description="Quiet background edits on the page-request world's catalogue, and every two hours "
        "injected edits that must each set off one alert (LARGE_EDIT, RAPID_EDIT, BOT_EDIT on watched "
        "entities, an EDIT_WAR), a burst from an unflagged bot, and edits on the trending article. "
        "Writes the ground truth (the alerts expected) as JSON.",
    )
    world_options(synthetic)
    synthetic.add_argument("--start", default="now", help="simulated start: ISO time, 'now' or 'now-90m'")
    synthetic.add_argument("--duration", default="1d", help="simulated time to produce (default 1d)")
    synthetic.add_argument(
        "--speedup", type=float, default=1.0, help="simulated seconds per wall second; 0 as fast as possible"
    )
    synthetic.add_argument(
        "--edits-per-minute", type=float, default=120.0, help="background edits per minute (default 120)"
    )
    synthetic.add_argument(
        "--injected-after", default="5m", help="when the first injected edits come, after the start"
    )
    synthetic.add_argument(
        "--trend-title", help="the page-request world's trending article, which gets an edit surge"
    )
    synthetic.add_argument("--trend-start", help="when its trend starts: +OFFSET from --start, or ISO time")
    synthetic.add_argument("--trend-duration", default="1h", help="how long its edit surge lasts")
    synthetic.add_argument("--ground-truth", type=Path, help="where to write the expected alerts (JSON)")
    synthetic.add_argument(
        "--bootstrap", default=settings.kafka.bootstrap, help="brokers (default %(default)s)"
    )
    synthetic.add_argument("--topic", default=settings.kafka.edits_topic, help="topic (default %(default)s)")

    replay = sources.add_parser(
        "edits-replay",
        help="replay recorded recentchange events (ndjson or SSE)",
        description="Each line is a recentchange event (JSON, or an SSE 'data:' line); other SSE lines are "
        "skipped. Sent in file order, paced by the events' own times at --speedup.",
    )
    replay.add_argument("files", nargs="+", type=Path, help="recorded files")
    replay.add_argument(
        "--speedup", type=float, default=0, help="simulated seconds per wall second; 0 (default) at once"
    )
    replay.add_argument("--bootstrap", default=settings.kafka.bootstrap, help="brokers (default %(default)s)")
    replay.add_argument("--topic", default=settings.kafka.edits_topic, help="topic (default %(default)s)")

    live = sources.add_parser(
        "edits-live",
        help="follow Wikimedia EventStreams recentchange (all wikis) into the edits topic",
        description="Every recentchange event as it came (the edit job judges it), keyed by title; "
        "Wikimedia's canary events are skipped. Reconnects with Last-Event-ID after a drop.",
    )
    live.add_argument("--url", default=RECENTCHANGE_URL, help="server-sent events URL (default %(default)s)")
    live.add_argument("--limit", type=int, default=0, help="stop after this many events, 0 for never")
    live.add_argument("--bootstrap", default=settings.kafka.bootstrap, help="brokers (default %(default)s)")
    live.add_argument("--topic", default=settings.kafka.edits_topic, help="topic (default %(default)s)")


def run_synthetic_edits(args, settings, stop: StopFlag, catalogue: Catalogue, start_ms: int) -> int:
    """Produce the synthetic edit stream and write its ground truth."""
    start_ms -= start_ms % MINUTE_MS
    trend = None
    if args.trend_title:
        if not args.trend_start:
            raise ValueError("--trend-title needs --trend-start")
        trend = (
            args.trend_title,
            parse_start(args.trend_start, start_ms),
            parse_duration_ms(args.trend_duration),
        )
    world = EditWorld(
        catalogue,
        args.seed,
        start_ms,
        max(1, -(-parse_duration_ms(args.duration) // MINUTE_MS)),
        args.edits_per_minute,
        settings.edits.watchlist,
        injected_after_ms=parse_duration_ms(args.injected_after),
        trend=trend,
    )
    now_ms = int(time.time() * 1000)
    anchor = now_ms if args.speedup == 1 and start_ms < now_ms else None
    sent, failed = _send(
        ((event["timestamp"] * 1000, event["title"], encode_event(event)) for event in world.events()),
        args,
        stop,
        Pace(args.speedup, 0, anchor),
        start_ms,
        "synthetic edits",
    )
    truth = args.ground_truth or settings.stack.state_path / "runs" / f"edits-ground-truth-{args.seed}.json"
    truth.parent.mkdir(parents=True, exist_ok=True)
    truth.write_text(
        json.dumps(
            {
                "start_ms": start_ms,
                "minutes": world.minutes,
                "topic": args.topic,
                "events": sent,
                "expected_alerts": [asdict(alert) for alert in world.expected_alerts],
            },
            indent=1,
        )
    )
    print(f"ground truth: {truth}")
    return 1 if failed else 0


def recorded_events(files: Iterable[Path]) -> Iterator[tuple[int | None, str, bytes]]:
    """(event time ms or None, title, raw JSON bytes) of every event line of recorded files."""
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in filter(None, map(event_line, lines)):
                yield (*_time_and_title(line), line.encode())


def _time_and_title(line: str) -> tuple[int | None, str]:
    try:
        event = json.loads(line)
        timestamp = event.get("timestamp")
        title = event.get("title")
        return (
            int(timestamp * 1000) if isinstance(timestamp, int | float) else None,
            title if isinstance(title, str) else "",
        )
    except (ValueError, AttributeError):
        return None, ""


def run_replay_edits(args, settings, stop: StopFlag) -> int:
    """Send recorded events, paced by their own times."""
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file(s): {', '.join(missing)}")
    first = next((ts for ts, _, _ in recorded_events(args.files) if ts is not None), 0)
    _, failed = _send(
        recorded_events(args.files), args, stop, Pace(args.speedup, 0, None), first, "replayed edits"
    )
    return 1 if failed else 0


def live_events(args, stop: StopFlag, position: StreamPosition) -> Iterator[tuple[None, str, bytes]]:
    """(None, title, raw JSON bytes) of every recentchange message of the stream but canaries."""
    sent = 0
    for message in follow_stream(args.url, stop, position):
        if message.event != "message" or not message.data:
            continue
        title = _title_unless_canary(message.data)
        if title is None:
            continue
        yield None, title, message.data.encode()
        sent += 1
        if args.limit and sent >= args.limit:
            stop.set("limit reached")


def _title_unless_canary(data: str) -> str | None:
    """The event's title ("" when it has none or is not JSON: the edit job judges it), None for the
    canary events Wikimedia sends through every stream to check it flows."""
    try:
        event = json.loads(data)
        if (event.get("meta") or {}).get("domain") == "canary":
            return None
        title = event.get("title")
    except (ValueError, AttributeError):
        return ""
    return title if isinstance(title, str) else ""


def run_live_edits(args, settings, stop: StopFlag) -> int:
    """Follow EventStreams into the edits topic until stopped."""
    position = StreamPosition()
    _, failed = _send(live_events(args, stop, position), args, stop, Pace(0, 0, None), 0, "live edits")
    print(f"live edits: {position.reconnects} reconnects, last event {position.last_event_id}")
    return 1 if failed else 0


def _send(events, args, stop: StopFlag, pace: Pace, start_ms: int, what: str) -> tuple[int, int]:
    """Send (event time, title, value) triples at the pace; (sent, failed)."""
    sink = PageRequestSink(args.bootstrap, args.topic, client_id="wikitrends-edits")
    progress = Progress(what, out=log.info)
    wall_start, sent = time.monotonic(), 0
    anchor = start_ms if pace.anchor_ms is None else pace.anchor_ms
    try:
        for event_ms, title, value in events:
            if stop.is_set():
                break
            if event_ms is not None:
                wait_for_turn(pace, wall_start, anchor, event_ms, sent, 0)
            sink.send(title.encode(), value)
            sent += 1
            progress.update(sent)
    finally:
        delivery = sink.close()
    print(f"sent {sent:,} edit events to {args.topic}, {delivery.failed:,} failed")
    if delivery.failed:
        log.error("%d edit events were not delivered; first error: %s", delivery.failed, delivery.first_error)
    return sent, delivery.failed
