"""Clients for the configured S3, Redis and Flink REST API, built in one place.

The imports are lazy so that code needing only the configuration (deploy/local
before the virtual environment exists) can import core without boto3 or redis.
"""

from __future__ import annotations

import json
import urllib.request

from core.config import Settings


def s3_client(settings: Settings):
    """A boto3 S3 client for the configured endpoint; empty keys mean the default credential chain."""
    import boto3

    s3 = settings.s3
    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url or None,
        aws_access_key_id=s3.access_key or None,
        aws_secret_access_key=s3.secret_key or None,
        region_name=s3.region,
    )


def redis_client(settings: Settings):
    """A synchronous redis-py client for the configured server and database."""
    import redis

    return redis.Redis(host=settings.redis.host, port=settings.redis.port, db=settings.redis.db)


def flink_rest(settings: Settings, path: str, method: str = "GET", timeout_s: float = 10, body=None):
    """One call to the Flink cluster's REST API (``path`` like ``/jobs/overview``): its JSON, or None.

    ``body``, if given, is sent as JSON (POST requests such as ``/jobs/<id>/stop``).
    """
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"{settings.flink.rest_url}{path}", data=data, method=method,
        headers={"Content-Type": "application/json"} if data else {},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body = response.read()
    return json.loads(body) if body else None
