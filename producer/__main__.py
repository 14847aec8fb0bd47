"""Producers of page requests and edits: ``python -m producer --help`` lists the sources.

Each source's options and run function live with it: producer/world_sources.py
(synthetic, history, clickstream), producer/stream_sources.py (replay, live),
producer/edits.py (the edit sources); the options they share in producer/cli.py.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from core.config import load_settings
from producer import stream_sources, world_sources
from producer.cli import EXIT_USAGE_OR_BROKER, catalogue_of, parse_start_ms, world_options
from producer.edits import add_parsers as add_edit_parsers
from producer.sink import BrokerUnreachable, StopFlag

log = logging.getLogger("producer")


def build_parser(settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producer",
        description="Push Wikipedia page requests to Kafka: synthetic traffic with ground truth, "
        "replayed pageview dumps, or live edits. Also writes synthetic history in the dump format.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sources = parser.add_subparsers(dest="source", required=True, metavar="SOURCE")
    world_sources.add_synthetic_parser(sources, settings)
    world_sources.add_history_parser(sources, settings)
    world_sources.add_clickstream_parser(sources, settings)
    stream_sources.add_replay_parser(sources, settings)
    stream_sources.add_live_parser(sources, settings)
    stream_sources.add_wikipedia_parser(sources, settings)
    add_edit_parsers(sources, settings, world_options)
    return parser


def run_edits_synthetic(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_synthetic_edits

    start_ms = parse_start_ms(args.start, int(time.time() * 1000))
    return run_synthetic_edits(args, settings, stop, catalogue_of(args), start_ms)


def run_edits_replay(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_replay_edits

    return run_replay_edits(args, settings, stop)


def run_edits_live(args, settings, stop: StopFlag) -> int:
    from producer.edits import run_live_edits

    return run_live_edits(args, settings, stop)


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    parser = build_parser(settings)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kafka").setLevel(logging.WARNING)
    # kafka-python's event loop warns whenever a send takes over 0.1 s, as it does while catching up
    # at full speed on a busy machine: nothing an operator can act on.
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    stop = StopFlag().install()
    runners = {
        "synthetic": world_sources.run_synthetic,
        "history": world_sources.run_history,
        "clickstream": world_sources.run_clickstream,
        "replay": stream_sources.run_replay,
        "live": stream_sources.run_live,
        "wikipedia": stream_sources.run_wikipedia,
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
