"""Clickstream ingest: Wikimedia's monthly clickstream dumps -> Parquet on S3, per wiki and month.

    deploy/local/spark-submit batch/clickstream.py --input 's3a://dumps/clickstream-enwiki-2026-10.tsv.gz'
    deploy/local/spark-submit batch/clickstream.py --input sample.tsv --wiki enwiki --month 2015-02

Each file's wiki and month come from its name (``clickstream-<wiki>-YYYY-MM.tsv[.gz]``) or, for a file
named otherwise, from ``--wiki`` and ``--month``. Both layouts are read (core.clickstream); malformed
lines are counted and sampled in the log, and skipped.

Each month is written as one new version under
``<clickstream prefix>/wiki=<wiki>/month=<month>/version=<v>/``:

- ``edges/``: every (referrer, article) pair with its source and clicks;
- ``summaries/bucket=<n>/``: one row per article (incoming clicks, clicks by source, its top
  referrers, outgoing clicks and its top outgoing links), split by a hash of the title so that the
  serving step reads one small file per article (core.clickstream.summary_bucket).

Then ``current.json`` is switched to the new version in one PUT and the month's previous version is
deleted: readers see a month whole or not at all, and re-running a month changes nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from batch.cli import EXIT_OK, checked, input_globs, run_job, step
from batch.expressions import MALFORMED_EXAMPLES, is_clickstream_header, parse_clickstream_lines
from batch.spark import job_session, stage_progress
from batch.storage import BatchError, list_paths
from core import clickstream
from core.config import Settings, load_settings
from core.contracts import clickstream_month_key, clickstream_pointer_key
from stores.clients import delete_keys_under, s3_client, write_json_object
from stores.navigation import clickstream_months

log = logging.getLogger("batch.clickstream")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clickstream.py",
        description="Ingest monthly Wikimedia clickstream dumps (where readers come from) into Parquet "
        "on S3, one version per wiki and month, and make them current.",
    )
    input_globs(parser, "clickstream dumps (.tsv or .tsv.gz)")
    parser.add_argument(
        "--wiki",
        type=checked(clickstream.check_wiki),
        help="the wiki (e.g. enwiki) of files whose names do not say",
    )
    parser.add_argument(
        "--month",
        type=checked(clickstream.check_month),
        help="the month (YYYY-MM) of files whose names do not say",
    )
    return parser


def group_inputs(paths: list[str], wiki: str | None, month: str | None) -> dict[tuple[str, str], list[str]]:
    """The input files of each (wiki, month): from their names, else from --wiki and --month."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    unnamed = []
    for path in paths:
        parts = clickstream.dump_name_parts(path)
        if parts is None and wiki and month:
            parts = (wiki, month)
        if parts is None:
            unnamed.append(path)
        else:
            groups[parts].append(path)
    if unnamed:
        raise BatchError(
            f"{len(unnamed)} file(s) are not named clickstream-<wiki>-YYYY-MM.tsv[.gz], e.g. {unnamed[0]}: "
            "give their wiki and month with --wiki and --month"
        )
    return dict(groups)


def parsed_lines(spark: SparkSession, paths: list[str], tally: Observation) -> DataFrame:
    """Every line but headers, parsed: referrer, article, source, clicks, problem, line (counted in
    ``tally``: lines, malformed, examples)."""
    lines = spark.read.text(paths)
    return parse_clickstream_lines(lines.filter(~is_clickstream_header(F.col("value"))), tally)


def edges(good: DataFrame) -> DataFrame:
    """One row per (referrer, article): the clicks of every line for the pair summed (a referrer's source
    follows from the referrer).

    The lines are first spread over the shuffle partitions by pair: a gzipped dump is read by one task
    (gzip cannot be split), which then only parses, and the summing runs on every core. Pairs are
    nearly all distinct, so a partial sum in the reading task would save nothing.
    """
    keys = ["referrer", "article", "source"]
    return good.repartition(*keys).groupBy(*keys).agg(F.sum("clicks").alias("clicks"))


def top_entries(entry: dict[str, str], top: int) -> Column:
    """Aggregate: a group's ``top`` rows with the most clicks, ties by title (core.clickstream.ranked), as
    an array of structs named by ``entry`` (field -> column; its first field is the title)."""
    fields = [F.col(column).alias(name) for name, column in entry.items()]
    ordered = F.sort_array(F.collect_list(F.struct((-F.col("clicks")).alias("order"), *fields)))
    return F.transform(F.slice(ordered, 1, top), lambda e: F.struct(*[e[name].alias(name) for name in entry]))


