"""The stack manager's pure parts: the Python requirement, and the configuration the templates give."""

from __future__ import annotations

import hashlib
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import LOCAL_CREDENTIALS_FILE, REPO_ROOT, load_settings

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

from stack_manager import (
    configs,  # noqa: E402
    security,  # noqa: E402
)
from stack_manager.install import python_allowed, required_python  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402
from stack_manager.security import write_local_credentials  # noqa: E402


@pytest.mark.parametrize(
    ("version", "allowed"),
    [((3, 11, 0), True), ((3, 11, 9), True), ((3, 10, 14), False), ((3, 12, 1), False)],
)
def test_the_python_requirement_is_pyprojects(version: tuple[int, ...], allowed: bool) -> None:
    assert required_python() == ">=3.11,<3.12"
    assert python_allowed(version, required_python()) is allowed


def test_kafka_and_flink_configuration_come_from_the_templates_with_every_value(tmp_path: Path) -> None:
    one_machine = {key: value for key, value in os.environ.items() if key != "WIKITRENDS_CONFIG"}
    settings = load_settings({**one_machine, "WIKITRENDS_STACK_HOME": str(tmp_path)})
    layout = Layout(tmp_path)
    (layout.data / "kafka").mkdir(parents=True)
    (layout.data / "kafka" / "meta.properties").write_text("")  # formatted already: no java run here
    configs.write_kafka_config(settings, layout, 0)
    configs.write_flink_config(settings, layout)
    kafka = (layout.kafka_conf / "kafka.properties").read_text()
    flink = (layout.flink_conf / "config.yaml").read_text()
    assert "${" not in kafka and "${" not in flink
    k, f = settings.kafka, settings.flink
    assert f"listeners=CLIENT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}\n" in kafka
    assert "listener.security.protocol.map=CONTROLLER:PLAINTEXT,CLIENT:PLAINTEXT\n" in kafka
    assert "sasl" not in kafka and "ssl." not in kafka  # loopback is the one-machine stack's fence
    assert f"log.dirs={layout.data / 'kafka'}\n" in kafka
    assert f"rest.port: {f.rest_port}\n" in flink and f"rest.bind-address: {f.host}\n" in flink
    assert f"python.executable: {layout.venv_python}\n" in flink
    assert "--add-opens" in flink  # the JVM options Flink ships for JDK 17 are kept
    assert (layout.flink_conf / "log4j.properties").exists()  # the rest of PyFlink's conf/ beside it
    assert "high-availability" not in flink and "s3.endpoint" not in flink  # the one-machine stack: neither


def test_the_cluster_profile_gives_three_brokers_of_one_quorum_and_flink_state_on_s3(tmp_path: Path) -> None:
    environment = {
        "WIKITRENDS_STACK_HOME": str(tmp_path),
        "WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "cluster.toml"),
        "WIKITRENDS_S3_ACCESS_KEY": "key",
        "WIKITRENDS_S3_SECRET_KEY": "secret",
    }
    layout = Layout.of(load_settings(environment))
    write_local_credentials(layout.state_home, load_settings(environment))
    settings = load_settings(environment)
    assert layout.data == tmp_path / "profiles" / "cluster" / "data"  # apart from the one-machine stack
    assert layout.jars == tmp_path / "jars"  # downloads shared
    k = settings.kafka
    assert k.bootstrap == f"{k.host}:{k.port},{k.host}:{k.port + 1},{k.host}:{k.port + 2}"
    voters = ",".join(f"{n + 1}@{k.host}:{k.controller_port + n}" for n in range(3))
    for index in range(3):
        (layout.data / f"kafka-{index + 1}").mkdir(parents=True)
        (layout.data / f"kafka-{index + 1}" / "meta.properties").write_text("")
        configs.write_kafka_config(settings, layout, index)
        broker = (layout.kafka_conf / f"kafka-{index + 1}.properties").read_text()
        assert f"node.id={index + 1}\n" in broker and f"controller.quorum.voters={voters}\n" in broker
        assert f"advertised.listeners=CLIENT://{k.host}:{k.port + index}\n" in broker
        assert "listener.security.protocol.map=CONTROLLER:SSL,CLIENT:SASL_SSL\n" in broker
        assert "listener.name.controller.ssl.client.auth=required\n" in broker  # controllers: mutual TLS
        assert 'ScramLoginModule required username="broker" password="' in broker
        assert f"ssl.truststore.location={k.ssl_cafile}\n" in broker
        assert (
            "min.insync.replicas=2\n" in broker and "transaction.state.log.replication.factor=3\n" in broker
        )
    configs.write_flink_config(settings, layout)
    flink = (layout.flink_conf / "config.yaml").read_text()
    assert "${" not in flink
    assert "state.checkpoints.dir: s3://wikitrends/flink/checkpoints\n" in flink
    flink_key = security.generated(layout, security.S3_FLINK)  # Flink's own S3 user, not the jobs' key
    assert f"s3.endpoint: {settings.s3.endpoint_url}\n" in flink
    assert f"s3.access-key: {flink_key['access_key']}\n" in flink and "s3.secret-key: secret\n" not in flink
    assert "high-availability.storageDir: s3://wikitrends/flink/ha\n" in flink
    assert f"high-availability.zookeeper.quorum: {settings.flink.host}:2191\n" in flink
    assert "clientPort=2191\n" in (layout.flink_conf / "zoo.cfg").read_text()


