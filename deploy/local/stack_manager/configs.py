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
from core.contracts import s3_location
from core.settings import LOOPBACK
from stack_manager import security
from stack_manager.install import flink_home
from stack_manager.layout import REPO_ROOT, Layout, StackError
from stack_manager.steps import run_logged

KAFKA_TEMPLATES = REPO_ROOT / "deploy" / "kafka"
FLINK_TEMPLATES = REPO_ROOT / "deploy" / "flink"
FLINK_TEMPLATE = FLINK_TEMPLATES / "config.yaml"


def fill(template: Path, **values: object) -> str:
    """``template``'s text with each ``${name}`` replaced; a name without a value is an error."""
    try:
        return Template(template.read_text()).substitute({k: str(v) for k, v in values.items()})
    except (KeyError, ValueError) as error:
        raise StackError(f"the template {template} has a placeholder with no value: {error}") from None


def render(template: Path, target: Path, **values: object) -> None:
    """Write ``template`` filled with ``values`` (``fill``) to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(fill(template, **values))


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


def kafka_service_name(settings: Settings, index: int) -> str:
    """The stack's name of broker ``index``: ``kafka`` alone, ``kafka-1``, ``kafka-2``... in a cluster."""
    return "kafka" if settings.kafka.brokers == 1 else f"kafka-{index + 1}"


def write_kafka_config(settings: Settings, layout: Layout, index: int) -> None:
    """Broker ``index``'s server.properties and log4j.properties; its KRaft storage formatted on its first
    start, with the cluster id every broker of the stack shares."""
    kafka, name = settings.kafka, kafka_service_name(settings, index)
    conf, log_dirs = layout.kafka_conf, layout.data / name
    voters = ",".join(
        f"{node + 1}@{kafka.host}:{kafka.controller_port_of(node)}" for node in range(kafka.brokers)
    )
    render(
        KAFKA_TEMPLATES / "server.properties",
        conf / f"{name}.properties",
        node_id=index + 1,
        quorum_voters=voters,
        host=kafka.host,
        port=kafka.broker_port(index),
        controller_port=kafka.controller_port_of(index),
        log_dirs=log_dirs,
        partitions=kafka.partitions,
        retention_hours=kafka.retention_hours,
        replication_factor=kafka.replication_factor,
        min_insync_replicas=kafka.min_insync_replicas,
        client_protocol=kafka.security_protocol,
        controller_protocol="SSL" if kafka.secured else "PLAINTEXT",
        security=kafka_security(settings, layout),
    )
    shutil.copy2(KAFKA_TEMPLATES / "log4j.properties", conf / "log4j.properties")
    if (log_dirs / "meta.properties").exists():
        return
    id_file = layout.data / "kafka-cluster-id"
    if not id_file.exists():
        id_file.parent.mkdir(parents=True, exist_ok=True)
        id_file.write_text(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))
    run_logged(
        kafka_java(settings, layout, "kafka.tools.StorageTool")
        # One argument with "=": a generated id may begin with "-", which would read as an option.
        + ["format", f"--cluster-id={id_file.read_text().strip()}", "-c", str(conf / f"{name}.properties")]
        + ["--ignore-formatted", *security.scram_format_arguments(settings, layout)],
        layout.logs / f"{name}-format.log",
        f"Formatting {name}'s KRaft storage (first start only)",
        "Remove the folder named in the log and start again if it is damaged.",
    )


def kafka_security(settings: Settings, layout: Layout) -> str:
    """security.properties filled for a secured profile (the TLS files made on first need), else nothing."""
    kafka = settings.kafka
    if not kafka.secured:
        return ""
    broker = security.broker_credentials(layout)
    return fill(
        KAFKA_TEMPLATES / "security.properties",
        mechanism=kafka.sasl_mechanism,
        mechanism_lower=kafka.sasl_mechanism.lower(),
        broker_user=broker["username"],
        broker_password=broker["password"],
        keystore=security.ensure_broker_certificate(settings, layout),
        truststore=kafka.ssl_cafile,
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
        max_parallelism=flink.max_parallelism,
        cluster_options=cluster_options(settings, layout),
    )


def uses_s3(settings: Settings) -> bool:
    """Whether Flink keeps checkpoints or high-availability data on S3 (its S3 plugin is then loaded)."""
    return any(s3_location(uri) for uri in (settings.checkpoint_dir, settings.flink.high_availability_dir))


def cluster_options(settings: Settings, layout: Layout) -> str:
    """The S3 file system's and high availability's lines of config.yaml, when the profile uses them."""
    parts = []
    if uses_s3(settings):
        s3 = security.s3_identity(
            settings, layout, security.S3_FLINK
        ).s3  # Flink's own key, where there is one
        parts.append(
            fill(
                FLINK_TEMPLATES / "s3.yaml",
                endpoint=s3.endpoint_url,
                access_key=s3.access_key,
                secret_key=s3.secret_key,
            )
        )
    if settings.flink.high_availability:
        parts.append(
            fill(
                FLINK_TEMPLATES / "high-availability.yaml",
                quorum=f"{settings.flink.host}:{settings.flink.zookeeper_port}",
                storage_dir=settings.flink.high_availability_dir,
            )
        )
        render(
            FLINK_TEMPLATES / "zoo.cfg",
            layout.flink_conf / "zoo.cfg",
            data_dir=layout.data / "zookeeper",
            host=settings.flink.host,
            port=settings.flink.zookeeper_port,
            # The quorum's own ports: unused by one server, but ZooKeeper requires them.
            peer_port=settings.flink.zookeeper_port + 1,
            election_port=settings.flink.zookeeper_port + 2,
        )
    return "\n".join(parts)


def flink_env(layout: Layout, process: str = "") -> dict[str, str]:
    """The environment Flink's scripts read: where the configuration, classpath, plugins, logs and pids
    are. ``process`` gives one of several processes of a kind (a TaskManager) its own logs and pids."""
    logs, pids = layout.logs / "flink", layout.run / "flink"
    if process:
        logs, pids = logs / process, pids / process
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    return {
        "FLINK_CONF_DIR": str(layout.flink_conf),
        "FLINK_LIB_DIR": str(layout.flink_lib),
        "FLINK_PLUGINS_DIR": str(layout.flink_plugins),
        "FLINK_LOG_DIR": str(logs),
        "FLINK_PID_DIR": str(pids),
        # The scripts find Java through JAVA_HOME or PATH; both are passed through.
    }


def spark_submit(settings: Settings, layout: Layout) -> tuple[Path, list[str], dict[str, str]]:
    """The venv's spark-submit, the options that wire it to this stack, and its environment."""
    jars = settings.stack.required_jars("spark")
    spark = settings.spark
    options = ["--master", spark.master, "--driver-memory", spark.driver_memory]
    options += ["--jars", ",".join(str(jar) for jar in jars)]
    for key, value in {**spark.loopback_conf, **spark.executor_conf}.items():
        options += ["--conf", f"{key}={value}"]
    log4j = REPO_ROOT / "configs" / "spark-log4j2.properties"
    options += ["--driver-java-options", f"-Dlog4j2.configurationFile={log4j}"]
    if spark.authenticate:
        secret = layout.state_home / "spark-driver.properties"
        secret.touch(mode=0o600)
        secret.write_text(spark.secret_properties)
        options += ["--properties-file", str(secret)]
    env = {
        "PYTHONPATH": str(REPO_ROOT),
        "PYSPARK_PYTHON": str(layout.venv_python),
        "SPARK_LOCAL_IP": LOOPBACK,
    }
    return layout.venv_python.parent / "spark-submit", options, env
