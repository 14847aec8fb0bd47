"""What the producer's sources share on the command line: options, exit codes, times."""

from __future__ import annotations

import argparse
import time

from producer.world import Catalogue, parse_duration_ms, parse_scenario, parse_time_ms

EXIT_DELIVERY_FAILED = 1
EXIT_USAGE_OR_BROKER = 2


def world_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The catalogue and seed, shared by page requests and edits."""
    group = parser.add_argument_group("the synthetic world")
    group.add_argument("--catalogue-size", type=int, default=6_000_000, help="articles (default 6,000,000)")
    group.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent of popularity (default 1.0)")
    group.add_argument("--project", default="en.wikipedia", help="project of every article")
    group.add_argument("--seed", type=int, default=1, help="same seed and options, same events (default 1)")
    return group


def catalogue_options(parser: argparse.ArgumentParser) -> None:
    group = world_options(parser)
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
        ("bot", "SIZE extra views every minute, all from the desktop site (automated traffic)"),
    ):
        group.add_argument(
            f"--{kind}",
            action="append",
            default=[],
            metavar="START,DURATION,SIZE[,TITLE]",
            help=f"inject a {kind}: {text}. START is +OFFSET from the clock start (+30m) or an ISO time; "
            "DURATION like 1h; TITLE a catalogue title (default: one suited to the kind). Repeatable.",
        )


def kafka_options(parser: argparse.ArgumentParser, settings) -> None:
    group = parser.add_argument_group("Kafka")
    group.add_argument("--bootstrap", default=settings.kafka.bootstrap, help="brokers (default %(default)s)")
    group.add_argument("--topic", default=settings.kafka.pageviews_topic, help="topic (default %(default)s)")


def catalogue_of(args) -> Catalogue:
    return Catalogue(args.catalogue_size, args.zipf, args.project)


def scenarios_of(args, clock_start_ms: int, catalogue: Catalogue):
    return tuple(
        parse_scenario(kind, spec, clock_start_ms, catalogue)
        for kind in ("trend", "spike", "drop", "bot")
        for spec in getattr(args, kind)
    )


def parse_start_ms(text: str, now_ms: int) -> int:
    """'now', 'now-90m' or an ISO time -> epoch ms."""
    if text == "now":
        return now_ms
    if text.startswith("now-"):
        return now_ms - parse_duration_ms(text[4:])
    return parse_time_ms(text)


def iso_minute(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(epoch_ms / 1000))
