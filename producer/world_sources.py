"""The synthetic world's sources: ``synthetic`` page requests with ground truth, and ``history`` and
``clickstream`` files in Wikimedia's dump formats."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from producer.cli import (
    EXIT_DELIVERY_FAILED,
    catalogue_of,
    catalogue_options,
    iso_minute,
    kafka_options,
    parse_start_ms,
    scenarios_of,
)
from producer.sink import StopFlag
from producer.world import MINUTE_MS, drawn_trends, parse_duration_ms, parse_time_ms

log = logging.getLogger("producer")
# Drawn trends cover at most this many hours of a run (a month-long run would otherwise carry thousands).
DRAWN_TREND_HOURS = 48


def add_synthetic_parser(sources, settings) -> None:
    """The ``synthetic`` source's options."""
    synthetic = sources.add_parser(
        "synthetic",
        help="seeded Zipf traffic with a daily curve and injected scenarios",
        description="Seeded synthetic traffic. The same seed and options give the same events, byte for "
        "byte, for any number of processes. Writes a ground-truth JSON file beside the run.",
    )
    catalogue_options(synthetic)
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
    kafka_options(synthetic, settings)


def add_history_parser(sources, settings) -> None:
    """The ``history`` source's options."""
    history = sources.add_parser(
        "history",
        help="write months of synthetic hourly counts as Wikimedia dump files",
        description="Hourly dump files (pageviews-YYYYMMDD-HH0000.gz) of the synthetic world, "
        "for the backfill.",
    )
    catalogue_options(history)
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


def add_clickstream_parser(sources, settings) -> None:
    """The ``clickstream`` source's options."""
    clicks = sources.add_parser(
        "clickstream",
        help="write a month of the synthetic world's clickstream as a Wikimedia dump",
        description="A month of clickstream (prev curr type n) of the synthetic world's most popular "
        "articles, as clickstream-<wiki>-YYYY-MM.tsv.gz, for batch/clickstream.py.",
    )
    catalogue_options(clicks)
    clicks.add_argument("--month", required=True, help="the month it stands for, YYYY-MM")
    clicks.add_argument(
        "--top-ranks", type=int, default=100_000, metavar="N", help="articles (default 100,000)"
    )
    clicks.add_argument("--out", required=True, help="a folder, or s3://bucket/prefix")


def run_synthetic(args, settings, stop: StopFlag) -> int:
    from producer.synthetic import Pace, SyntheticRun, ground_truth, injected, produce, write_ground_truth

    catalogue = catalogue_of(args)
    start_ms = parse_start_ms(args.start, int(time.time() * 1000))
    start_ms -= start_ms % MINUTE_MS
    minutes = max(1, -(-parse_duration_ms(args.duration) // MINUTE_MS))
    scenarios = scenarios_of(args, start_ms, catalogue)
    if args.drawn_trends:
        hours = min(-(-minutes // 60), DRAWN_TREND_HOURS)
        drawn = drawn_trends(catalogue, start_ms, args.views_per_minute, args.drawn_trends, hours, args.seed)
        taken = {scenario.rank for scenario in scenarios}
        scenarios += tuple(trend for trend in drawn if trend.rank not in taken)
    tracked = tuple(sorted({*range(min(5, catalogue.size)), *(catalogue.rank(t) for t in args.track)}))
    run = SyntheticRun(catalogue, args.seed, start_ms, minutes, args.views_per_minute, scenarios, tracked)
    truth_path = args.ground_truth or (
        settings.stack.state_path
        / "runs"
        / f"ground-truth-{args.seed}-{time.strftime('%Y%m%dT%H%M', time.gmtime(start_ms / 1000))}.json"
    )
    for scenario in scenarios:
        log.info(
            "injecting %s on %s from %s for %d min, size %d",
            scenario.kind,
            scenario.title,
            iso_minute(scenario.start_ms),
            scenario.duration_ms // MINUTE_MS,
            scenario.size,
        )
    log.info(
        "producing %d simulated minutes from %s to %s (%s processes, speed-up %s)",
        run.minutes,
        iso_minute(run.start_ms),
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


def run_history(args, settings, stop: StopFlag) -> int:
    from producer.history import write_history

    catalogue = catalogue_of(args)
    first_ms = parse_time_ms(f"{args.first_day}T00:00:00Z")
    scenarios = scenarios_of(args, first_ms, catalogue)
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
        catalogue_of(args), args.seed, args.views_per_minute, args.top_ranks, args.month, args.out, settings
    )
    print(f"wrote {written:,} clickstream lines to {args.out}")
    return 0
