"""Kafka's and Flink's configuration for the stack, from the templates in deploy/kafka and deploy/flink.

The templates are the files a reader of Kafka's or Flink's documentation
expects (server.properties, config.yaml); ``${name}`` in them is filled from
configs/local.toml. The written copies live in the stack home and are
rewritten at every start, so edits belong in the templates.
"""

from __future__ import annotations

import base64
import re
import shutil
import uuid
from pathlib import Path
from string import Template

from core.config import Settings
from core.settings import LOOPBACK
from stack_manager.install import flink_home
from stack_manager.layout import REPO_ROOT, Layout, StackError
from stack_manager.steps import run_logged

KAFKA_TEMPLATES = REPO_ROOT / "deploy" / "kafka"
FLINK_TEMPLATE = REPO_ROOT / "deploy" / "flink" / "config.yaml"


def render(template: Path, target: Path, **values: object) -> None:
    """Write ``template`` to ``target`` with each ``${name}`` replaced; a name without a value is an error."""
    try:
        text = Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})
    except (KeyError, ValueError) as error:
        raise StackError(f"the template {template} has a placeholder with no value: {error}") from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def kafka_java(settings: Settings, layout: Layout, main_class: str) -> list[str]:
    """The java command line of a Kafka main class with the stack's heap, logging and jars."""
    java = shutil.which("java") or "java"
    return [
        java,
        f"-Xms{settings.kafka.heap}",
        f"-Xmx{settings.kafka.heap}",
        "-XX:+UseG1GC",
        f"-Dlog4j.configuration=file:{layout.kafka_conf / 'log4j.properties'}",
        f"-Dkafka.logs.dir={layout.logs}",
        "-cp",
        str(layout.jars / "kafka" / "*"),
        main_class,
    ]


def write_kafka_config(settings: Settings, layout: Layout) -> None:
    """server.properties and log4j.properties; the KRaft storage formatted on the first start."""
    kafka, conf, log_dirs = settings.kafka, layout.kafka_conf, layout.data / "kafka"
    render(
        KAFKA_TEMPLATES / "server.properties",
        conf / "server.properties",
        host=kafka.host,
        port=kafka.port,
        controller_port=kafka.controller_port,
        log_dirs=log_dirs,
        partitions=kafka.partitions,
        retention_hours=kafka.retention_hours,
    )
    shutil.copy2(KAFKA_TEMPLATES / "log4j.properties", conf / "log4j.properties")
    if (log_dirs / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    run_logged(
        kafka_java(settings, layout, "kafka.tools.StorageTool")
        + ["format", "-t", cluster_id, "-c", str(conf / "server.properties"), "--ignore-formatted"],
        layout.logs / "kafka-format.log",
        "Formatting Kafka's KRaft storage (first start only)",
        "Remove the folder named in the log and start again if it is damaged.",
    )


def write_flink_config(settings: Settings, layout: Layout) -> None:
    """config.yaml from the template, beside the other files of PyFlink's conf/ (log4j and the rest)."""
    flink, shipped = settings.flink, flink_home() / "conf"
    layout.flink_conf.mkdir(parents=True, exist_ok=True)
    for item in shipped.iterdir():
        if item.name != "config.yaml":
            shutil.copy2(item, layout.flink_conf / item.name)
    # The JVM options Flink ships (the --add-opens JDK 17 needs) are kept as they are.
    java_opts = re.search(r"^\s+all:\s*(.+)$", (shipped / "config.yaml").read_text(), re.M)
    (layout.logs / "flink").mkdir(parents=True, exist_ok=True)
    (layout.run / "flink").mkdir(parents=True, exist_ok=True)
    render(
        FLINK_TEMPLATE,
        layout.flink_conf / "config.yaml",
        java_opts=java_opts.group(1) if java_opts else "",
        host=flink.host,
        rpc_port=flink.rpc_port,
        rest_port=flink.rest_port,
        jobmanager_memory=flink.jobmanager_memory,
        taskmanager_memory=flink.taskmanager_memory,
        taskmanager_managed_memory=flink.taskmanager_managed_memory,
        taskmanager_slots=flink.taskmanager_slots,
        parallelism=flink.parallelism,
        state_backend=settings.streaming.state_backend,
        checkpoint_dir=settings.checkpoint_dir,
        savepoint_dir=settings.savepoint_dir,
        python=layout.venv_python,
    )


def flink_env(layout: Layout) -> dict[str, str]:
    """The environment Flink's scripts read: where the configuration, classpath, logs and pids are."""
    return {
        "FLINK_CONF_DIR": str(layout.flink_conf),
        "FLINK_LIB_DIR": str(layout.flink_lib),
        "FLINK_LOG_DIR": str(layout.logs / "flink"),
        "FLINK_PID_DIR": str(layout.run / "flink"),
        # The scripts find Java through JAVA_HOME or PATH; both are passed through.
    }


def spark_submit(settings: Settings, layout: Layout) -> tuple[Path, list[str], dict[str, str]]:
    """The venv's spark-submit, the options that wire it to this stack, and its environment."""
    jars = settings.stack.required_jars("spark")
    spark = settings.spark
    options = ["--master", spark.master, "--driver-memory", spark.driver_memory]
    options += ["--jars", ",".join(str(jar) for jar in jars)]
    for key, value in spark.loopback_conf.items():
        options += ["--conf", f"{key}={value}"]
    log4j = REPO_ROOT / "configs" / "spark-log4j2.properties"
    options += ["--driver-java-options", f"-Dlog4j2.configurationFile={log4j}"]
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "PYSPARK_PYTHON": str(layout.venv_python),
        "SPARK_LOCAL_IP": LOOPBACK,
    }
    return layout.venv_python.parent / "spark-submit", options, env
