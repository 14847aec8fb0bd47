"""Clients for the configured S3, Redis and Flink REST API, built in one place.

The imports are lazy so that code needing only the configuration (deploy/local
before the virtual environment exists) can import core without boto3 or redis.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from core.config import Settings
from core.settings import KafkaSettings

S3_DELETE_BATCH = 1000  # S3's DeleteObjects takes at most 1,000 keys


def s3_client(settings: Settings, attempts: int | None = None):
    """A boto3 S3 client for the configured endpoint; empty keys mean the default credential chain.

    ``attempts`` caps botocore's own retries (its default is five, with pauses): a caller that
    retries on its own terms, like the streaming job's publisher, asks for one.
    """
    import boto3
    from botocore.config import Config

    s3 = settings.s3
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url or None,
        aws_access_key_id=s3.access_key or None,
        aws_secret_access_key=s3.secret_key or None,
        region_name=s3.region,
        # A server that is down refuses at once; one that hangs should not hold the caller for minutes.
        config=Config(connect_timeout=5, retries={"total_max_attempts": attempts} if attempts else None),
    )


def redis_client(settings: Settings, attempts: int | None = None):
    """A synchronous redis-py client for the configured server and database.

    ``attempts`` caps redis-py's own retries (its default is four tries with pauses of up to
    seconds), as for ``s3_client``.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    options = {"retry": Retry(NoBackoff(), attempts - 1)} if attempts else {}
    # Timeouts, so that a server that stops answering raises instead of hanging the caller.
    return redis.Redis(
        host=settings.redis.host,
        port=settings.redis.port,
        db=settings.redis.db,
        username=settings.redis.username or None,
        password=settings.redis.password or None,
        socket_connect_timeout=5,
        socket_timeout=30,
        **options,
    )


def kafka_security() -> dict[str, str]:
    """kafka-python's security options of the configured brokers ([kafka] security_protocol and its user;
    none on the one-machine stack), for clients built from a bootstrap address alone."""
    from core.config import load_settings

    return load_settings().kafka.python_security


def new_topic(kafka: KafkaSettings, name: str, partitions: int | None = None, **configs: str):
    """A topic to create, with the stack's replication and min.insync.replicas ([kafka]) and ``configs``."""
    from kafka.admin import NewTopic

    return NewTopic(
        name,
        num_partitions=partitions or kafka.partitions,
        replication_factor=kafka.replication_factor,
        topic_configs={**kafka.topic_configs, **configs},
    )


def flink_rest(settings: Settings, path: str, method: str = "GET", timeout_s: float = 10, body=None):
    """One call to the Flink cluster's REST API (``path`` like ``/jobs/overview``): its JSON, or None.

    ``body``, if given, is sent as JSON (POST requests such as ``/jobs/<id>/stop``).
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{settings.flink.rest_url}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"} if data else {},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body = response.read()
    return json.loads(body) if body else None


def list_keys(client, bucket: str, prefix: str) -> list[str]:
    """Every object key under ``prefix`` in ``bucket``, all pages of the listing."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def delete_keys_under(client, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` in ``bucket`` (1,000 a request, S3's most); how many."""
    keys = list_keys(client, bucket, prefix)
    for start in range(0, len(keys), S3_DELETE_BATCH):
        batch = keys[start : start + S3_DELETE_BATCH]
        client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in batch]})
    return len(keys)


def read_json_object(client, bucket: str, key: str) -> Any | None:
    """A JSON document kept on S3 (a pointer to a dataset's current version), or None when absent."""
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def write_json_object(client, bucket: str, key: str, document: Any) -> None:
    """Store a JSON document in one PUT: readers see the previous document or this one, never half."""
    client.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=1, sort_keys=True).encode(),
        ContentType="application/json",
    )
