"""Bot detection: a classifier of accounts trained on their edits, and the lists the edit job uses.

    deploy/local/spark-submit batch/bots.py                      the edits topic, as far back as Kafka keeps
    deploy/local/spark-submit batch/bots.py --input 'recorded/*.ndjson' --no-topic

Edits come from the edits topic (Spark's Kafka source, earliest to latest offset) and from recorded
``recentchange`` files (ndjson, or SSE ``data:`` lines), parsed by the edit job's own parser
(core.edit_events); malformed events are counted and skipped. Per account, core.bots.account_features
describes its edits; the label is the bot flag, where any of its edits carries it.

A random forest (Spark MLlib) is trained on the accounts outside a held-out share; on the held-out
accounts its precision and recall against the flag are measured and reported. An unflagged account
with enough edits whose bot probability reaches the threshold is *detected*.

Each run writes ``<bots prefix>/runs/<version>/``: ``model/`` (the MLlib pipeline), ``accounts.json``
(listed and detected accounts, the scores) and ``filters.json`` (core.bots.BotLists: one Bloom filter
per list), then switches ``current.json`` to it in one PUT. The lists only grow: each run starts from
the current run's.
"""

from __future__ import annotations

import argparse
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script by spark-submit: make core and batch importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
from pyspark.ml import Pipeline
from pyspark.ml.classification import RandomForestClassifier
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from batch.cli import EXIT_OK, run_job, step
from batch.spark import job_session, stage_progress
from batch.storage import BatchError, list_paths
from core import bots
from core.config import Settings, load_settings
from core.contracts import bots_pointer_key, bots_run_key
from core.edit_events import MalformedEditEvent, event_line, parse_recentchange
from stores.clients import read_json_object, s3_client, write_json_object

log = logging.getLogger("batch.bots")

EDIT_SCHEMA = "user string, flagged boolean, timestamp_ms long, namespace int, comment string, problem string"
FEATURE_SCHEMA = "user string, flagged boolean, fold int, edit_count long, " + ", ".join(
    f"{name} double" for name in bots.FEATURE_NAMES
)


def build_parser(settings: Settings) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bots.py",
        description="Train the bot classifier on edits (the edits topic and/or recorded files), measure "
        "it by cross-validation, and publish the grown lists of bot accounts as Bloom filters on S3.",
    )
    parser.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="GLOB",
        help="recorded recentchange events (ndjson or SSE), local or s3a://; repeat for several",
    )
    parser.add_argument(
        "--topic", default=settings.kafka.edits_topic, help="the edits topic to read (default %(default)s)"
    )
    parser.add_argument("--no-topic", action="store_true", help="read only the --input files")
    return parser


def parse_events(batches):
    """mapInPandas: raw event lines -> one row per edit (or per malformed line, with its problem)."""
    for batch in batches:
        rows = []
        for line in filter(None, map(event_line, batch["raw"])):
            try:
                edit = parse_recentchange(line)
            except MalformedEditEvent as error:
                rows.append((None, None, None, None, None, str(error)))
                continue
            if edit is not None:
                rows.append((edit.user, edit.is_bot, edit.timestamp_ms, edit.namespace, edit.comment, None))
        yield pd.DataFrame(
            rows, columns=["user", "flagged", "timestamp_ms", "namespace", "comment", "problem"]
        )


def features_of(folds: int):
    """mapInPandas: accounts with their edits (user, flagged, edits: [timestamp_ms, namespace, comment])
    -> their features, label (flagged) and fold."""

    def features(batches):
        for batch in batches:
            rows = []
            for user, flagged, edits in zip(batch["user"], batch["flagged"], batch["edits"], strict=True):
                described = bots.account_features(
                    user,
                    [
                        bots.AccountEdit(int(e["timestamp_ms"]), int(e["namespace"]), e["comment"] or "")
                        for e in edits
                    ],
                )
                row = {
                    "user": user,
                    "flagged": bool(flagged),
                    "fold": bots.fold_of(user, folds),
                    "edit_count": described.edits,
                }
                row.update({name: getattr(described, name) for name in bots.FEATURE_NAMES})
                rows.append(row)
            yield pd.DataFrame(rows, columns=["user", "flagged", "fold", "edit_count", *bots.FEATURE_NAMES])

    return features


