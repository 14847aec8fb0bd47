"""Producers of page requests and edits: ``python -m producer --help`` lists the sources."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from core.config import load_settings
from core.synthetic import (
    MINUTE_MS,
    Catalogue,
    drawn_trends,
    parse_duration_ms,
    parse_scenario,
    parse_time_ms,
)
from producer.edits import add_parsers as add_edit_parsers
from producer.sink import BrokerUnreachable, PageRequestSink, StopFlag

log = logging.getLogger("producer")
# Drawn trends cover at most this many hours of a run (a month-long run would otherwise carry thousands).
DRAWN_TREND_HOURS = 48

EXIT_DELIVERY_FAILED = 1
EXIT_USAGE_OR_BROKER = 2


def _world_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The catalogue and seed, shared by page requests and edits."""
    group = parser.add_argument_group("the synthetic world")
    group.add_argument("--catalogue-size", type=int, default=6_000_000, help="articles (default 6,000,000)")
    group.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of popularity (default 1.0)")
    group.add_argument("--project", default="en.wikipedia", help="project of every article")
    group.add_argument("--seed", type=int, default=1, help="same seed and options, same events (default 1)")
    return group


def _catalogue_options(parser: argparse.ArgumentParser) -> None:
    group = _world_options(parser)
    group.add_argument(
        "--views-per-minute",
        type=float,
        default=60_000,
        help="mean page requests per simulated minute, before the daily curve (default 60,000)",
    )
    for kind, text in (
        ("trend", "views rising minute after minute to SIZE per minute"),
        ("spike", "SIZE extra views every minute"),
        ("drop", "the article's views stop (SIZE ignored)"),
    ):
        group.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            metavar="START,DURATION,SIZE[,TITLE]",
            help=f"inject a {kind}: {text}. START is +OFFSET from the clock start (+30m) or an ISO time; "
            "DURATION like 1h; TITLE a catalogue title (default: one suited to the kind). Repeatable.",
        )


def _kafka_options(parser: argparse.ArgumentParser, settings) -> None:
    group = parser.add_argument_group("Kafka")
    group.add_argument("--bootstrap", default=settings.kafka.bootstrap, help="brokers (default %(default)s)")
    group.add_argument("--topic", default=settings.kafka.pageviews_topic, help="topic (default %(default)s)")


