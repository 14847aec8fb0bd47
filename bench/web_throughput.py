"""Benchmark: requests per second and p50/p99 latency of the JSON API, against Tornado's own ceiling.

    .stack/venv/bin/python bench/web_throughput.py [--connections 64] [--seconds 10]

Fills a private Redis prefix with a trending list of 50 articles and an anomaly
list of 5 (written by stores.snapshots.SnapshotWriter, as the jobs write them)
and a private S3 prefix with the last 24 hours' counts files of 200,000 articles
each (core.hourly_counts, as the streaming job writes them), starts the site
(``python -m web``, one process) and, in the same run, a Tornado process
whose only handler returns a constant small JSON body: the framework's
ceiling on this machine. Then ``wrk`` (Debian's) loads each
endpoint in turn on loopback and the figures are printed with the ratio to
the ceiling; an article's page is also timed on its first request, when its
hours are read from S3. Needs the local stack's Redis and MinIO and wrk
(stack.py install-test-tools).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import REPO_ROOT, load_settings, private_names  # noqa: E402
from core.contracts import hourly_counts_key  # noqa: E402
from core.hourly_counts import HourlyRow, hourly_counts_parquet  # noqa: E402
from core.snapshots import (  # noqa: E402
    AnomalousArticle,
    AnomalySnapshot,
    TrendingArticle,
    TrendingSnapshot,
)
from core.windows import HOUR_MS  # noqa: E402
from stores.clients import list_keys, redis_client, s3_client  # noqa: E402
from stores.snapshots import SnapshotWriter  # noqa: E402

MINUTE = 1_772_438_400_000


def ceiling_server(port: int) -> None:
    """A Tornado app with one constant JSON handler: what the framework does with no work at all."""
    import asyncio

    import tornado.web

    class Constant(tornado.web.RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(b'{"status":"ok"}')

    async def serve() -> None:
        tornado.web.Application([(r"/constant", Constant)]).listen(port, address="127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within 30 s")


def start_site(env: dict[str, str], port: int) -> subprocess.Popen:
    """The site (``python -m web``, one process) on loopback ``port``, quiet; the caller stops it."""
    return subprocess.Popen(
        [sys.executable, "-m", "web", "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def fill_redis(settings, trending_title: Callable[[int], str] = "Trending_article_{}".format) -> None:
    """A trending list of 50 articles (titled by ``trending_title(rank)``) and an anomaly list of 5."""
    writer = SnapshotWriter(redis_client(settings), settings.redis)
    ends = [MINUTE - 600_000 * k for k in range(5, -1, -1)]
    trending = [
        TrendingArticle(
            rank, "en.wikipedia", trending_title(rank), [10, 12, 15, 19, 24, 30 + rank], ends, 5.0
        )
        for rank in range(1, 51)
    ]
    writer.write_trending(TrendingSnapshot(MINUTE, MINUTE + 3_000, 20, trending), retention_minutes=60)
    hours = list(range(24))
    anomalies = [
        AnomalousArticle(
            rank,
            "en.wikipedia",
            f"Anomalous_article_{rank}",
            10.0 - rank,
            [float(h * rank) for h in hours],
            [float(h + rank) for h in hours],
            expected_distance=1.0,
            score=20.0 - rank,
            day_score=20.0 - rank,
            hour_score=10.0,
        )
        for rank in range(1, 6)
    ]
    writer.write_anomalies(AnomalySnapshot("2026-03-02", 23, MINUTE, MINUTE + 300_000, 6.0, 5_000, anomalies))


HOURLY_ARTICLES = 200_000
ARTICLE = "/articles/en.wikipedia/Trending_article_1"


def fill_s3(settings) -> None:
    """The last 24 hours' counts files: the 50 trending articles among ``HOURLY_ARTICLES`` others."""
    client = s3_client(settings)
    now_ms = int(time.time() * 1000)
    for k in range(1, 25):
        hour_start = now_ms - now_ms % HOUR_MS - k * HOUR_MS
        rows = [HourlyRow("en.wikipedia", f"Article_{n:06d}", 1 + n % 50) for n in range(HOURLY_ARTICLES)]
        rows += [
            HourlyRow("en.wikipedia", f"Trending_article_{rank}", 100 * rank + k) for rank in range(1, 51)
        ]
        key = hourly_counts_key(settings.s3, hour_start)
        client.put_object(Bucket=settings.s3.bucket, Key=key, Body=hourly_counts_parquet(rows))