def raw_events(spark: SparkSession, args, settings: Settings) -> DataFrame:
    """Every raw event line: the topic's messages and the files' lines."""
    sources = []
    if not args.no_topic:
        topic = (
            spark.read.format("kafka")
            .options(**{f"kafka.{key}": value for key, value in settings.kafka.java_client.items()})
            .option("subscribe", args.topic)
            .option("startingOffsets", "earliest")
            .option("endingOffsets", "latest")
            .load()
        )
        sources.append(topic.select(F.col("value").cast("string").alias("raw")))
    for pattern in args.input:
        found = [p for p in list_paths(spark, pattern) if not p.endswith("_SUCCESS")]
        if not found:
            raise BatchError(f"--input {pattern} matches no file")
        sources.append(spark.read.text(found).withColumnRenamed("value", "raw"))
    if not sources:
        raise BatchError("nothing to read: give --input, or leave out --no-topic")
    union = sources[0]
    for other in sources[1:]:
        union = union.unionByName(other)
    return union


def account_table(spark: SparkSession, args, settings: Settings) -> tuple[DataFrame, dict]:
    """Per-account features (cached), and the counts of edits and malformed events read."""
    tally = Observation("events")
    parsed = (
        raw_events(spark, args, settings)
        .mapInPandas(parse_events, EDIT_SCHEMA)
        .observe(tally, F.count(F.lit(1)).alias("rows"), F.count("problem").alias("malformed"))
    )
    accounts = (
        parsed.filter(F.col("problem").isNull())
        .drop("problem")
        .groupBy("user")
        .agg(
            F.max("flagged").alias("flagged"),
            F.collect_list(F.struct("timestamp_ms", "namespace", "comment")).alias("edits"),
        )
        .mapInPandas(features_of(settings.bots.folds), FEATURE_SCHEMA)
        .cache()
    )
    with step("reading and describing the edits of every account"):
        count = accounts.count()
    counts = tally.get
    return accounts, {
        "accounts": count,
        "edits": counts["rows"] - counts["malformed"],
        "malformed": counts["malformed"],
    }


def train(accounts: DataFrame, settings: Settings, left_out: int | None = None):
    """The MLlib pipeline (features -> random forest) fitted on the accounts outside fold ``left_out``
    (on all of them when None) that have enough edits to show how they edit, as the ones it judges."""
    forest = RandomForestClassifier(
        featuresCol="features",
        labelCol="label",
        weightCol="weight",
        numTrees=settings.bots.trees,
        maxDepth=6,
        seed=7,
    )
    pipeline = Pipeline(
        stages=[VectorAssembler(inputCols=list(bots.FEATURE_NAMES), outputCol="features"), forest]
    )
    training = accounts.filter(F.col("edit_count") >= settings.bots.min_edits)
    if left_out is not None:
        training = training.filter(F.col("fold") != left_out)
    training = training.withColumn("label", F.col("flagged").cast("double"))
    flagged, total = training.agg(F.sum(F.col("label")), F.count(F.lit(1))).first()
    if not flagged:
        raise BatchError(
            f"no account with {settings.bots.min_edits} or more edits has the bot flag: nothing to learn from"
        )
    # Bots are a handful among thousands of people: weigh the two classes alike, or the forest learns
    # that "a person" is nearly always right.
    bot_weight = (total - flagged) / flagged
    training = training.withColumn(
        "weight", F.when(F.col("flagged"), F.lit(bot_weight)).otherwise(F.lit(1.0))
    )
    return pipeline.fit(training)


def scored(model, accounts: DataFrame, settings: Settings) -> list[dict]:
    """The accounts with their bot probability and whether the detector calls them bots."""
    probability = vector_to_array(F.col("probability"))[1]
    judged = (
        model.transform(accounts)
        .withColumn("bot_probability", probability)
        .withColumn(
            "predicted_bot",
            (F.col("bot_probability") >= settings.bots.detection_threshold)
            & (F.col("edit_count") >= settings.bots.min_edits),
        )
        .select("user", "flagged", "fold", "edit_count", "bot_probability", "predicted_bot")
    )
    return [row.asDict() for row in judged.collect()]


def cross_validated(accounts: DataFrame, settings: Settings) -> list[dict]:
    """Every account judged by a forest trained without its fold (out-of-fold predictions): an unflagged
    bot is never judged by a model that learnt it as a person."""
    results = []
    for fold in range(settings.bots.folds):
        with step(f"fold {fold + 1} of {settings.bots.folds}: training without it, judging its accounts"):
            model = train(accounts, settings, left_out=fold)
            results += scored(model, accounts.filter(F.col("fold") == fold), settings)
    return results


