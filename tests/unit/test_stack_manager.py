"""The stack manager's pure parts: the Python requirement, and the configuration the templates give."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from core.config import REPO_ROOT, load_settings

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))

from stack_manager import configs  # noqa: E402
from stack_manager.install import python_allowed, required_python  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402


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
