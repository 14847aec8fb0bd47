"""Benchmark: the clickstream ingest on an enwiki-sized month, against reading the same file at all.

    .stack/venv/bin/python bench/clickstream_ingest.py [--lines 32000000] [--articles 6000000]

Writes (once; kept under .stack/bench/ for the next run) a gzipped month in today's dump layout
(``prev curr type n``) shaped like enwiki's: about 32 million lines, referrers from 6 million
articles and the ``other-*`` sources (about 17 % of the lines), the articles linked to most having
tens of thousands of lines, clicks from 10 up with a long tail. Then, in the same run:

- the floor: ``gzip -dc FILE | wc -l``, what reading the file costs at all (one core);
- Spark's floor: ``spark.read.text(FILE).count()`` under spark-submit (JVM start included);
- the job: ``deploy/local/spark-submit batch/clickstream.py --input FILE`` as cron runs it, under a
  private S3 prefix of the local stack;

and prints each time, lines/s, the ratio to the floors and the peak resident memory of each process
tree (driver JVM and Python), the job's own step timings, and what it wrote (lines, pairs, and the
bytes of edges and summaries on S3). Last, the serving side: a trending list of 50 of the most
linked-to articles looked up by stores.navigation (what batch/navigation.py does when a list
changes: cold, then warm), and the Redis commands each page view of the site costs (the site
under load by wrk on /, /api/trending and /api/anomalies, INFO's command counter before and after).
Needs the local stack (python3 deploy/local/stack.py start) and wrk (stack.py install-test-tools).
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.navigation import Publisher  # noqa: E402
from bench.measure import delete_prefix, log, timed  # noqa: E402
from bench.web_throughput import fill_redis, free_port, run_wrk, start_site, wait_for  # noqa: E402
from core.clickstream import dump_file_name  # noqa: E402
from core.config import REPO_ROOT, load_settings, private_names  # noqa: E402
from stores.clients import redis_client, s3_client  # noqa: E402
from stores.navigation import NavigationStore  # noqa: E402

WIKI, MONTH = "enwiki", "2026-09"
DATA_DIR = REPO_ROOT / ".stack" / "bench" / "clickstream"
SPARK_SUBMIT = str(REPO_ROOT / "deploy" / "local" / "spark-submit")
CHUNK_LINES = 1_000_000
# Shares of the other-* referrers among the source lines, roughly enwiki's.
SOURCE_REFERRERS = {
    "other-search": 0.40,
    "other-empty": 0.25,
    "other-external": 0.15,
    "other-internal": 0.12,
    "other-other": 0.08,
}
SOURCE_LINE_SHARE = 0.17
# Words that make titles as long as enwiki's (about 20 characters on average).
TITLE_WORDS = ["History_of", "List_of_films", "Battle_of", "Geography_of_the", "Season", "Album", "Station"]


def month_lines(chunk: int, articles: int, seed: int) -> str:
    """Chunk ``chunk`` of the month: CHUNK_LINES tab-separated lines (prev, curr, type, n), seeded.

    Articles are drawn with density falling as rank^-1/2 (article 0 is linked to from ~CHUNK_LINES/2,500
    lines of each chunk), which gives the heavy heads and the long tail of a real month.
    """
    rng = np.random.Generator(np.random.PCG64([seed, chunk]))
    articles_to = (articles * rng.random(CHUNK_LINES) ** 2).astype(np.int64)
    articles_from = (articles * rng.random(CHUNK_LINES) ** 2).astype(np.int64)
    from_source = rng.random(CHUNK_LINES) < SOURCE_LINE_SHARE
    sources = list(SOURCE_REFERRERS)
    source = rng.choice(len(sources), CHUNK_LINES, p=list(SOURCE_REFERRERS.values()))
    stale_link = rng.random(CHUNK_LINES) < 0.03  # "other": the referrer no longer links to the article
    clicks = np.minimum(10 + 5 * rng.pareto(1.2, CHUNK_LINES), 5_000_000).astype(np.int64)
    lines = []
    for to, frm, is_source, src, stale, n in zip(
        articles_to.tolist(),
        articles_from.tolist(),
        from_source.tolist(),
        source.tolist(),
        stale_link.tolist(),
        clicks.tolist(),
        strict=True,
    ):
        if is_source:
            lines.append(f"{sources[src]}\t{title_of(to)}\texternal\t{n}\n")
        else:
            lines.append(f"{title_of(frm)}\t{title_of(to)}\t{'other' if stale else 'link'}\t{n}\n")
    return "".join(lines)


def title_of(rank: int) -> str:
    """The title month_lines gives the article of ``rank``."""
    return f"{TITLE_WORDS[rank % len(TITLE_WORDS)]}_{rank}"


def write_month(path: Path, lines: int, articles: int, seed: int) -> None:
    """Write the month, gzipped, with a progress line every ten chunks (rate and ETA)."""
    chunks = -(-lines // CHUNK_LINES)
    partial = path.with_suffix(".partial")
    began = time.monotonic()
    with gzip.open(partial, "wt", encoding="utf-8", compresslevel=1) as out:
        for chunk in range(chunks):
            out.write(month_lines(chunk, articles, seed))
            done = chunk + 1
            if done % 10 == 0 or done == chunks:
                elapsed = time.monotonic() - began
                rate = done * CHUNK_LINES / elapsed
                eta = (chunks - done) * CHUNK_LINES / rate
                written = f"{done * CHUNK_LINES:,} of {chunks * CHUNK_LINES:,} lines"
                log(f"  {written}, {rate:,.0f} lines/s, ETA {eta:.0f} s")
    partial.rename(path)  # a run stopped half-way leaves no file that looks complete


def step_timings(output: str) -> list[str]:
    return re.findall(r" INFO (.* done in [\d.]+ s)$", output, flags=re.MULTILINE) + re.findall(
        r"batch\.clickstream INFO (.* is now version .*)$", output, flags=re.MULTILINE
    )


def prefix_bytes(client, bucket: str, prefix: str) -> int:
    total = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        total += sum(o["Size"] for o in page.get("Contents", []))
    return total


def redis_commands(client) -> int:
    return int(client.info("stats")["total_commands_processed"])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--lines", type=int, default=32_000_000, help="lines of the month (default 32,000,000)"
    )
    parser.add_argument("--articles", type=int, default=6_000_000, help="articles (default 6,000,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-floors", action="store_true", help="time the job only")
    parser.add_argument("--count-lines", metavar="FILE", help=argparse.SUPPRESS)  # Spark's floor
    args = parser.parse_args()
    if args.count_lines:
        from pyspark.sql import SparkSession

        print(SparkSession.builder.getOrCreate().read.text(args.count_lines).count())
        return 0

    chunks = -(-args.lines // CHUNK_LINES)
    lines = chunks * CHUNK_LINES
    data = DATA_DIR / f"{lines}-{args.articles}-{args.seed}" / dump_file_name(WIKI, MONTH)
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        log(f"writing {lines:,} lines of {WIKI} {MONTH} over {args.articles:,} articles to {data} …")
        write_month(data, lines, args.articles, args.seed)
    log(f"the month: {data} ({data.stat().st_size / 2**20:,.0f} MiB gzipped, {lines:,} lines)")

    tag = f"bench{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag), "PYTHONPATH": str(REPO_ROOT)}
    settings = load_settings(env)
    client = s3_client(settings)
    rows = []

    def heartbeat(elapsed: float, resident: float, output: list[str]) -> None:
        last = next((line.strip() for line in reversed(output) if " INFO " in line), "starting")
        log(f"  {elapsed:.0f} s, {resident:,.0f} MiB resident; last: {last[-120:]}")

    try:
        if not args.skip_floors:
            seconds, peak, counted = timed(["bash", "-c", f"gzip -dc '{data}' | wc -l"], env)
            if int(counted.split()[0]) != lines:
                raise SystemExit(f"the month has {counted.split()[0]} lines, not {lines}")
            rows.append(("gzip -dc | wc -l (floor)", seconds, peak))
            log(f"gzip -dc | wc -l: {seconds:.1f} s")
            seconds, peak, _ = timed([SPARK_SUBMIT, __file__, "--count-lines", str(data)], env, heartbeat)
            rows.append(("Spark read + count (floor)", seconds, peak))
            log(f"Spark read + count: {seconds:.1f} s, peak {peak:,.0f} MiB")

        log(f"the job: spark-submit batch/clickstream.py --input {data.name} (S3 prefix runs/{tag}/) …")
        seconds, peak, output = timed(
            [SPARK_SUBMIT, "batch/clickstream.py", "--input", str(data)], env, heartbeat
        )
        rows.append(("batch/clickstream.py", seconds, peak))
        written = re.search(r"\((\d+) lines, (\d+) pairs\)", output)
        if not written or int(written[1]) != lines:
            raise SystemExit(f"the job did not report {lines:,} lines:\n{output[-3000:]}")
        for line in step_timings(output):
            log(f"    {line}")
        root = f"runs/{tag}/clickstream/wiki={WIKI}/month={MONTH}/"
        edges = prefix_bytes(client, settings.s3.bucket, root)
        log(f"written: {int(written[2]):,} pairs, {edges / 2**20:,.0f} MiB of Parquet")

        print()
        print(f"{'':<30}{'seconds':>9}{'lines/s':>12}{'peak MiB':>10}{'of floor':>10}")
        floor = rows[0][1]
        for name, seconds, peak in rows:
            print(f"{name:<30}{seconds:>9.1f}{lines / seconds:>12,.0f}{peak:>10,.0f}{seconds / floor:>9.1f}x")
        print()

        serving(settings, env, tag)
    finally:
        delete_prefix(settings, client, f"runs/{tag}/")
        redis = redis_client(settings)
        for key in redis.scan_iter(f"{tag}:*"):
            redis.delete(key)
    return 0


def serving(settings, env: dict[str, str], tag: str) -> None:
    """The serving step's lookups of a 50-article list in the month just ingested, and the Redis
    commands per page view of the site."""
    redis = redis_client(settings)
    fill_redis(settings, lambda rank: title_of(rank - 1))  # 50 of the most linked-to articles, trending
    store = NavigationStore(settings)
    publisher = Publisher(settings, redis, store)
    for attempt in ("cold", "warm"):
        publisher.published.clear()
        began = time.monotonic()
        publisher.publish_changed()
        log(f"serving step, {attempt}: navigation of both lists written in {time.monotonic() - began:.2f} s")

    port = free_port()
    site = start_site(env, port)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        print(f"{'page':<22}{'req/s':>9}{'Redis commands per view':>26}")
        for page in ("/", "/api/trending", "/api/anomalies"):
            before = redis_commands(redis)
            rps, _, _, requests = run_wrk(f"http://127.0.0.1:{port}{page}", 8, 5)
            per_view = (redis_commands(redis) - before - 1) / requests  # the INFO itself counts once
            print(f"{page:<22}{rps:>9,.0f}{per_view:>26.3f}")
    finally:
        site.send_signal(signal.SIGTERM)
        site.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
