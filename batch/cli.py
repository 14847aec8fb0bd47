"""What every batch job's command line shares: argument types, logging, timed steps, exit codes."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from batch.storage import BatchError
from core.config import ConfigError

EXIT_OK = 0
EXIT_BAD_INPUT = 2

log = logging.getLogger("batch")


def iso_date(text: str) -> str:
    """argparse type: a YYYY-MM-DD date."""
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-02") from None


def hour_of_day(text: str) -> int:
    """argparse type: an hour 0..23."""
    if not text.isdigit() or not 0 <= int(text) <= 23:
        raise argparse.ArgumentTypeError(f"{text!r} is not an hour 0..23")
    return int(text)


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return int(text)


def checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """argparse type from a check that returns the value or raises ValueError saying why."""

    def argument_type(text: str) -> str:
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return argument_type


def input_globs(parser: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """``--input GLOB``, repeatable: ``what`` the files are (local or s3a://, folders walked)."""
    parser.add_argument(
        "--input",
        action="append",
        required=required,
        metavar="GLOB",
        help=f"{what}, local or s3a://; a folder is walked; repeat for several",
    )


@contextmanager
def step(what: str) -> Iterator[None]:
    """Log a step's start and how long it took, so an operator sees where the time goes."""
    log.info("%s …", what)
    started = time.monotonic()
    yield
    log.info("%s: done in %.1f s", what, time.monotonic() - started)


def run_job(main: Callable[[list[str] | None], int], argv: list[str] | None = None) -> None:
    """Run a job's main with operator-readable logs; a BatchError or ConfigError is a message, exit 2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("py4j", "pyspark"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        sys.exit(main(argv))
    except (BatchError, ConfigError) as error:
        log.error("%s", error)
        sys.exit(EXIT_BAD_INPUT)