def summaries(pairs: DataFrame, settings: Settings) -> DataFrame:
    """Per article: incoming clicks, clicks by source, top referrers, outgoing clicks, top outgoing links.

    ``pairs``: edges(). Top lists keep [navigation] top_referrers / top_outgoing entries; shares are
    computed by whoever reads them (core.clickstream), from the totals beside them.
    """
    navigation = settings.navigation
    incoming = pairs.groupBy(F.col("article").alias("title")).agg(
        F.sum("clicks").alias("incoming"),
        *[
            F.sum(F.when(F.col("source") == s, F.col("clicks")).otherwise(0)).alias(
                clickstream.source_column(s)
            )
            for s in clickstream.SOURCES
        ],
        top_entries(
            {"title": "referrer", "source": "source", "clicks": "clicks"}, navigation.top_referrers
        ).alias("referrers"),
    )
    outgoing = (
        pairs.filter(F.col("source") == "link")
        .groupBy(F.col("referrer").alias("title"))
        .agg(
            F.sum("clicks").alias("outgoing"),
            top_entries({"title": "article", "clicks": "clicks"}, navigation.top_outgoing).alias(
                "outgoing_links"
            ),
        )
    )
    return incoming.join(outgoing, "title", "full").select(
        "title",
        F.coalesce("incoming", F.lit(0)).alias("incoming"),
        *[
            F.coalesce(clickstream.source_column(s), F.lit(0)).alias(clickstream.source_column(s))
            for s in clickstream.SOURCES
        ],
        "referrers",
        F.coalesce("outgoing", F.lit(0)).alias("outgoing"),
        "outgoing_links",
        # core.clickstream.summary_bucket: crc32 of the title's UTF-8 bytes
        F.pmod(F.crc32(F.col("title").cast("binary")), F.lit(navigation.summary_buckets))
        .cast("int")
        .alias("bucket"),
    )


def switch_month(settings: Settings, wiki: str, month: str, version: str) -> str | None:
    """Make ``version`` the month's current one in one PUT and delete the one it replaces (returned)."""
    client = s3_client(settings)
    bucket = settings.s3.bucket
    months = clickstream_months(client, settings)
    previous = months.get(wiki, {}).get(month)
    months.setdefault(wiki, {})[month] = version
    write_json_object(client, bucket, clickstream_pointer_key(settings.s3), months)
    if previous and previous != version:
        delete_keys_under(client, bucket, clickstream_month_key(settings.s3, wiki, month, previous) + "/")
    return previous


def ingest_month(spark: SparkSession, settings: Settings, wiki: str, month: str, paths: list[str]) -> None:
    """Parse, write edges and summaries as a new version, report malformed lines, then switch.

    The dump is read once: lines and malformed lines are counted on the way (an observation) while the
    edges are written; the summaries are computed from the edges just written (Parquet, read in
    parallel), so nothing of the month is held in memory between the steps.
    """
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    root = f"s3a://{settings.s3.bucket}/{clickstream_month_key(settings.s3, wiki, month, version)}"
    tally = Observation("lines")
    good = parsed_lines(spark, paths, tally).filter(F.col("problem").isNull()).drop("problem", "line")
    with step(f"{wiki} {month}: reading {len(paths)} file(s), writing their pairs to {root}/edges"):
        edges(good).write.mode("overwrite").parquet(f"{root}/edges")
    counts = tally.get
    pairs = spark.read.parquet(f"{root}/edges")
    with step(f"{wiki} {month}: writing per-article summaries to {root}/summaries"):
        per_article = summaries(pairs, settings).repartition("bucket")  # one file per bucket
        per_article.write.partitionBy("bucket").mode("overwrite").parquet(f"{root}/summaries")
    if counts["malformed"]:
        log.warning(
            "%s %s: skipped %d malformed line(s) of %d; for example %s",
            wiki,
            month,
            counts["malformed"],
            counts["lines"],
            "; ".join(repr(e) for e in dict.fromkeys(counts[k] for k in MALFORMED_EXAMPLES) if e is not None),
        )
    previous = switch_month(settings, wiki, month, version)
    log.info(
        "%s %s is now version %s (%d lines, %d pairs)%s",
        wiki,
        month,
        version,
        counts["lines"],
        pairs.count(),
        f", replacing {previous}" if previous else "",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = load_settings()
    with job_session("wikitrends-clickstream", settings) as spark:
        paths = []
        for pattern in args.input:
            found = [p for p in list_paths(spark, pattern) if not p.endswith("_SUCCESS")]
            if not found:
                raise BatchError(f"--input {pattern} matches no file")
            paths += found
        groups = group_inputs(sorted(set(paths)), args.wiki, args.month)
        with stage_progress(spark):
            for number, ((wiki, month), files) in enumerate(sorted(groups.items()), 1):
                log.info("month %d of %d: %s %s, %d file(s)", number, len(groups), wiki, month, len(files))
                ingest_month(spark, settings, wiki, month, files)
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
