"""Fixtures for tests against the real local stack.

A service that does not answer fails the test with what to do: these tests
never skip, because a skipped integration test in CI hides a broken stack.
"""

from __future__ import annotations

import json
import socket
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest
from kafka import KafkaAdminClient

from core.config import Settings
from stores import clients
from stores.clients import kafka_security

# Fixtures that more than one test module uses, defined beside their helpers.
from tests.integration.streaming_run import isolated  # noqa: F401
from tests.integration.web_site import site  # noqa: F401

START_HINT = "start the local stack first: python3 deploy/local/stack.py start (make test does it)"


def _port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that disturb the shared stack run last, so the others see it steady (make test runs them
    on their own, after the others ran two at a time)."""
    items.sort(key=lambda item: item.get_closest_marker("disturbs_stack") is not None)


@pytest.fixture(scope="session")
def kafka_bootstrap(settings: Settings) -> str:
    host, port = settings.kafka.bootstrap.split(",")[0].rsplit(":", 1)
    if not _port_answers(host, int(port)):
        pytest.fail(f"Kafka is not answering at {settings.kafka.bootstrap}; {START_HINT}")
    return settings.kafka.bootstrap


@pytest.fixture(scope="session")
def redis_client(settings: Settings):
    import redis

    client = clients.redis_client(settings)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not answering at {settings.redis.url} ({error}); {START_HINT}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def s3_client(settings: Settings):
    from botocore.exceptions import BotoCoreError, ClientError

    client = clients.s3_client(settings)
    try:
        client.head_bucket(Bucket=settings.s3.bucket)
    except (BotoCoreError, ClientError) as error:
        pytest.fail(
            f"S3 bucket {settings.s3.bucket} at {settings.s3.endpoint_url} is not there ({error}); "
            f"{START_HINT}"
        )
    return client


@pytest.fixture(scope="session")
def flink_overview(settings: Settings) -> dict:
    try:
        with urllib.request.urlopen(f"{settings.flink.rest_url}/overview", timeout=5) as response:
            overview = json.load(response)
    except OSError as error:
        pytest.fail(
            f"the Flink cluster is not answering at {settings.flink.rest_url} ({error}); {START_HINT}"
        )
    if overview.get("taskmanagers", 0) < 1:
        pytest.fail(f"the Flink cluster at {settings.flink.rest_url} has no TaskManager; {START_HINT}")
    return overview


@pytest.fixture
def new_topic(kafka_bootstrap: str, settings: Settings) -> Iterator[Callable[[str], str]]:
    """Creates uniquely named topics for one test and deletes them afterwards."""
    admin = KafkaAdminClient(**kafka_security(), bootstrap_servers=kafka_bootstrap)
    created: list[str] = []

    def create(purpose: str, partitions: int = 2) -> str:
        name = f"test-{purpose}-{uuid.uuid4().hex[:8]}"
        admin.create_topics([clients.new_topic(settings.kafka, name, partitions)])
        created.append(name)
        return name

    yield create
    if created:
        admin.delete_topics(created)
    admin.close()


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession, as the batch jobs build theirs when run as plain Python (batch/spark.py):
    for tests of their transforms on small DataFrames, and for jobs run in this process (a job leaves
    a session it did not start running)."""
    from batch.spark import spark_session

    session = spark_session("batch-tests")
    yield session
    session.stop()
