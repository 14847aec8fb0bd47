"""Nothing of the cluster layout answers a client without credentials: what a user would try before
opening the machines to each other (Kafka: SCRAM over TLS; Redis: an ACL user per service; S3: a key per
service and no anonymous access). Each refusal is shown beside the same request with the right
credentials succeeding, so that a service that is simply down cannot pass for a closed one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace

import boto3
import pytest
import redis
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from core.config import REPO_ROOT, Settings, load_settings
from core.contracts import EditKeys, Keys
from stores import clients
from tests.integration.web_site import Site, site_env, start_site, stop

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))
from stack_manager import security  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402

REFUSED_IN_S = 8_000  # how long a refused Kafka client tries before it gives up (ms)
TOKEN = "cluster-suite-token"


def broker_logs(settings: Settings) -> list:
    layout = Layout.of(settings)
    return [layout.log(f"kafka-{index + 1}") for index in range(settings.kafka.brokers)]


def test_kafka_refuses_clients_without_tls_or_the_right_scram_password(settings: Settings) -> None:
    kafka = settings.kafka
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap, **kafka.python_security)
    try:
        assert kafka.pageviews_topic in admin.list_topics()  # the configured user gets in
    finally:
        admin.close()
    logs = broker_logs(settings)
    written = [log.stat().st_size for log in logs]
    attempts = {
        "plaintext": {},
        "TLS without a user": {"security_protocol": "SSL", "ssl_cafile": kafka.ssl_cafile},
        "a wrong password": {**kafka.python_security, "sasl_plain_password": "not-the-password"},
        "a certificate it does not trust": {**kafka.python_security, "ssl_cafile": None},
    }
    for attempt, options in attempts.items():
        with pytest.raises(KafkaError):
            KafkaAdminClient(bootstrap_servers=kafka.bootstrap, bootstrap_timeout_ms=REFUSED_IN_S, **options)
            pytest.fail(f"Kafka let in a client with {attempt}")
    # The brokers' own word for why they refused.
    refusals = "".join(
        log.read_text(errors="replace")[size:] for log, size in zip(logs, written, strict=True)
    )
    assert "Failed authentication" in refusals and "(SSL handshake failed)" in refusals
    assert f"invalid credentials with SASL mechanism {kafka.sasl_mechanism}" in refusals


def test_redis_lets_nobody_in_without_a_password_and_the_site_write_only_the_watch_list(
    settings: Settings,
) -> None:
    r = settings.redis
    jobs = clients.redis_client(settings)
    probe = f"{r.key_prefix}:security-probe-{uuid.uuid4().hex[:6]}"
    jobs.set(probe, "written by the jobs")
    try:
        for attempt, client in {
            "no user": redis.Redis(host=r.host, port=r.port),
            "a wrong password": redis.Redis(host=r.host, port=r.port, username=r.username, password="nope"),
        }.items():
            with pytest.raises(redis.AuthenticationError):
                client.get(probe)
                pytest.fail(f"Redis answered a client with {attempt}")
        site = clients.redis_client(replace(settings, redis=r.as_site()))
        assert site.get(probe) == b"written by the jobs"  # the site reads every list
        for write in (
            lambda: site.set(probe, "written by the site"),
            lambda: site.delete(probe),
            lambda: site.set(Keys(r).trending_latest, "{}"),
            site.flushall,
            lambda: site.config_set("requirepass", "taken"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                write()
        assert jobs.get(probe) == b"written by the jobs"
    finally:
        jobs.delete(probe)


@pytest.fixture
def private_site(redis_client, s3_client) -> Iterator[Site]:
    """The site as users run it, on the cluster layout: it connects as its own Redis user."""
    env = site_env(f"sec{uuid.uuid4().hex[:6]}", WIKITRENDS_EDITS_WATCHLIST_TOKEN=TOKEN)
    settings = load_settings(env)
    url, process = start_site(env)
    yield Site(url, settings, None, process, [])
    stop(process)
    keys = EditKeys(settings.redis)
    redis_client.delete(keys.watchlist, keys.watchlist_version)


def test_the_site_as_its_redis_user_serves_the_lists_and_changes_the_watch_list(
    private_site: Site, redis_client
) -> None:
    assert private_site.get("/healthz")[0] == 200  # Redis answers the site's user
    entity = "Security suite entity"
    request = urllib.request.Request(
        f"{private_site.url}/api/watchlist/{urllib.request.quote(entity)}",
        data=json.dumps({"variants": ["Security_suite_title"]}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    stored = redis_client.hget(EditKeys(private_site.settings.redis).watchlist, entity)
    assert json.loads(stored) == ["Security_suite_title"]
    status, listed = private_site.json("/api/watchlist")
    assert status == 200 and listed["entities"][entity] == ["Security_suite_title"]


def test_s3_refuses_anonymous_and_wrong_keys_and_each_service_key_stays_in_its_prefixes(
    settings: Settings,
) -> None:
    bucket, key = settings.s3.bucket, f"runs/security-{uuid.uuid4().hex[:6]}/probe"
    jobs = clients.s3_client(settings)
    jobs.put_object(Bucket=bucket, Key=key, Body=b"written by the jobs")
    flink = clients.s3_client(security.s3_identity(settings, Layout.of(settings), security.S3_FLINK))
    state_key = f"{security.flink_state_prefixes(settings)[0]}/security-probe-{uuid.uuid4().hex[:6]}"
    flink.put_object(Bucket=bucket, Key=state_key, Body=b"written by Flink")  # its own state: allowed
    anonymous = boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint_url,
        config=Config(signature_version=UNSIGNED),
        region_name="us-east-1",
    )
    wrong = clients.s3_client(replace(settings, s3=replace(settings.s3, secret_key="not-the-secret")))

    def refused(call, code: str) -> None:
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"]["Code"] == code

    try:
        refused(lambda: anonymous.get_object(Bucket=bucket, Key=key), "AccessDenied")
        refused(lambda: anonymous.list_objects_v2(Bucket=bucket), "AccessDenied")
        refused(lambda: wrong.get_object(Bucket=bucket, Key=key), "SignatureDoesNotMatch")
        refused(lambda: flink.get_object(Bucket=bucket, Key=key), "AccessDenied")  # the jobs' data
        refused(lambda: flink.put_object(Bucket=bucket, Key=key, Body=b"x"), "AccessDenied")
        refused(lambda: jobs.create_bucket(Bucket=f"other-{uuid.uuid4().hex[:6]}"), "AccessDenied")
        refused(lambda: jobs.delete_bucket_policy(Bucket=bucket), "AccessDenied")
        assert jobs.get_object(Bucket=bucket, Key=key)["Body"].read() == b"written by the jobs"
    finally:
        jobs.delete_object(Bucket=bucket, Key=key)
        flink.delete_object(Bucket=bucket, Key=state_key)


SPARK_APP_WITHOUT_THE_SECRET = """
import sys
from pyspark.sql import SparkSession
spark = SparkSession.builder.master(sys.argv[1]).appName(sys.argv[2]).getOrCreate()
print("counted", spark.range(10).count())
"""


def test_spark_s_master_admits_no_application_without_the_shared_secret(settings: Settings) -> None:
    # The batch tests of this suite are the same request with the secret (their jobs run on this master).
    name = f"no-secret-{uuid.uuid4().hex[:6]}"
    environment = {key: value for key, value in os.environ.items() if key not in settings.spark.secret_env}
    attempt = subprocess.run(
        [sys.executable, "-c", SPARK_APP_WITHOUT_THE_SECRET, settings.spark.master, name],
        env={**environment, "SPARK_LOCAL_IP": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "counted" not in attempt.stdout and attempt.returncode != 0, attempt.stdout[-2000:]
    host, _ = settings.spark.master_address
    with urllib.request.urlopen(
        f"http://{host}:{settings.spark.master_webui_port}/json/", timeout=5
    ) as answer:
        master = json.load(answer)
    admitted = [app["name"] for app in master["activeapps"] + master["completedapps"]]
    assert name not in admitted


def test_flink_s_rest_api_and_web_ui_are_bound_where_only_the_operator_reaches_them(
    settings: Settings,
) -> None:
    # On one machine, loopback (test_cluster_layout checks every listener of every process); on a cluster,
    # [flink] host is the JobManager's address on the operators' network (docs/cluster.md).
    configuration = {e["key"]: e["value"] for e in clients.flink_rest(settings, "/jobmanager/config")}
    assert configuration["rest.bind-address"] == settings.flink.host == "127.0.0.1"