def detection_scores(results: list, min_edits: int) -> dict:
    """Out-of-fold precision and recall against the flag, on the accounts with at least ``min_edits``
    edits (the ones the detector judges): per account and per edit."""
    judged = [row for row in results if row["edit_count"] >= min_edits]
    per_account = bots.detection_score((row["flagged"], row["predicted_bot"]) for row in judged)
    per_edit = bots.detection_score(
        (row["flagged"], row["predicted_bot"]) for row in judged for _ in range(row["edit_count"])
    )
    return {"accounts": per_account.to_json(), "edits": per_edit.to_json()}


def publish(settings: Settings, version: str, results: list, model, report: dict) -> dict:
    """Write the run's model, grown lists and filters, then point current.json at it."""
    client, s3 = s3_client(settings), settings.s3
    previous = read_json_object(client, s3.bucket, bots_pointer_key(s3))
    previous_accounts = (
        read_json_object(client, s3.bucket, previous["accounts_key"]) if previous else None
    ) or {"listed": [], "detected": []}
    found = {row["user"]: row for row in results if row["predicted_bot"] and not row["flagged"]}
    listed, detected = bots.grown_lists(
        previous_accounts["listed"],
        [entry["user"] for entry in previous_accounts["detected"]],
        [row["user"] for row in results if row["flagged"]],
        found,
    )
    rate = settings.bots.filter_false_positive_rate
    lists = bots.BotLists(bots.BloomFilter.of(listed, rate), bots.BloomFilter.of(detected, rate), version)
    root = bots_run_key(s3, version)
    model_uri = f"s3a://{s3.bucket}/{root}/model"
    with step(f"writing the model to {model_uri}"):
        model.write().overwrite().save(model_uri)
    earlier = {entry["user"]: entry for entry in previous_accounts["detected"]}
    accounts_document = {
        "version": version,
        "listed": listed,
        "detected": [
            {
                "user": user,
                "bot_probability": found[user]["bot_probability"] if user in found else None,
                "edits": found[user]["edit_count"] if user in found else None,
                "found_in": version if user in found else earlier.get(user, {}).get("found_in"),
            }
            for user in detected
        ],
        "report": report,
    }
    write_json_object(client, s3.bucket, f"{root}/accounts.json", accounts_document)
    write_json_object(client, s3.bucket, f"{root}/filters.json", lists.to_json())
    pointer = {
        "version": version,
        "model": model_uri,
        "accounts_key": f"{root}/accounts.json",
        "filters_key": f"{root}/filters.json",
        "listed": len(listed),
        "detected": len(detected),
        "false_positive_rate": rate,
    }
    write_json_object(client, s3.bucket, bots_pointer_key(s3), pointer)
    return pointer


def main(argv: list[str] | None = None) -> int:
    settings = load_settings()
    args = build_parser(settings).parse_args(argv)
    with job_session("wikitrends-bots", settings) as spark:
        with stage_progress(spark):
            accounts, counts = account_table(spark, args, settings)
            if counts["malformed"]:
                log.warning("skipped %d malformed event(s)", counts["malformed"])
            log.info("%d edits by %d accounts", counts["edits"], counts["accounts"])
            results = cross_validated(accounts, settings)
            with step("training the forest kept with the run, on every fold"):
                model = train(accounts, settings)
        version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        report = {
            **counts,
            "cross_validated": detection_scores(results, settings.bots.min_edits),
            "threshold": settings.bots.detection_threshold,
        }
        pointer = publish(settings, version, results, model, report)
    per_account, per_edit = report["cross_validated"]["accounts"], report["cross_validated"]["edits"]
    log.info(
        "cross-validated: precision %.3f, recall %.3f (%d flagged accounts); per edit: precision %.3f, "
        "recall %.3f",
        per_account["precision"],
        per_account["recall"],
        per_account["true_positives"] + per_account["false_negatives"],
        per_edit["precision"],
        per_edit["recall"],
    )
    log.info(
        "run %s: %d listed and %d detected bot accounts, Bloom filters at a %.2g false-positive rate",
        version,
        pointer["listed"],
        pointer["detected"],
        pointer["false_positive_rate"],
    )
    return EXIT_OK


if __name__ == "__main__":
    run_job(main)