def build_parser(settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description="Push Wikipedia page requests to Kafka: synthetic traffic with ground truth, "
        "replayed pageview dumps, or live edits. Also writes synthetic history in the dump format.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")

    synthetic = sources.add_parser(
        "synthetic",
        help="seeded Zipf traffic with a daily curve and injected scenarios",
        description="Seeded synthetic traffic. The same seed and options give the same events, byte for "
        "byte, for any number of processes. Writes a ground-truth JSON file beside the run.",
    )
    _catalogue_options(synthetic)
    clock = synthetic.add_argument_group("the clock")
    clock.add_argument(
        "--start", default="now", help="simulated start, ISO time or 'now' (rounded down to the minute)"
    )
    clock.add_argument("--duration", default="7d", help="simulated time to produce, like 2h (default 7d)")
    clock.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        help="simulated seconds per wall second: 1 real time, 60 an hour a minute, 0 as fast as possible",
    )
    clock.add_argument("--max-rate", type=float, default=0, help="cap in events per second, 0 for none")
    clock.add_argument("--processes", type=int, default=1, help="sending processes (default 1)")
    synthetic.add_argument(
        "--drawn-trends",
        type=int,
        default=0,
        metavar="PER_HOUR",
        help="also inject this many seeded trends an hour (random articles, starts, sizes x2-x10, "
        "30-120 min rises; the first 48 hours), listed in the ground truth from the start",
    )
    synthetic.add_argument(
        "--track",
        action="append",
        default=[],
        metavar="TITLE",
        help="also record this catalogue title's per-minute counts in the ground truth",
    )
    synthetic.add_argument(
        "--ground-truth",
        type=Path,
        help="where to write the ground truth JSON "
        "(default: <stack home>/runs/ground-truth-<seed>-<start>.json)",
    )
    _kafka_options(synthetic, settings)

    history = sources.add_parser(
        "history",
        help="write months of synthetic hourly counts as Wikimedia dump files",
        description="Hourly dump files (pageviews-YYYYMMDD-HH0000.gz) of the synthetic world, "
        "for the backfill.",
    )
    _catalogue_options(history)
    history.add_argument("--from", dest="first_day", required=True, help="first day, YYYY-MM-DD")
    span = history.add_mutually_exclusive_group(required=True)
    span.add_argument("--days", type=int, help="how many days")
    span.add_argument(
        "--hours", type=int, help="how many hours from the first day's 00:00 (instead of --days)"
    )
    history.add_argument("--out", required=True, help="a folder, or s3://bucket/prefix")
    history.add_argument(
        "--file-time",
        choices=["end", "start"],
        default="end",
        help="the hour a file name gives: its end (Wikimedia's rule, default) or start",
    )
    history.add_argument(
        "--top-ranks",
        type=int,
        default=0,
        metavar="N",
        help="write only the N most popular articles (0, the default: all). The anomaly job compares "
        "articles of at least 20 views an hour: far fewer rows, the same averages for those",
    )
    history.add_argument(
        "--format",
        choices=["dumps", "counts"],
        default="dumps",
        help="dumps: Wikimedia dump files (default); counts: the streaming job's hourly counts "
        "(OUT/date=YYYY-MM-DD/hour=HH/counts.parquet), as if the pipeline had seen that traffic",
    )

    clicks = sources.add_parser(
        "clickstream",
        help="write a month of the synthetic world's clickstream as a Wikimedia dump",
        description="A month of clickstream (prev curr type n) of the synthetic world's most popular "
        "articles, as clickstream-<wiki>-YYYY-MM.tsv.gz, for batch/clickstream.py.",
    )
    _catalogue_options(clicks)
    clicks.add_argument("--month", required=True, help="the month it stands for, YYYY-MM")
    clicks.add_argument(
        "--top-ranks", type=int, default=100_000, metavar="N", help="articles (default 100,000)"
    )
    clicks.add_argument("--out", required=True, help="a folder, or s3://bucket/prefix")

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
    _kafka_options(replay, settings)

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
    _kafka_options(live, settings)
    add_edit_parsers(sources, settings, _world_options)
    return parser


def _catalogue(args) -> Catalogue:
    return Catalogue(args.catalogue_size, args.zipf, args.project)


def _scenarios(args, clock_start_ms: int, catalogue: Catalogue):
    return tuple(
        parse_scenario(kind, spec, clock_start_ms, catalogue)
        for kind in ("trend", "spike", "drop")
        for spec in getattr(args, kind)
    )


