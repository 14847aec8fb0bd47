"""The streaming job end to end on the real stack: Kafka in, ten topics, Redis and S3 out.

Each test gives the job its own topics, consumer group, Redis prefix and S3
prefix (through WIKITRENDS_* variables), feeds it a seeded synthetic run of
2 h 15 min of event time (600 views a minute: small enough for CI on 2
cores), and checks every output against an oracle computed in Python from
the events actually produced: window counts exactly, the trending list of
every minute exactly, and the hourly counts exactly.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.helpers import listeners_beyond_loopback
from tests.integration.streaming_run import (
    Isolated,
    cancel_job,
    check_outputs,
    produce_run,
    submit_job,
    wait_until_done,
)


def test_streaming_outputs_equal_the_oracle(
    isolated: Isolated, tmp_path: Path, s3_client, redis_client
) -> None:
    truth = produce_run(isolated, tmp_path)
    job_id = submit_job(isolated)
    try:
        wait_until_done(isolated, s3_client, redis_client, job_id)
        check_outputs(isolated, s3_client, redis_client, truth)
        # While the job runs, the TaskManager also serves its Python workers (the Fn API's gRPC).
        assert listeners_beyond_loopback(isolated.settings) == []
    finally:
        cancel_job(isolated.settings, job_id)