def test_the_local_stack_generates_its_key_pair_once_and_the_settings_read_it(tmp_path: Path) -> None:
    home = {"WIKITRENDS_STACK_HOME": str(tmp_path)}
    assert write_local_credentials(tmp_path)
    first = load_settings(home).s3
    assert first.access_key.startswith("wikitrends-") and len(first.secret_key) >= 32
    assert (tmp_path / LOCAL_CREDENTIALS_FILE).stat().st_mode & 0o077 == 0  # readable by its owner only
    assert not write_local_credentials(tmp_path)
    assert load_settings(home).s3 == first
    other = tmp_path / "other"
    write_local_credentials(other)
    assert load_settings({"WIKITRENDS_STACK_HOME": str(other)}).s3.secret_key != first.secret_key


def test_the_environment_and_another_deployment_s_file_win_over_the_local_pair(tmp_path: Path) -> None:
    write_local_credentials(tmp_path)
    env = {"WIKITRENDS_STACK_HOME": str(tmp_path), "WIKITRENDS_S3_SECRET_KEY": "from-the-environment"}
    assert load_settings(env).s3.secret_key == "from-the-environment"
    production = str(REPO_ROOT / "configs" / "production.example.toml")
    s3 = load_settings({"WIKITRENDS_STACK_HOME": str(tmp_path), "WIKITRENDS_CONFIG": production}).s3
    assert (s3.access_key, s3.secret_key) == ("", "")  # the instance's IAM role, not the local pair


def test_a_secured_profile_generates_its_users_once_and_a_certificate_clients_can_verify(
    tmp_path: Path,
) -> None:
    environment = {
        "WIKITRENDS_STACK_HOME": str(tmp_path),
        "WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "cluster.toml"),
    }
    settings = load_settings(environment)
    layout = Layout.of(settings)
    assert sorted(write_local_credentials(layout.state_home, settings)) == [
        "kafka",
        "kafka_brokers",
        "redis",
        "s3",
        "s3_flink",
        "s3_root",
        "spark",
    ]
    assert write_local_credentials(layout.state_home, settings) == []  # once
    settings = load_settings(environment)
    k, r = settings.kafka, settings.redis
    assert (k.username, r.username, r.site_username) == ("wikitrends", "jobs", "site")
    assert len({k.password, r.password, r.site_password}) == 3 and all(
        len(p) == 32 for p in (k.password, r.password)
    )
    assert (
        load_settings({**environment, "WIKITRENDS_REDIS_PASSWORD": "from-env"}).redis.password == "from-env"
    )
    spark = settings.spark  # applications carry the master's secret in the environment, not in options
    assert spark.executor_conf["spark.authenticate"] == "true" and len(spark.authenticate_secret) == 64
    assert spark.secret_env == {"_SPARK_AUTH_SECRET": spark.authenticate_secret}
    assert spark.authenticate_secret not in "".join(spark.executor_conf.values())
    assert spark.secret_properties == f"spark.authenticate.secret {spark.authenticate_secret}\n"
    keystore = security.ensure_broker_certificate(settings, layout)
    assert keystore.stat().st_mode & 0o077 == 0 and "PRIVATE KEY" in keystore.read_text()
    # The clients' check: the CA they are given signed the brokers' certificate, for the brokers' address.
    context = ssl.create_default_context(cafile=k.ssl_cafile)
    assert context.get_ca_certs()[0]["subject"] == ((("commonName", "wikitrends stack CA"),),)
    verify = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            k.ssl_cafile,
            "-verify_ip",
            k.host,
            str(layout.state_home / "tls" / "broker.crt"),
        ],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert security.scram_format_arguments(settings, layout) == [
        "--add-scram",
        f"SCRAM-SHA-512=[name=broker,password={security.broker_credentials(layout)['password']}]",
        "--add-scram",
        f"SCRAM-SHA-512=[name=wikitrends,password={k.password}]",
    ]


def test_redis_acl_lets_nobody_in_without_a_password_and_the_site_write_only_the_watch_list() -> None:
    settings = load_settings(
        {
            "WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "cluster.toml"),
            "WIKITRENDS_REDIS_PASSWORD": "jobs-secret",
            "WIKITRENDS_REDIS_SITE_PASSWORD": "site-secret",
        }
    )
    default, jobs, site = security.redis_acl_rules(settings)
    assert default == "user default off"
    assert jobs.startswith("user jobs on #" + hashlib.sha256(b"jobs-secret").hexdigest()) and "+@all" in jobs
    assert "site-secret" not in site and "jobs-secret" not in jobs  # hashes only
    assert " %R~* ~*:edits:watchlist* -@all +@read " in site and site.endswith("-@dangerous")


def test_s3_service_users_get_the_bucket_s_objects_or_flink_s_state_only() -> None:
    settings = load_settings({"WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "cluster.toml")})
    assert security.flink_state_prefixes(settings) == [
        "flink/checkpoints",
        "flink/checkpoints-savepoints",
        "flink/ha",
    ]
    jobs, flink = (
        security.s3_policies(settings)[name] for name in (security.S3_JOBS_POLICY, security.S3_FLINK_POLICY)
    )
    bucket = f"arn:aws:s3:::{settings.s3.bucket}"
    assert [s["Resource"] for s in jobs["Statement"]] == [[bucket], [f"{bucket}/*"]]
    assert not any(
        a.startswith(("s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucket", "admin:"))
        for s in jobs["Statement"]
        for a in s["Action"]
    )
    assert flink["Statement"][2]["Resource"] == [
        f"{bucket}/{p}*" for p in security.flink_state_prefixes(settings)
    ]
    assert flink["Statement"][1]["Condition"]["StringLike"]["s3:prefix"] == [
        "flink/checkpoints*",
        "flink/checkpoints-savepoints*",
        "flink/ha*",
    ]
