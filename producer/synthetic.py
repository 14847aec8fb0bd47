"""The synthetic source: seeded Zipf traffic with injected scenarios, into Kafka, with ground truth.

Each simulated minute is generated whole (producer.world.minute_events) and
split between the worker processes by event index, so every process walks the
clock together and the union of what they send is the same for any number of
processes. The clock runs in real time (speed-up 1), faster, or as fast as the
broker takes it (speed-up 0).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.events import PAGE_REQUEST_ACCESS_TEMPLATE
from producer.sink import PageRequestSink, Progress, StopFlag
from producer.world import (
    ACCESS_NAMES,
    MINUTE_MS,
    Catalogue,
    Scenario,
    background_views,
    minute_events_with_access,
)

log = logging.getLogger("producer.synthetic")

CHUNK = 4096  # events generated, paced and sent together
TITLE_CACHE_LIMIT = 500_000  # Zipf traffic repeats its head: the cache saves most encoding


@dataclass(frozen=True)
class SyntheticRun:
    """Everything that decides which events a synthetic run produces."""

    catalogue: Catalogue
    seed: int
    start_ms: int  # a whole minute
    minutes: int
    views_per_minute: float
    scenarios: tuple[Scenario, ...] = ()
    tracked_ranks: tuple[int, ...] = ()  # articles whose per-minute counts go in the ground truth

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.minutes * MINUTE_MS

    def minute_starts(self) -> range:
        return range(self.start_ms, self.end_ms, MINUTE_MS)

    def expected_events(self) -> int:
        """Events in the whole run (before drops and without scenario extras): for progress."""
        return sum(background_views(self.views_per_minute, m) for m in self.minute_starts())

    def all_tracked_ranks(self) -> list[int]:
        return sorted({*self.tracked_ranks, *(s.rank for s in self.scenarios)})


@dataclass(frozen=True)
class Pace:
    """How fast the simulated clock runs against the wall clock, and an overall rate cap."""

    speedup: float = 1.0  # simulated seconds per wall second; 0 = as fast as possible
    max_rate: float = 0.0  # events per second, all processes together; 0 = no cap
    # The simulated time that the wall clock's start stands for (None: the run's start). A real-time
    # run that starts in the past anchors at "now": the past is sent at once, then it keeps pace.
    anchor_ms: int | None = None


@dataclass
class ShareResult:
    """What one worker sent: totals and the tracked articles' counts per minute."""

    accepted: int = 0
    failed: int = 0
    first_error: str = ""
    tracked: dict[int, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    stopped_early: bool = False


class _TitleBytes:
    """Encoded title per rank, cached for the popular head of the catalogue."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.cache: dict[int, bytes] = {}

    def __call__(self, rank: int) -> bytes:
        encoded = self.cache.get(rank)
        if encoded is None:
            encoded = self.catalogue.title(rank).encode("utf-8")
            if len(self.cache) < TITLE_CACHE_LIMIT:
                self.cache[rank] = encoded
        return encoded


ACCESS_BYTES = [name.encode() for name in ACCESS_NAMES]


def encode_chunk(
    ranks: np.ndarray, timestamps: np.ndarray, access: np.ndarray, project: bytes, title_bytes: _TitleBytes
) -> tuple[list[bytes], list[bytes]]:
    """Kafka keys (titles) and values (page-request JSON with its access) for a chunk of events."""
    keys = [title_bytes(rank) for rank in ranks.tolist()]
    template, sites = PAGE_REQUEST_ACCESS_TEMPLATE, ACCESS_BYTES
    values = [
        template % (ts, project, key, sites[code])
        for ts, key, code in zip(timestamps.tolist(), keys, access.tolist(), strict=True)
    ]
    return keys, values


def produce_share(
    run: SyntheticRun,
    pace: Pace,
    worker: int,
    workers: int,
    sink: PageRequestSink,
    should_stop,
    on_progress=lambda sent: None,
) -> ShareResult:
    """Send this worker's share (every ``workers``-th event of each minute) of the run."""
    result = ShareResult()
    title_bytes = _TitleBytes(run.catalogue)
    project = run.catalogue.project.encode()
    tracked = np.array(run.all_tracked_ranks(), dtype=np.int64)
    worker_rate = pace.max_rate / workers if pace.max_rate else 0.0
    wall_start = time.monotonic()
    for minute in run.minute_starts():
        ranks, timestamps, access = minute_events_with_access(
            run.catalogue, minute, run.views_per_minute, run.seed, run.scenarios
        )
        ranks, timestamps, access = (
            ranks[worker::workers],
            timestamps[worker::workers],
            access[worker::workers],
        )
        for begin in range(0, ranks.size, CHUNK):
            if should_stop():
                result.stopped_early = True
                return _finish(result, sink)
            chunk_ranks = ranks[begin : begin + CHUNK]
            chunk_ts = timestamps[begin : begin + CHUNK]
            anchor = run.start_ms if pace.anchor_ms is None else pace.anchor_ms
            wait_for_turn(pace, wall_start, anchor, int(chunk_ts[0]), result.accepted, worker_rate)
            keys, values = encode_chunk(
                chunk_ranks, chunk_ts, access[begin : begin + CHUNK], project, title_bytes
            )
            sink.send_many(keys, values)
            result.accepted += len(keys)
            if tracked.size:
                hits = chunk_ranks[np.isin(chunk_ranks, tracked)]
                for rank, count in zip(*np.unique(hits, return_counts=True), strict=True):
                    per_minute = result.tracked[int(rank)]
                    per_minute[minute] = per_minute.get(minute, 0) + int(count)
            on_progress(result.accepted)
    return _finish(result, sink)


def wait_for_turn(
    pace: Pace, wall_start: float, sim_start_ms: int, event_ms: int, sent: int, worker_rate: float
) -> None:
    """Sleep until the simulated clock reaches ``event_ms`` and the rate cap allows ``sent`` more."""
    due = wall_start
    if pace.speedup > 0:
        due = max(due, wall_start + (event_ms - sim_start_ms) / 1000 / pace.speedup)
    if worker_rate > 0:
        due = max(due, wall_start + sent / worker_rate)
    delay = due - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def _finish(result: ShareResult, sink: PageRequestSink) -> ShareResult:
    stats = sink.close()
    result.failed, result.first_error = stats.failed, stats.first_error
    return result


# ---------------------------------------------------------------------------- processes


def _worker_main(run, pace, worker, workers, bootstrap, topic, stop_event, sent_counter, results) -> None:
    import signal

    # Ctrl-C reaches the whole process group; the parent decides, workers follow stop_event.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    try:
        sink = PageRequestSink(bootstrap, topic, client_id=f"wikitrends-synthetic-{worker}")

        def on_progress(sent: int) -> None:
            sent_counter.value = sent

        result = produce_share(run, pace, worker, workers, sink, stop_event.is_set, on_progress)
        results.put((worker, result, ""))
    except Exception as error:  # reported by the parent with the worker's number
        results.put((worker, None, f"{error.__class__.__name__}: {error}"))


def produce(
    run: SyntheticRun, pace: Pace, bootstrap: str, topic: str, processes: int, stop: StopFlag
) -> ShareResult:
    """Send the whole run with ``processes`` workers; returns the merged result."""
    progress = Progress("synthetic events sent", total=run.expected_events())
    if processes == 1:
        sink = PageRequestSink(bootstrap, topic)
        return produce_share(run, pace, 0, 1, sink, stop.is_set, progress.update)

    context = mp.get_context("fork")
    stop_event = context.Event()
    results = context.Queue()
    counters = [context.Value("q", 0, lock=False) for _ in range(processes)]
    children = [
        context.Process(
            target=_worker_main,
            args=(run, pace, index, processes, bootstrap, topic, stop_event, counters[index], results),
            name=f"synthetic-{index}",
        )
        for index in range(processes)
    ]
    for child in children:
        child.start()
    merged = ShareResult()
    errors: list[str] = []
    pending = processes
    while pending:
        if stop.is_set():
            stop_event.set()
        try:
            worker, result, error = results.get(timeout=0.5)
        except Exception:  # queue.Empty: keep reporting progress
            progress.update(sum(counter.value for counter in counters))
            continue
        pending -= 1
        if error:
            errors.append(f"worker {worker}: {error}")
            stop_event.set()
            continue
        merged.accepted += result.accepted
        merged.failed += result.failed
        merged.first_error = merged.first_error or result.first_error
        merged.stopped_early |= result.stopped_early
        for rank, per_minute in result.tracked.items():
            for minute, count in per_minute.items():
                merged.tracked[rank][minute] = merged.tracked[rank].get(minute, 0) + count
    for child in children:
        child.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return merged


# ---------------------------------------------------------------------------- ground truth


def injected(run: SyntheticRun, topic: str) -> dict:
    """What a run injects, written when it starts (``complete`` false; no counts yet)."""
    return {**_run_facts(run, topic), "complete": False}


def ground_truth(run: SyntheticRun, result: ShareResult, topic: str) -> dict:
    """The JSON document tests check the pipeline against."""
    return {
        **_run_facts(run, topic),
        "complete": not result.stopped_early,
        "events_accepted": result.accepted,
        "events_failed": result.failed,
        "tracked": {
            run.catalogue.title(rank): {
                "rank": rank,
                "views_per_minute": {
                    str(minute): result.tracked.get(rank, {}).get(minute, 0) for minute in run.minute_starts()
                },
            }
            for rank in run.all_tracked_ranks()
        },
    }


def _run_facts(run: SyntheticRun, topic: str) -> dict:
    return {
        "source": "synthetic",
        "topic": topic,
        "seed": run.seed,
        "catalogue_size": run.catalogue.size,
        "zipf_exponent": run.catalogue.zipf_exponent,
        "project": run.catalogue.project,
        "views_per_minute": run.views_per_minute,
        "start_ms": run.start_ms,
        "end_ms": run.end_ms,
        "scenarios": [scenario.to_json() for scenario in run.scenarios],
    }


def write_ground_truth(path: Path, document: dict) -> None:
    """Write atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(document, indent=1, ensure_ascii=False))
    partial.replace(path)