def first_requests_ms(base: str) -> list[float]:
    """Each trending article's page requested once: its hours read from S3 (not cached yet)."""
    took = []
    for rank in range(2, 51):
        started = time.perf_counter()
        urllib.request.urlopen(f"{base}/api/articles/en.wikipedia/Trending_article_{rank}", timeout=30).read()
        took.append((time.perf_counter() - started) * 1000)
    return took


def run_wrk(url: str, connections: int, seconds: int) -> tuple[float, float, float, int]:
    """Requests/s, p50 and p99 latency (ms) and the requests made, from wrk --latency."""
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)[1])
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx[1]} error responses under load")

    def percentile(p: str) -> float:
        value, unit = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", done.stdout, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, percentile("50"), percentile("99"), int(re.search(r"(\d+) requests in", done.stdout)[1])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections (default 64)")
    parser.add_argument("--seconds", type=int, default=5, help="load per endpoint and round (default 5)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds over all endpoints, in rotating order so that machine noise hits all alike; medians are "
        "printed (default 3)",
    )
    parser.add_argument("--ceiling-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling_server:
        ceiling_server(args.ceiling_server)
        return 0

    tag = f"webbench{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **private_names(tag)}
    settings = load_settings(env)
    fill_redis(settings)
    print(f"writing 24 hourly counts files of {HOURLY_ARTICLES:,} articles to S3 …", flush=True)
    fill_s3(settings)
    site_port, ceiling_port = free_port(), free_port()
    site = start_site(env, site_port)
    ceiling = subprocess.Popen([sys.executable, __file__, "--ceiling-server", str(ceiling_port)])
    try:
        wait_for(f"http://127.0.0.1:{site_port}/healthz")
        wait_for(f"http://127.0.0.1:{ceiling_port}/constant")
        targets = [
            ("ceiling: constant JSON", f"http://127.0.0.1:{ceiling_port}/constant"),
            ("/api/trending (5 of 50)", f"http://127.0.0.1:{site_port}/api/trending"),
            ("/api/trending?limit=50", f"http://127.0.0.1:{site_port}/api/trending?limit=50"),
            ("/api/anomalies (5 × 24 h)", f"http://127.0.0.1:{site_port}/api/anomalies"),
            ("/api/articles/… (24 h)", f"http://127.0.0.1:{site_port}/api{ARTICLE}"),
            ("/articles/… (the page)", f"http://127.0.0.1:{site_port}{ARTICLE}"),
        ]
        first = first_requests_ms(f"http://127.0.0.1:{site_port}")
        print(
            f"an article's first request (its 24 hours read from S3), {len(first)} articles: "
            f"median {statistics.median(first):.0f} ms, slowest {max(first):.0f} ms"
        )
        print(
            f"wrk -t2 -c{args.connections} -d{args.seconds}s on loopback, one Tornado process each, "
            f"median of {args.rounds} interleaved rounds"
        )
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _ in targets}
        for round_number in range(1, args.rounds + 1):
            rotated = targets[round_number % len(targets) :] + targets[: round_number % len(targets)]
            for name, url in rotated:  # each round starts elsewhere: no endpoint always follows another
                runs[name].append(run_wrk(url, args.connections, args.seconds))
            print(f"  round {round_number}/{args.rounds} done", flush=True)
        print(f"{'endpoint':<28}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'of ceiling':>12}")
        ceiling_rps = statistics.median(r[0] for r in runs[targets[0][0]])
        for name, _ in targets:
            rps, p50, p99 = (statistics.median(r[i] for r in runs[name]) for i in range(3))
            print(f"{name:<28}{rps:>10,.0f}{p50:>9.2f}{p99:>9.2f}{rps / ceiling_rps:>11.2f}x", flush=True)
    finally:
        for process in (site, ceiling):
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
        client = redis_client(settings)
        for key in client.scan_iter(f"{tag}:*"):
            client.delete(key)
        s3 = s3_client(settings)
        for key in list_keys(s3, settings.s3.bucket, settings.s3.hourly_counts_prefix + "/"):
            s3.delete_object(Bucket=settings.s3.bucket, Key=key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