def run_synthetic(args, settings, stop: StopFlag) -> int:
    from producer.synthetic import Pace, SyntheticRun, ground_truth, injected, produce, write_ground_truth

    catalogue = _catalogue(args)
    start_ms = parse_start_ms(args.start, int(time.time() * 1000))
    start_ms -= start_ms % MINUTE_MS
    minutes = max(1, -(-parse_duration_ms(args.duration) // MINUTE_MS))
    scenarios = _scenarios(args, start_ms, catalogue)
    if args.drawn_trends:
        hours = min(-(-minutes // 60), DRAWN_TREND_HOURS)
        drawn = drawn_trends(catalogue, start_ms, args.views_per_minute, args.drawn_trends, hours, args.seed)
        taken = {scenario.rank for scenario in scenarios}
        scenarios += tuple(trend for trend in drawn if trend.rank not in taken)
    tracked = tuple(sorted({*range(min(5, catalogue.size)), *(catalogue.rank(t) for t in args.track)}))
    run = SyntheticRun(catalogue, args.seed, start_ms, minutes, args.views_per_minute, scenarios, tracked)
    truth_path = args.ground_truth or (
        settings.stack.home_path
        / "runs"
        / f"ground-truth-{args.seed}-{time.strftime('%Y%m%dT%H%M', time.gmtime(start_ms / 1000))}.json"
    )
    for scenario in scenarios:
        log.info(
            "injecting %s on %s from %s for %d min, size %d",
            scenario.kind,
            scenario.title,
            _iso(scenario.start_ms),
            scenario.duration_ms // MINUTE_MS,
            scenario.size,
        )
    log.info(
        "producing %d simulated minutes from %s to %s (%s processes, speed-up %s)",
        run.minutes,
        _iso(run.start_ms),
        args.topic,
        args.processes,
        args.speedup or "unlimited",
    )
    now_ms = int(time.time() * 1000)
    anchor = now_ms if args.speedup == 1 and start_ms < now_ms else None
    if anchor is not None and now_ms - start_ms > MINUTE_MS:
        log.info(
            "catching up: the %d minutes before now go out at once, then real time",
            (now_ms - start_ms) // MINUTE_MS,
        )
    # What is injected is readable from the start; the counts are added when the run ends.
    write_ground_truth(truth_path, injected(run, args.topic))
    log.info("ground truth (what is injected): %s", truth_path)
    began = time.monotonic()
    pace = Pace(args.speedup, args.max_rate, anchor)
    result = produce(run, pace, args.bootstrap, args.topic, args.processes, stop)
    elapsed = time.monotonic() - began
    write_ground_truth(truth_path, ground_truth(run, result, args.topic))
    rate = result.accepted / max(elapsed, 1e-9)
    print(
        f"sent {result.accepted:,} page requests in {elapsed:,.1f} s ({rate:,.0f}/s), "
        f"{result.failed:,} failed{'; stopped early by ' + stop.reason if result.stopped_early else ''}"
    )
    print(f"ground truth: {truth_path}")
    if result.failed:
        log.error("%d page requests were not delivered; first error: %s", result.failed, result.first_error)
        return EXIT_DELIVERY_FAILED
    return 0


def parse_start_ms(text: str, now_ms: int) -> int:
    """'now', 'now-90m' or an ISO time -> epoch ms."""
    if text == "now":
        return now_ms
    if text.startswith("now-"):
        return now_ms - parse_duration_ms(text[4:])
    return parse_time_ms(text)


def run_history(args, settings, stop: StopFlag) -> int:
    from producer.history import write_history

    catalogue = _catalogue(args)
    first_ms = parse_time_ms(f"{args.first_day}T00:00:00Z")
    scenarios = _scenarios(args, first_ms, catalogue)
    hours = args.hours if args.hours is not None else args.days * 24
    if hours < 1:
        raise ValueError(f"--days or --hours must be at least 1, not {hours}")
    if args.top_ranks < 0:
        raise ValueError(f"--top-ranks must be 0 (all) or more, not {args.top_ranks}")
    written = write_history(
        catalogue,
        args.seed,
        args.views_per_minute,
        first_ms,
        hours,
        scenarios,
        args.out,
        args.file_time,
        settings,
        stop,
        args.format,
        args.top_ranks,
    )
    print(f"wrote {written} hourly files to {args.out}")
    return 0 if written == hours else EXIT_DELIVERY_FAILED


def run_clickstream(args, settings, stop: StopFlag) -> int:
    from producer.history import write_clickstream

    written = write_clickstream(
        _catalogue(args), args.seed, args.views_per_minute, args.top_ranks, args.month, args.out, settings
    )
    print(f"wrote {written:,} clickstream lines to {args.out}")
    return 0


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


def run_edits_synthetic(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_synthetic_edits

    start_ms = parse_start_ms(args.start, int(time.time() * 1000))
    return run_synthetic_edits(args, settings, stop, _catalogue(args), start_ms)


def run_edits_replay(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_replay_edits

    return run_replay_edits(args, settings, stop)


def run_edits_live(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_live_edits

    return run_live_edits(args, settings, stop)


def _iso(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(epoch_ms / 1000))


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    stop = StopFlag().install()
    runners = {
        "synthetic": run_synthetic,
        "history": run_history,
        "clickstream": run_clickstream,
        "replay": run_replay,
        "live": run_live,
        "edits-synthetic": run_edits_synthetic,
        "edits-replay": run_edits_replay,
        "edits-live": run_edits_live,
    }
    try:
        return runners[args.source](args, settings, stop)
    except BrokerUnreachable as error:
        log.error("%s", error)
        return EXIT_USAGE_OR_BROKER
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
        return EXIT_USAGE_OR_BROKER


if __name__ == "__main__":
    sys.exit(main())
