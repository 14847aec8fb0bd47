"""The Wikipedia source's rates on this machine: download, parse and filter, send, and a day's backfill.

    .stack/venv/bin/python bench/wikipedia_source.py [--wiki-views 9000000] [--other-lines 4000000]
                                                     [--backfill-hours 24]

A dumps mirror on loopback (tests/dumps_mirror.py) serves hourly files of a real file's size and shape:
English Wikipedia's hour from the synthetic world (6 M articles, Zipf; ``--wiki-views`` views, each
article's desktop and mobile views on lines of their own, as the dumps have them) among ``--other-lines``
lines of other wikis and projects. Then, for one hour:

- fetch: download, verify against the checksum file, keep on S3 (producer/wikipedia.py ``HourFiles``);
- read: parse every line, keep en.wikipedia's articles, spread the views over the hour;
- send: the page requests in Kafka transactions with the ledger (``HourSender``), against a baseline of
  the same page requests through the plain sink replay uses (no transactions), measured in the same run;

and with ``--backfill-hours N`` (0 to skip) the backfill of those hours from the mirror
(batch/backfill.py --from-site, Spark): the time for a day of history. Loopback downloads are not the
internet's: the fetch figure is the cost on this machine, not a download speed. Needs the stack.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.pipeline import private_pipeline  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.dumps_site import hours_between  # noqa: E402
from producer.dumps_site import DumpsSite, RetryPolicy  # noqa: E402
from producer.ledger import ensure_ledger_topic  # noqa: E402
from producer.replay import ReplayStats, encoded_pages, page_requests, read_hour, spread_over_hour  # noqa: E402
from producer.sink import PageRequestSink, StopFlag  # noqa: E402
from producer.storage import read_text_lines  # noqa: E402
from producer.wikipedia import DumpsArchive, HourFiles, HourSender  # noqa: E402
from producer.world import Catalogue, hourly_views  # noqa: E402
from tests.dumps_mirror import DumpsMirror  # noqa: E402

HOUR = datetime(2026, 11, 2, 14, tzinfo=UTC)  # a Monday afternoon
OTHER_CODES = ("de", "de.m", "fr", "fr.m", "ja", "ja.m", "es", "es.m", "ru", "it", "zh", "commons.m", "en.d")
MOBILE_SHARE = 0.65
CHUNK = 50_000


def hour_text(wiki_views: int, other_lines: int, seed: int) -> tuple[str, int]:
    """A dump hour: en.wikipedia's desktop and mobile lines, then other wikis'; and its en views."""
    catalogue = Catalogue(6_000_000)
    views = hourly_views(catalogue, int(HOUR.timestamp() * 1000), wiki_views / 60, seed)
    rng = np.random.default_rng(seed)
    ranks = np.flatnonzero(views)
    mobile = rng.binomial(views[ranks], MOBILE_SHARE)
    desktop = views[ranks] - mobile
    lines = []
    for rank, d, m in zip(ranks.tolist(), desktop.tolist(), mobile.tolist(), strict=True):
        title = catalogue.title(rank)
        if d:
            lines.append(f"en {title} {d} 0")
        if m:
            lines.append(f"en.m {title} {m} 0")
    codes = rng.integers(0, len(OTHER_CODES), other_lines)
    other_views = rng.geometric(0.5, other_lines)
    lines += [
        f"{OTHER_CODES[c]} Seite_{i} {v} 0"
        for i, (c, v) in enumerate(zip(codes.tolist(), other_views.tolist(), strict=True))
    ]
    return "\n".join(lines) + "\n", int(views.sum())


def rate(count: float, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s" if seconds > 0 else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wiki-views", type=int, default=9_000_000, help="en.wikipedia's views in the hour")
    parser.add_argument("--other-lines", type=int, default=4_000_000, help="lines of other wikis")
    parser.add_argument("--backfill-hours", type=int, default=24, help="hours backfilled from the mirror")
    parser.add_argument("--backfill-only", action="store_true", help="skip the one-hour measurements")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    began = time.monotonic()
    text, views = hour_text(args.wiki_views, args.other_lines, args.seed)
    print(
        f"hour built in {time.monotonic() - began:.0f} s: {text.count(chr(10)):,} lines, {views:,} en views"
    )
    mirror = DumpsMirror().start()
    payload = mirror.publish(HOUR, text)
    print(f"its file: {len(payload) / 1e6:,.1f} MB gzipped ({len(text.encode()) / 1e6:,.0f} MB of text)")
    stop = StopFlag()
    with private_pipeline("wp") as (_, env, _settings), tempfile.TemporaryDirectory() as downloads:
        env |= {"WIKITRENDS_WIKIPEDIA_DOWNLOAD_DIR": downloads}
        settings = load_settings(env)
        if not args.backfill_only:
            site = DumpsSite(
                mirror.base_url, settings.wikipedia.checksum_file, RetryPolicy.of(settings.wikipedia), stop
            )
            files = HourFiles(site, DumpsArchive(settings), settings)
            started = time.monotonic()
            local, digest = files.get(HOUR)
            fetch_s = time.monotonic() - started

            projects = frozenset({"en.wikipedia"})
            started = time.monotonic()
            hour_ms = int(HOUR.timestamp() * 1000)
            with read_text_lines(str(local), settings) as lines:
                hour = read_hour(lines, hour_ms, projects, settings.articles, ReplayStats(), local.name)
            pages, timestamps = spread_over_hour(hour.views, hour_ms, 1)
            read_s = time.monotonic() - started

            bootstrap = settings.kafka.bootstrap
            ensure_ledger_topic(settings.kafka, bootstrap, settings.kafka.wikipedia_hours_topic)
            sink = PageRequestSink(
                bootstrap,
                settings.kafka.pageviews_topic,
                transactional_id=f"{settings.wikipedia.transactional_id}-bench",
            )
            sender = HourSender(
                sink, settings.kafka.wikipedia_hours_topic, "bench", settings, projects, True, 1, stop
            )
            started = time.monotonic()
            sender.send(HOUR, local, digest, None)
            sink.close()
            send_s = time.monotonic() - started

            baseline = PageRequestSink(bootstrap, settings.kafka.dead_letter_topic, client_id="baseline")
            encoded = encoded_pages(hour)
            started = time.monotonic()
            for begin in range(0, pages.size, CHUNK):
                keys, values = page_requests(
                    encoded, pages[begin : begin + CHUNK].tolist(), timestamps[begin : begin + CHUNK].tolist()
                )
                baseline.send_many(keys, values)
            baseline.close()
            baseline_s = time.monotonic() - started
            site.close()

            events = int(pages.size)
            print(
                f"\none hour of en.wikipedia ({events:,} page requests of {len(hour.titles):,} lines kept):"
            )
            megabytes, line_count = len(payload) / 1e6, text.count("\n")
            print(
                f"  fetch (download, verify, keep on S3)   {fetch_s:6.1f} s  {megabytes / fetch_s:,.1f} MB/s"
            )
            print(
                f"  read (parse, filter, spread)           {read_s:6.1f} s  {rate(line_count, read_s)} lines"
            )
            print(
                f"  send (transactions and ledger)         {send_s:6.1f} s  {rate(events, send_s)} requests"
            )
            print(
                f"  baseline: plain sink, no transactions  {baseline_s:6.1f} s  {rate(events, baseline_s)}"
                f"  (ratio {baseline_s / send_s:.2f})"
            )
            total = fetch_s + read_s + send_s
            print(f"  an hour of traffic sent in {total:,.0f} s: {3600 / total:,.1f}x real time")

        if args.backfill_hours:
            first = HOUR.replace(hour=0)
            for extra in hours_between(first, first + timedelta(hours=args.backfill_hours - 1)):
                mirror.publish(extra, text)
            day = f"{first:%Y-%m-%d}"
            last = f"{first + timedelta(hours=args.backfill_hours - 1):%Y-%m-%d}"
            command = [
                str(ROOT / "deploy/local/spark-submit"), "batch/backfill.py", "--from-site", "--base-url",
                mirror.base_url, "--from", day, "--to", last, "--wikis", "en",
            ]  # fmt: skip
            started = time.monotonic()
            done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
            backfill_s = time.monotonic() - started
            if done.returncode != 0:
                print(done.stderr[-3000:])
                return 1
            fetched = [
                line for line in done.stderr.splitlines() if "done in" in line or "hours on S3" in line
            ]
            print(f"\nbackfill of {args.backfill_hours} hours from the mirror: {backfill_s:,.0f} s in all")
            for line in fetched[-6:]:
                print("  " + line.split(": ", 1)[-1])
    mirror.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
