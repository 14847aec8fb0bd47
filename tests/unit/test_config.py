"""Configuration: defaults, override file and environment precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import REPO_ROOT, ConfigError, load_settings
from core.contracts import pipeline_topics, redis_key, windows_topic, windows_topics


def test_defaults_are_loopback_and_complete() -> None:
    settings = load_settings({})
    assert settings.kafka.bootstrap == "127.0.0.1:9092"
    assert settings.s3.endpoint_url == "http://127.0.0.1:9000"
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.stack.home_path == REPO_ROOT / ".stack"


def test_environment_overrides_with_the_default_type() -> None:
    settings = load_settings({"WIKITRENDS_KAFKA_PORT": "19092", "WIKITRENDS_S3_BUCKET": "other"})
    assert settings.kafka.port == 19092
    assert settings.kafka.bootstrap == "127.0.0.1:19092"
    assert settings.s3.bucket == "other"


def test_explicit_bootstrap_servers_win_over_host_and_port() -> None:
    settings = load_settings({"WIKITRENDS_KAFKA_BOOTSTRAP_SERVERS": "a:1,b:2"})
    assert settings.kafka.bootstrap == "a:1,b:2"


def test_a_non_numeric_port_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="WIKITRENDS_REDIS_PORT='six' is not a whole number"):
        load_settings({"WIKITRENDS_REDIS_PORT": "six"})


def test_override_file_keeps_defaults_for_keys_it_leaves_out(tmp_path: Path) -> None:
    override = tmp_path / "prod.toml"
    override.write_text('[kafka]\nbootstrap_servers = "k1:9092"\n[redis]\nhost = "redis.internal"\n')
    settings = load_settings({"WIKITRENDS_CONFIG": str(override)})
    assert settings.kafka.bootstrap == "k1:9092"
    assert settings.kafka.pageviews_topic == "pageviews"
    assert settings.redis.host == "redis.internal"
    assert settings.redis.port == 6379


def test_the_production_example_is_valid() -> None:
    settings = load_settings({"WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "production.example.toml")})
    assert settings.spark.master.startswith("spark://")


def test_kafka_clients_get_the_configured_security_in_python_s_and_java_s_terms() -> None:
    assert load_settings({}).kafka.python_security == {} and load_settings({}).kafka.java_security == {}
    kafka = load_settings(
        {
            "WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "production.example.toml"),
            "WIKITRENDS_KAFKA_PASSWORD": "s3cret",
        }
    ).kafka
    assert kafka.python_security == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "wikitrends",
        "sasl_plain_password": "s3cret",
        "ssl_cafile": "/etc/wikitrends/kafka-ca.pem",
    }
    assert kafka.java_client == {
        "bootstrap.servers": kafka.bootstrap_servers,
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="wikitrends" password="s3cret";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": "/etc/wikitrends/kafka-ca.pem",
    }


def test_the_site_connects_to_redis_as_its_own_user_where_there_is_one() -> None:
    assert load_settings({}).redis.as_site() == load_settings({}).redis  # the one-machine stack: no users
    redis = load_settings(
        {
            "WIKITRENDS_CONFIG": str(REPO_ROOT / "configs" / "production.example.toml"),
            "WIKITRENDS_REDIS_PASSWORD": "jobs-secret",
            "WIKITRENDS_REDIS_SITE_PASSWORD": "site-secret",
        }
    ).redis
    assert (redis.username, redis.password) == ("jobs", "jobs-secret")
    assert (redis.as_site().username, redis.as_site().password) == ("site", "site-secret")


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    override = tmp_path / "typo.toml"
    override.write_text('[kafka]\nbootstrap_server = "k1:9092"\n')
    with pytest.raises(ConfigError, match="unknown key.*bootstrap_server"):
        load_settings({"WIKITRENDS_CONFIG": str(override)})


def test_a_missing_override_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"WIKITRENDS_CONFIG": str(tmp_path / "nope.toml")})


def test_topic_names() -> None:
    kafka = load_settings({}).kafka
    assert windows_topic(kafka, 7) == "pageviews-windows-7"
    assert windows_topics(kafka)[0] == "pageviews-windows-0"
    assert len(set(windows_topics(kafka))) == 10
    assert pipeline_topics(kafka)[:2] == ["pageviews", "pageviews-dead-letter"]
    with pytest.raises(ValueError):
        windows_topic(kafka, 10)


def test_redis_keys_live_under_the_prefix() -> None:
    assert redis_key(load_settings({}).redis, "trending", "latest") == "wikitrends:trending:latest"


def test_no_s3_key_pair_is_written_in_the_repository() -> None:
    for config in (REPO_ROOT / "configs").glob("*.toml"):
        s3 = load_settings({"WIKITRENDS_CONFIG": str(config), "WIKITRENDS_STACK_HOME": "/nonexistent"}).s3
        assert (s3.access_key, s3.secret_key) == ("", ""), config.name
