"""A driver PySpark starts reads its secrets from an owner-only file, not from its command line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batch.spark import driver_secrets, s3a_options
from core.config import load_settings


@pytest.fixture
def no_submit_args(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)


def test_the_s3_keys_and_the_masters_secret_go_to_a_file_removed_once_the_driver_started(
    no_submit_args,
) -> None:
    settings = load_settings(
        {
            "WIKITRENDS_S3_ACCESS_KEY": "the-access-key",
            "WIKITRENDS_S3_SECRET_KEY": "the-secret-key",
            "WIKITRENDS_SPARK_AUTHENTICATE": "true",
            "WIKITRENDS_SPARK_AUTHENTICATE_SECRET": "the-shared-secret",
        }
    )
    options = s3a_options(settings)
    with driver_secrets(settings, options) as given:
        assert "the-secret-key" not in given.values() and "the-access-key" not in given.values()
        assert given["spark.hadoop.fs.s3a.endpoint"] == options["spark.hadoop.fs.s3a.endpoint"]
        arguments = os.environ["PYSPARK_SUBMIT_ARGS"].split()
        assert arguments[0] == "--properties-file" and arguments[-1] == "pyspark-shell"
        secrets = Path(arguments[1])
        assert secrets.stat().st_mode & 0o077 == 0
        assert secrets.read_text().splitlines() == [
            "spark.authenticate.secret the-shared-secret",
            "spark.hadoop.fs.s3a.access.key the-access-key",
            "spark.hadoop.fs.s3a.secret.key the-secret-key",
        ]
    assert not secrets.exists() and "PYSPARK_SUBMIT_ARGS" not in os.environ


def test_under_spark_submit_the_options_are_set_in_the_running_driver(
    no_submit_args, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYSPARK_GATEWAY_PORT", "1")  # what spark-submit's driver has
    settings = load_settings({"WIKITRENDS_S3_ACCESS_KEY": "a", "WIKITRENDS_S3_SECRET_KEY": "s"})
    options = s3a_options(settings)
    with driver_secrets(settings, options) as given:
        assert given == options and "PYSPARK_SUBMIT_ARGS" not in os.environ
