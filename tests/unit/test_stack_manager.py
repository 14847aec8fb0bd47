"""The stack manager's pure parts: the Python requirement, and the configuration the templates give."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from core.config import LOCAL_CREDENTIALS_FILE, REPO_ROOT, load_settings

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

from stack_manager import configs  # noqa: E402
from stack_manager.install import python_allowed, required_python  # noqa: E402
from stack_manager.layout import Layout, write_local_credentials  # noqa: E402


@pytest.mark.parametrize(
    ("version", "allowed"),
    [((3, 11, 0), True), ((3, 11, 9), True), ((3, 10, 14), False), ((3, 12, 1), False)],
)
def test_the_python_requirement_is_pyprojects(version: tuple[int, ...], allowed: bool) -> None:
    assert required_python() == ">=3.11,<3.12"
    assert python_allowed(version, required_python()) is allowed


def test_kafka_and_flink_configuration_come_from_the_templates_with_every_value(tmp_path: Path) -> None:
    settings = load_settings({**os.environ, "WIKITRENDS_STACK_HOME": str(tmp_path)})
    layout = Layout(tmp_path)
    (layout.data / "kafka").mkdir(parents=True)
    (layout.data / "kafka" / "meta.properties").write_text("")  # formatted already: no java run here
    configs.write_kafka_config(settings, layout)
    configs.write_flink_config(settings, layout)
    kafka = (layout.kafka_conf / "server.properties").read_text()
    flink = (layout.flink_conf / "config.yaml").read_text()
    assert "${" not in kafka and "${" not in flink
    k, f = settings.kafka, settings.flink
    assert f"listeners=PLAINTEXT://{k.host}:{k.port},CONTROLLER://{k.host}:{k.controller_port}\n" in kafka
    assert f"log.dirs={layout.data / 'kafka'}\n" in kafka
    assert f"rest.port: {f.rest_port}\n" in flink and f"rest.bind-address: {f.host}\n" in flink
    assert f"python.executable: {layout.venv_python}\n" in flink
    assert "--add-opens" in flink  # the JVM options Flink ships for JDK 17 are kept
    assert (layout.flink_conf / "log4j.properties").exists()  # the rest of PyFlink's conf/ beside it


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
