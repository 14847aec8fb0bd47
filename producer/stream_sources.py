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
    from core.dumps import parse_projects
    from producer.replay import replay
    from producer.storage import expand

    files = expand(args.files, settings)
    projects = parse_projects(args.projects)
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


def add_wikipedia_parser(sources, settings) -> None:
    """The ``wikipedia`` source's options."""
    w = settings.wikipedia
    wikipedia = sources.add_parser(
        "wikipedia",
        help="follow Wikimedia's hourly pageview files (real traffic, about an hour behind the clock)",
        description="Downloads each hour's pageview file from the dumps site (resumed, verified against the "
        "month's checksums, kept on S3), and sends its views on the chosen wikis as page requests spread "
        "over the hour, as replay does. Each chunk of page requests is committed to Kafka in one "
        "transaction with a ledger record of what is sent, so a restart neither skips an hour nor sends "
        "one twice. Hours not published yet are waited for.",
    )
    wikipedia.add_argument(
        "--wikis",
        default=",".join(w.projects),
        help="comma-separated wikis: a Wikipedia language code (en) or a project (de.wiktionary); "
        "default %(default)s",
    )
    wikipedia.add_argument(
        "--since",
        default=str(w.since_hours),
        help="first hour of a first run: N hours before the newest published hour, or an ISO time "
        "(default %(default)s); later runs go on from the ledger",
    )
    wikipedia.add_argument("--until", help="stop after this hour (ISO time); default: follow forever")
    wikipedia.add_argument("--once", action="store_true", help="send what is published, then stop")
    wikipedia.add_argument(
        "--base-url", default=w.base_url, help="the dumps site or a mirror (default %(default)s)"
    )
    wikipedia.add_argument("--all-pages", action="store_true", help="keep non-article pages")
    wikipedia.add_argument("--seed", type=int, default=1, help="seed of the event times inside each hour")
    kafka_options(wikipedia, settings)


def run_wikipedia(args, settings, stop: StopFlag) -> int:
    from datetime import UTC, datetime

    from core.dumps import parse_projects
    from core.dumps_site import HOUR, first_hour_to_send, floor_hour, iso_hour, newest_per_hour, stream_id
    from producer.dumps_site import DumpsSite, RetryPolicy
    from producer.ledger import ensure_ledger_topic, read_ledger
    from producer.wikipedia import DumpsArchive, HourFiles, HourSender, follow, newest_published_hour
    from producer.world import parse_time_ms

    projects = parse_projects(args.wikis)
    stream = stream_id(projects, not args.all_pages, args.seed)
    ledger_topic = settings.kafka.wikipedia_hours_topic
    site = DumpsSite(
        args.base_url, settings.wikipedia.checksum_file, RetryPolicy.of(settings.wikipedia), stop
    )
    ensure_ledger_topic(settings.kafka, args.bootstrap, ledger_topic)
    sink = PageRequestSink(
        args.bootstrap,
        args.topic,
        client_id="wikitrends-wikipedia",
        transactional_id=f"{settings.wikipedia.transactional_id}-{stream}",
    )
    try:
        ledger = newest_per_hour(read_ledger(args.bootstrap, ledger_topic), stream)
        since = None
        if not ledger:
            if args.since.isdigit():
                newest = newest_published_hour(site, datetime.now(UTC))
                if newest is None:
                    raise ValueError(
                        f"no hourly file is listed at {args.base_url} for this month or the last"
                    )
                since = newest - int(args.since) * HOUR + HOUR
            else:
                since = floor_hour(datetime.fromtimestamp(parse_time_ms(args.since) / 1000, UTC))
        first = first_hour_to_send(ledger, since, floor_hour(datetime.now(UTC)))
        until = (
            floor_hour(datetime.fromtimestamp(parse_time_ms(args.until) / 1000, UTC)) if args.until else None
        )
        print(
            f"wikipedia: {', '.join(sorted(projects))} from {args.base_url}, starting at {iso_hour(first)}"
            + (f" (the ledger has {len(ledger)} hours)" if ledger else "")
        )
        files = HourFiles(site, DumpsArchive(settings), settings)
        sender = HourSender(
            sink, ledger_topic, stream, settings, projects, not args.all_pages, args.seed, stop
        )
        hours = follow(files, sender, ledger, first, until, args.once)
    finally:
        delivery = sink.close()
        site.close()
    s = sender.replay_stats
    print(
        f"wikipedia: {hours} hours, {files.bytes_downloaded:,} bytes downloaded; {s.lines:,} lines, "
        f"{s.malformed:,} malformed, {s.filtered_project:,} other wikis, {s.filtered_non_article:,} "
        f"non-articles; sent {sender.events_sent:,} page requests, {delivery.failed:,} failed"
    )
    return EXIT_DELIVERY_FAILED if delivery.failed else 0
