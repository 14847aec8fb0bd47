"""The sources of real page requests: ``replay`` of hourly pageview dumps and ``live`` recent changes."""

from __future__ import annotations

from producer.cli import EXIT_DELIVERY_FAILED, kafka_options
from producer.sink import PageRequestSink, StopFlag


def add_replay_parser(sources, settings) -> None:
    """The ``replay`` source's options."""
    replay = sources.add_parser(
        "replay",
        help="replay Wikimedia hourly pageview dumps",
        description="Each line's views become page requests spread over the line's hour (seeded), sent in "
        "time order. Filters: --projects (default en.wikipedia; '' for all) and non-articles (Main_Page, "
        "'-', and namespaces such as Special:, User:, Talk:, File:; --all-pages keeps them). Malformed "
        "lines are counted and skipped.",
    )
    replay.add_argument(
        "files", nargs="+", help="dump files or globs, local or s3://bucket/prefix/pageviews-*"
    )
    replay.add_argument("--projects", default="en.wikipedia", help="comma-separated projects; '' for all")
    replay.add_argument("--all-pages", action="store_true", help="keep non-article pages")
    replay.add_argument(
        "--speedup", type=float, default=0, help="as for synthetic; default 0 (as fast as possible)"
    )
    replay.add_argument("--seed", type=int, default=1, help="seed of the event times inside each hour")
    replay.add_argument(
        "--file-time",
        choices=["end", "start"],
        default="end",
        help="the hour a file name gives: its end (Wikimedia's rule, default) or start",
    )
    kafka_options(replay, settings)


def add_live_parser(sources, settings) -> None:
    """The ``live`` source's options."""
    live = sources.add_parser(
        "live",
        help="follow Wikimedia EventStreams recentchange",
        description="Each page change becomes a page request; reconnects with Last-Event-ID after a drop.",
    )
    from producer.eventstreams import RECENTCHANGE_URL

    live.add_argument("--url", default=RECENTCHANGE_URL, help="server-sent events URL (default %(default)s)")
    live.add_argument(
        "--namespaces", default="0", help="comma-separated namespaces to keep; '' for all (default 0)"
    )
    live.add_argument("--limit", type=int, default=0, help="stop after this many page requests, 0 for never")
    kafka_options(live, settings)


def run_replay(args, settings, stop: StopFlag) -> int:
    from producer.replay import replay
    from producer.storage import expand

    files = expand(args.files, settings)
    projects = frozenset(p.strip() for p in args.projects.split(",") if p.strip())
    sink = PageRequestSink(args.bootstrap, args.topic, client_id="wikitrends-replay")
    try:
        stats = replay(
            files, sink, settings, projects, not args.all_pages, args.speedup, args.seed, args.file_time, stop
        )
    finally:
        delivery = sink.close()
    print(
        f"replayed {len(files)} files: {stats.lines:,} lines, {stats.malformed:,} malformed, "
        f"{stats.filtered_project:,} other projects, {stats.filtered_non_article:,} non-articles; "
        f"sent {stats.events:,} page requests, {delivery.failed:,} failed"
    )
    return EXIT_DELIVERY_FAILED if delivery.failed else 0


def run_live(args, settings, stop: StopFlag) -> int:
    from producer.live import stream_changes

    namespaces = frozenset(int(n) for n in args.namespaces.split(",") if n.strip())
    sink = PageRequestSink(args.bootstrap, args.topic, client_id="wikitrends-live")
    try:
        stats = stream_changes(args.url, sink, namespaces, stop, limit=args.limit)
    finally:
        delivery = sink.close()
    print(
        f"live: {stats.messages:,} messages, {stats.malformed:,} malformed, {stats.ignored:,} filtered, "
        f"{stats.reconnects} reconnects; sent {stats.events:,} page requests, {delivery.failed:,} failed"
    )
    return EXIT_DELIVERY_FAILED if delivery.failed else 0
