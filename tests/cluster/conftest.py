"""Fixtures for the cluster suite: the integration tests' fixtures, on the cluster layout.

The suite runs against configs/cluster.toml (`make test-cluster` starts that layout and points
WIKITRENDS_CONFIG at it); run against anything else it fails at once, saying so.
"""

from __future__ import annotations

import pytest

from core.config import Settings

# The same fixtures as the integration suite: the stack's clients and a test's private names.
from tests.integration.conftest import flink_overview, kafka_bootstrap, redis_client, s3_client  # noqa: F401
from tests.integration.streaming_run import isolated  # noqa: F401


@pytest.fixture(scope="session", autouse=True)
def cluster_profile(settings: Settings) -> Settings:
    if settings.stack.profile != "cluster":
        pytest.fail(
            "the cluster suite runs on the cluster layout: WIKITRENDS_CONFIG=configs/cluster.toml "
            "(make test-cluster starts it and runs the suite)"
        )
    return settings
