"""Benchmark: the Spark anomaly job against a single-process NumPy/pandas baseline, same files, same run.

    .stack/venv/bin/python bench/anomalies_vs_numpy.py [--articles 1000000 6000000] [--hours 24]

For each size it writes, under a private S3 prefix on the local stack, one
version of averages (every article × 24 hours) and today's hourly counts for
hours 0..H-1 (Zipf popularity, about two views per article per hour, so most
of the long tail has no row in a given hour), then times:

- the baseline: one Python process reading the same S3 objects with pyarrow,
  aligning titles with a pandas index, and computing Canberra distances and
  the volume rule with NumPy over dense matrices;
- the job: ``deploy/local/spark-submit batch/anomalies.py --no-publish`` as a
  user runs it (JVM start included), with candidate pruning (the default) and,
  with ``--full-join``, also without it;

and prints both times, the ratio, peak memory (RSS of each process tree), the
job's own step timings, and checks that both found the same top list.
Needs the local stack (python3 deploy/local/stack.py start).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.storage import AveragesPointer, write_pointer  # noqa: E402
from bench.measure import delete_prefix, log, timed  # noqa: E402
from core.anomalies import HOUR_COLUMNS, NOISE_COLUMNS  # noqa: E402
from core.config import REPO_ROOT, Settings, load_settings, private_names  # noqa: E402
from core.contracts import anomaly_distances_key, hourly_counts_key  # noqa: E402
from producer.world import parse_time_ms  # noqa: E402
from stores.clients import s3_client  # noqa: E402

DAY = "2026-05-05"
SPARK_SUBMIT = REPO_ROOT / "deploy" / "local" / "spark-submit"
HISTORY_DAYS = 30


# --- data ----------------------------------------------------------------------------------------


def generate(settings: Settings, articles: int, hours: int, seed: int = 1) -> None:
    """Averages for every article and today's hourly counts, written to S3 like the jobs write them."""
    client = s3_client(settings)
    rng = np.random.default_rng(seed)
    titles = pa.array([f"Article_{i}" for i in range(articles)], pa.string())
    projects = pa.array(["en.wikipedia"] * articles, pa.string())
    mean = 2.0 * articles / (np.arange(1, articles + 1) * np.log(articles))  # Zipf, ~2 views/article/hour
    curve = 0.6 + 0.8 * np.sin(np.linspace(0, np.pi, 24)) ** 2
    pointer = AveragesPointer.for_dates(
        [f"2026-04-{d:02d}" for d in range(1, HISTORY_DAYS + 1)], scored_days=HISTORY_DAYS
    )
    columns: dict[str, pa.Array] = {"project": projects, "title": titles}
    for h, name in enumerate(HOUR_COLUMNS):  # averages of 30 days: multiples of 1/30
        columns[name] = pa.array(rng.poisson(mean * curve[h] * HISTORY_DAYS) / HISTORY_DAYS)
    zeros = pa.array(np.zeros(articles))
    columns |= {name: zeros for name in NOISE_COLUMNS}  # the job's cost does not depend on their values
    columns["days"] = pa.array(np.full(articles, HISTORY_DAYS, dtype=np.int64))
    put_table(
        client, settings, f"{settings.s3.averages_prefix}/{pointer.version}/part-0.parquet", pa.table(columns)
    )
    write_pointer(settings, pointer)
    factor = np.ones(articles)
    factor[rng.choice(articles // 100, 20, replace=False)] = rng.choice([0.0, 8.0], 20)  # a few anomalies
    for h in range(hours):
        views = rng.poisson(mean * curve[h] * factor)
        keep = np.flatnonzero(views)
        table = pa.table({"project": projects.take(keep), "title": titles.take(keep), "views": views[keep]})
        put_table(
            client, settings, hourly_counts_key(settings.s3, parse_time_ms(f"{DAY}T{h:02d}:00:00Z")), table
        )


def put_table(client, settings: Settings, key: str, table: pa.Table) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="snappy")
    client.put_object(Bucket=settings.s3.bucket, Key=key, Body=buffer.getvalue())


# --- the single-process baseline -------------------------------------------------------------------


BASELINE = Path(__file__).with_name("anomalies_numpy_baseline.py")


# --- timing and memory -----------------------------------------------------------------------------


def spark_top(settings: Settings, hours: int, top: int) -> list[tuple[str, float]]:
    body = s3_client(settings).get_object(Bucket=settings.s3.bucket, Key=distances_object(settings, hours))[
        "Body"
    ]
    table = pq.read_table(io.BytesIO(body.read()))
    rows = sorted(
        zip(table.column("title").to_pylist(), table.column("distance").to_pylist(), strict=True),
        key=lambda r: (-r[1], r[0]),
    )
    return rows[:top]


def distances_object(settings: Settings, hours: int) -> str:
    prefix = anomaly_distances_key(settings.s3, DAY, hours - 1) + "/"
    listed = s3_client(settings).list_objects_v2(Bucket=settings.s3.bucket, Prefix=prefix)["Contents"]
    return next(o["Key"] for o in listed if o["Key"].endswith(".parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--articles", type=int, nargs="+", default=[1_000_000, 6_000_000])
    parser.add_argument("--hours", type=int, default=24, help="hours of today compared (default 24)")
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--full-join", action="store_true", help="also time the job without pruning")
    args = parser.parse_args()

    results = []
    for articles in args.articles:
        tag = f"bench{uuid.uuid4().hex[:6]}"
        env = {**os.environ, **private_names(tag), "PYTHONPATH": str(REPO_ROOT)}
        settings = load_settings(env)
        min_views = settings.batch.anomaly_min_hourly_views
        log(f"{articles:,} articles × {args.hours} hours: writing the data under runs/{tag}/ …")
        began = time.monotonic()
        generate(settings, articles, args.hours)
        log(f"data written in {time.monotonic() - began:.0f} s")

        python = str(REPO_ROOT / ".stack" / "venv" / "bin" / "python")
        base_s, base_mib, base_out = timed(
            [python, str(BASELINE), DAY, str(args.hours), str(min_views), str(args.top)], env
        )
        baseline = json.loads(base_out.strip().splitlines()[-1])
        eligible = baseline["eligible"]
        log(f"NumPy/pandas baseline: {base_s:.1f} s, peak {base_mib:,.0f} MiB, {eligible:,} eligible")

        job = [
            str(SPARK_SUBMIT),
            "batch/anomalies.py",
            "--date",
            DAY,
            "--hour",
            str(args.hours - 1),
            "--top",
            str(args.top),
            "--no-publish",
        ]
        variants = [("Spark job (pruned)", [])] + (
            [("Spark job (full join)", ["--no-pruning"])] if args.full_join else []
        )
        for name, extra in variants:
            spark_s, spark_mib, spark_out = timed(job + extra, env)
            steps = re.findall(r"batch INFO (.* done in [\d.]+ s)$", spark_out, flags=re.MULTILINE)
            top = spark_top(settings, args.hours, args.top)
            same = [t for t, _ in top] == [t for t, _ in baseline["top"]] and all(
                abs(a[1] - b[1]) <= 1e-9 for a, b in zip(top, baseline["top"], strict=True)
            )
            verdict = "yes" if same else "NO"
            log(
                f"{name}: {spark_s:.1f} s, peak {spark_mib:,.0f} MiB (driver JVM + Python), "
                f"ratio to NumPy {spark_s / base_s:.2f}×, same top {args.top}: {verdict}"
            )
            for line in steps:
                log(f"    {line}")
            results.append((articles, name, base_s, base_mib, spark_s, spark_mib, same))
        delete_prefix(settings, s3_client(settings), f"runs/{tag}/")

    print()
    header = ["articles", "variant", "NumPy s", "NumPy MiB", "Spark s", "Spark MiB", "ratio", "same top"]
    print("  ".join(f"{h:>12}" for h in header))
    for articles, name, base_s, base_mib, spark_s, spark_mib, same in results:
        variant = name.split("(")[-1].rstrip(")")
        cells = [
            f"{articles:,}",
            variant,
            f"{base_s:.1f}",
            f"{base_mib:,.0f}",
            f"{spark_s:.1f}",
            f"{spark_mib:,.0f}",
            f"{spark_s / base_s:.2f}x",
            "yes" if same else "NO",
        ]
        print("  ".join(f"{c:>12}" for c in cells))
    return 0 if all(r[-1] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
