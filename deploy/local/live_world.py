"""The live world `make run` shows: what the synthetic producers send and inject, and when they start.

The page-request producer runs in real time at 2,000 page requests a second
(the first time from the top of the previous hour), with a spike and a drop
half an hour into the stream, a trend from twenty minutes in that rises for
three hours, one on a watched article from fifty minutes in (its TRAFFIC_SPIKE
alert), and four seeded trends an hour of other sizes and lengths (what
is injected is written to .stack/runs/live-ground-truth.json); the synthetic
edit stream beside it gives watch-list alerts every two hours and an edit
surge on the trending article.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.config import Settings
from stack_manager.layout import Layout
from stack_manager.pids import ManagedProcess

ROOT = Path(__file__).resolve().parents[2]

# 2,000 page requests a second over the 6 M-article catalogue: a big wiki's traffic, which the job
# keeps up with on one 2-core machine with room to spare (docs/streaming.md, "Throughput").
LIVE_VIEWS_PER_MINUTE = 120_000
# The injected spike and drop begin this long after the stream's first minute, inside the hour the
# first scheduled anomaly run computes.
INJECTED_AFTER = "30m"
# The injected trend: it begins this long after the stream's first minute and rises for TREND_HOURS,
# so that when the job has caught up with the clock (half an hour or so after make run) the trend has
# a whole hour of rising windows behind it and is on the trending page, and stays there for hours.
# (An article trends when its last half hour rises beyond its usual share: core/trending.py.)
TREND_AFTER_MINUTES = 20
TREND_HOURS = 3
TREND_TITLE = "Article_40000"
# A trend on a watched article (a variant of the watch list's "Artificial intelligence"), so that the
# alerts page shows a TRAFFIC_SPIKE: it begins this long after the stream's first minute.
WATCHED_TREND_AFTER_MINUTES = 50
WATCHED_TREND_TITLE = "Machine_intelligence"
# Beside them, this many seeded trends an hour on other articles (sizes, starts and rises drawn by
# producer.world.drawn_trends); all of them are in the ground truth file from the start.
DRAWN_TRENDS_PER_HOUR = 4


def say(message: str) -> None:
    print(f"[run] {message}", flush=True)


def live_start_file(settings: Settings) -> Path:
    """Where the first minute of the live stream is recorded (ISO), for the batch set-up."""
    return Layout.of(settings).run / "live-start"


def stream_start(settings: Settings, resumed: bool) -> datetime:
    """The first minute the producers send: the top of the previous hour on a first start (its events up
    to now go out at once, so the first trending hour is complete and every hourly file is a whole
    hour); now for a resumed job, which already has its hour (the time it was down stays empty)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now if resumed else now.replace(minute=0) - timedelta(hours=1)
    if not resumed:
        live_start_file(settings).write_text(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return start


def start_producer(settings: Settings, producer: ManagedProcess, python: str, start: datetime) -> None:
    """Start the synthetic producer in real time from ``start`` with its injected trend, spike and drop."""
    pid = producer.start(
        [
            *(python, "-m", "producer", "synthetic", "--duration", "30d"),
            *("--start", start.strftime("%Y-%m-%dT%H:%M:%SZ")),
            *("--speedup", "1", "--views-per-minute", str(LIVE_VIEWS_PER_MINUTE)),
            *("--trend", f"+{TREND_AFTER_MINUTES}m,{TREND_HOURS}h,400,{TREND_TITLE}"),
            *("--trend", f"+{WATCHED_TREND_AFTER_MINUTES}m,2h,300,{WATCHED_TREND_TITLE}"),
            *("--spike", f"+{INJECTED_AFTER},3h,300", "--drop", f"+{INJECTED_AFTER},2h,0"),
            *(
                "--drawn-trends",
                str(DRAWN_TRENDS_PER_HOUR),
                "--ground-truth",
                str(live_ground_truth(settings)),
            ),
        ],
        cwd=ROOT,
    )
    say(
        f"synthetic producer started at {start:%H:%M} UTC (pid {pid}, log {producer.log}); what it injects: "
        f"{live_ground_truth(settings)}"
    )


def live_ground_truth(settings: Settings) -> Path:
    """Where the live producer writes what it injects (bench/trending_live.py scores the lists against it)."""
    return settings.stack.state_path / "runs" / "live-ground-truth.json"


def start_edit_stream(producer: ManagedProcess, python: str, start: datetime) -> None:
    """Start the synthetic edit stream from ``start``, with its surge on the trending article."""
    pid = producer.start(
        [
            *(python, "-m", "producer", "edits-synthetic", "--duration", "30d", "--speedup", "1"),
            *("--start", start.strftime("%Y-%m-%dT%H:%M:%SZ"), "--trend-title", TREND_TITLE),
            *("--trend-start", f"+{TREND_AFTER_MINUTES}m", "--trend-duration", f"{TREND_HOURS}h"),
        ],
        cwd=ROOT,
    )
    say(f"synthetic edit stream started at {start:%H:%M} UTC (pid {pid}, log {producer.log})")
