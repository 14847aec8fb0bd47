"""`make run SOURCE=wikipedia`: the system on real Wikipedia traffic instead of the synthetic world.

The page requests come from Wikimedia's hourly pageview files (python -m producer wikipedia: the last
``[wikipedia] since_hours`` published hours, then each new hour as it appears, about an hour after it
ends), the edits from Wikimedia's EventStreams (python -m producer edits-live). The batch set-up fetches
``[wikipedia] history_days`` days of the same files into S3 and backfills the averages from them
(batch/backfill.py --from-site), then unpauses the batch DAGs. Both need the internet (or a mirror of
the dumps site: WIKITRENDS_WIKIPEDIA_BASE_URL).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from batch_setup import batch_setup_done
from core.config import Settings
from live_world import ROOT, say
from stack_manager.layout import Layout
from stack_manager.pids import ManagedProcess

HERE = Path(__file__).resolve().parent
SOURCES = ("synthetic", "wikipedia")


def source_file(settings: Settings) -> Path:
    """Where the source of the running system is recorded, so that a later `make run` keeps it."""
    return Layout.of(settings).run / "source"


def chosen_source(settings: Settings, asked: str | None) -> str:
    """The source asked for, else the one the system runs on, else synthetic; recorded for next time."""
    recorded = source_file(settings)
    source = asked or (recorded.read_text().strip() if recorded.exists() else "synthetic")
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    recorded.parent.mkdir(parents=True, exist_ok=True)
    recorded.write_text(source + "\n")
    return source


def start_wikipedia_producer(settings: Settings, producer: ManagedProcess, python: str, wikis: str) -> None:
    """Follow Wikimedia's hourly pageview files into the page-request topic."""
    pid = producer.start([python, "-m", "producer", "wikipedia", "--wikis", wikis], cwd=ROOT)
    say(
        f"Wikipedia source started (pid {pid}, log {producer.log}): {wikis} from "
        f"{settings.wikipedia.base_url}, the last {settings.wikipedia.since_hours} published hours first, "
        "then each hour as it is published (about an hour after it ends)"
    )


def start_live_edits(producer: ManagedProcess, python: str) -> None:
    """Follow Wikimedia's recentchange stream into the edits topic."""
    pid = producer.start([python, "-m", "producer", "edits-live"], cwd=ROOT)
    say(f"live edit stream started (pid {pid}, log {producer.log}): Wikimedia EventStreams recentchange")


def wikipedia_batch_setup(settings: Settings, wikis: str, unpause) -> int:
    """The averages from ``[wikipedia] history_days`` days of real hourly files, then the DAGs unpaused."""
    days = settings.wikipedia.history_days
    os.nice(10)  # Spark and the downloads come after the live list
    say(f"batch set-up: fetching {days} days of {wikis} page views from {settings.wikipedia.base_url} …")
    backfill = [
        *(str(HERE / "spark-submit"), "batch/backfill.py", "--from-site"),
        *("--days", str(days), "--wikis", wikis),
    ]
    if subprocess.run(backfill, cwd=ROOT).returncode != 0:
        say("batch set-up: the backfill from the dumps site failed; see above (make run retries it)")
        return 1
    unpause(settings)
    batch_setup_done(settings).write_text(f"wikipedia {wikis}\n")
    say(
        "batch set-up: done. Airflow computes each hour's anomalies once the Wikipedia source has sent "
        "the hour (about two hours after it began). No clickstream is ingested for real traffic: ingest "
        "Wikimedia's monthly files with batch/clickstream.py (docs/clickstream.md)."
    )
    return 0
