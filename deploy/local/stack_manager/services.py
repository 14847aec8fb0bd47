"""The declarative service table: each server of the stack, how it starts and how it answers.

Order matters: services start in this order and stop in the reverse one.
"""

from __future__ import annotations

import json
import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.config import Settings
from stack_manager import configs, security
from stack_manager.install import flink_home
from stack_manager.layout import Layout
from stores.clients import flink_rest


@dataclass
class Service:
    """A long-running server process that the stack starts and stops by its process id."""

    name: str
    title: str
    ports: list[tuple[str, int, str]]  # (host, port, environment variable that moves it)
    command: Callable[[], list[str]]
    ready: Callable[[], bool]
    ready_timeout: float
    env: Callable[[], dict[str, str]] = field(default=lambda: {})
    prepare: Callable[[], None] = field(default=lambda: None)
    address: str = ""
    # Text that the process's command line contains, to tell our process from a
    # recycled pid. Empty means the stack home's path (all our commands name it).
    marker: str = ""
    # False: the next service starts without waiting for this one to answer (a broker of a quorum
    # answers only once enough of the others run; the last one's readiness waits for them all).
    wait: bool = True
    # Services of one group stop together (a quorum's last member cannot shut down cleanly alone).
    group: str = ""
    # Run once the service answers, on every start: what the services after it need of it.
    provision: Callable[[], None] = field(default=lambda: None)


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def redis_ready(settings: Settings) -> bool:
    """Redis answers a PING (as the jobs' user when the profile has ACL users)."""
    redis = settings.redis
    try:
        with socket.create_connection((redis.host, redis.port), timeout=1) as conn:
            if redis.username:
                conn.sendall(f"AUTH {redis.username} {redis.password}\r\n".encode())
                if not conn.recv(16).startswith(b"+OK"):
                    return False
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def kafka_ready(settings: Settings, index: int, whole_cluster: bool = False) -> bool:
    """Broker ``index`` answers a metadata request (an open port alone is not enough while it starts);
    with ``whole_cluster``, every broker of the stack has registered too."""
    kafka = settings.kafka
    address = f"{kafka.host}:{kafka.broker_port(index)}"
    if not port_open(kafka.host, kafka.broker_port(index)):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=3000, **kafka.python_security)
    except (KafkaError, OSError):
        return False
    try:
        brokers = admin.describe_cluster()["brokers"]
        return not whole_cluster or len(brokers) >= kafka.brokers
    except (KafkaError, OSError, KeyError):
        return False
    finally:
        admin.close()


def taskmanagers_registered(settings: Settings) -> int:
    """How many TaskManagers have registered with the JobManager (their slots can take jobs)."""
    try:
        return (flink_rest(settings, "/overview", timeout_s=2) or {}).get("taskmanagers", 0)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def spark_workers_alive(settings: Settings) -> int:
    """How many workers the standalone Spark master counts as alive."""
    host, _ = settings.spark.master_address
    try:
        with urllib.request.urlopen(
            f"http://{host}:{settings.spark.master_webui_port}/json/", timeout=2
        ) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except (urllib.error.URLError, OSError, ValueError):
        return 0


def service_table(settings: Settings, layout: Layout) -> list[Service]:
    """Redis, MinIO, Kafka's brokers, ZooKeeper (for Flink's high availability), the Flink JobManager and
    TaskManagers, and a standalone Spark master and workers, in start order (the profile says which)."""
    s = settings
    flink_bin = lambda: flink_home() / "bin"  # noqa: E731 -- PyFlink is importable only inside the venv
    return [
        Service(
            name="redis",
            title="Redis",
            ports=[(s.redis.host, s.redis.port, "WIKITRENDS_REDIS_PORT")],
            command=lambda: [
                shutil.which("redis-server") or "redis-server",
                *("--bind", s.redis.host, "--port", str(s.redis.port)),
                *("--dir", str(layout.data / "redis"), "--appendonly", "yes"),
                *("--daemonize", "no", "--protected-mode", "yes", "--logfile", ""),
                *security.write_redis_acl(s, layout),
            ],
            prepare=lambda: (layout.data / "redis").mkdir(parents=True, exist_ok=True),
            ready=lambda: redis_ready(s),
            ready_timeout=30,
            address=s.redis.url,
            # redis-server rewrites its command line to "redis-server host:port".
            marker=f"redis-server {s.redis.host}:{s.redis.port}",
        ),
        Service(
            name="minio",
            title="MinIO (S3)",
            ports=[
                (s.s3.host, s.s3.port, "WIKITRENDS_S3_PORT"),
                (s.s3.host, s.s3.console_port, "WIKITRENDS_S3_CONSOLE_PORT"),
            ],
            command=lambda: [
                str(layout.bin / "minio"),
                *("server", str(layout.data / "minio")),
                *("--address", f"{s.s3.host}:{s.s3.port}"),
                *("--console-address", f"{s.s3.host}:{s.s3.console_port}"),
            ],
            env=lambda: {
                **security.minio_root_env(s, layout),
                "MINIO_REGION": s.s3.region,
                "MINIO_UPDATE": "off",
                "MINIO_CALLHOME_ENABLE": "off",
            },
            prepare=lambda: (layout.data / "minio").mkdir(parents=True, exist_ok=True),
            ready=lambda: http_ok(f"{s.s3.endpoint_url}/minio/health/ready"),
            ready_timeout=60,
            # Flink's JobManager keeps its high-availability data in the bucket (configs/cluster.toml).
            provision=lambda: security.provision_s3(s, layout),
            address=f"{s.s3.endpoint_url} (console http://{s.s3.host}:{s.s3.console_port})",
        ),
        *kafka_brokers(s, layout),
        *([zookeeper(s, layout)] if s.flink.high_availability else []),
        Service(
            name="flink-jobmanager",
            title="Flink JobManager",
            ports=[
                (s.flink.host, s.flink.rest_port, "WIKITRENDS_FLINK_REST_PORT"),
                (s.flink.host, s.flink.rpc_port, "WIKITRENDS_FLINK_RPC_PORT"),
            ],
            command=lambda: [str(flink_bin() / "jobmanager.sh"), "start-foreground"],
            env=lambda: configs.flink_env(layout),
            prepare=lambda: configs.write_flink_config(s, layout),
            ready=lambda: http_ok(f"{s.flink.rest_url}/overview"),
            ready_timeout=120,
            address=f"{s.flink.rest_url} (web UI and REST)",
        ),
        *taskmanagers(s, layout),
        *(spark_standalone(s, layout) if s.spark.standalone and s.spark.workers else []),
    ]


def kafka_brokers(s: Settings, layout: Layout) -> list[Service]:
    """One service per broker; each broker is also a KRaft controller of the quorum."""
    brokers = []
    for index in range(s.kafka.brokers):
        name = configs.kafka_service_name(s, index)
        last = index == s.kafka.brokers - 1
        number = f" {index + 1}" if s.kafka.brokers > 1 else ""
        brokers.append(
            Service(
                name=name,
                title=f"Kafka{number} (KRaft)",
                ports=[
                    (s.kafka.host, s.kafka.broker_port(index), "WIKITRENDS_KAFKA_PORT"),
                    (s.kafka.host, s.kafka.controller_port_of(index), "WIKITRENDS_KAFKA_CONTROLLER_PORT"),
                ],
                command=lambda name=name: [
                    *configs.kafka_java(s, layout, "kafka.Kafka"),
                    str(layout.kafka_conf / f"{name}.properties"),
                ],
                prepare=lambda index=index: configs.write_kafka_config(s, layout, index),
                ready=lambda index=index, last=last: kafka_ready(s, index, whole_cluster=last),
                ready_timeout=120,
                address=f"{s.kafka.host}:{s.kafka.broker_port(index)}",
                marker=f"{name}.properties",
                wait=last,
                group="kafka",
            )
        )
    return brokers


def zookeeper(s: Settings, layout: Layout) -> Service:
    """Flink's own ZooKeeper quorum peer, which elects the JobManager's leader."""
    return Service(
        name="zookeeper",
        title="ZooKeeper (Flink HA)",
        ports=[(s.flink.host, s.flink.zookeeper_port, "WIKITRENDS_FLINK_ZOOKEEPER_PORT")],
        # What bin/zookeeper.sh runs, without the shell it leaves between our pid and the JVM.
        command=lambda: [
            str(flink_home() / "bin" / "flink-console.sh"),
            "zookeeper",
            *("--zkConfigFile", str(layout.flink_conf / "zoo.cfg"), "--peerId", "1"),
        ],
        env=lambda: {
            **configs.flink_env(layout, "zookeeper"),
            "JVM_ARGS": "-Xms128m -Xmx128m -Dzookeeper.jmx.log4j.disable=true",
        },
        prepare=lambda: configs.write_flink_config(s, layout),
        ready=lambda: port_open(s.flink.host, s.flink.zookeeper_port),
        ready_timeout=60,
        address=f"{s.flink.host}:{s.flink.zookeeper_port}",
    )


def taskmanagers(s: Settings, layout: Layout) -> list[Service]:
    """One service per TaskManager, each with its own logs and pid folder.

    Each start gets Flink's own fresh resource id: a fixed one would let the JobManager's heartbeat
    timeout of a killed TaskManager close the connection of its restarted successor.
    """
    several = s.flink.taskmanagers > 1
    managers = []
    for index in range(s.flink.taskmanagers):
        name = f"flink-taskmanager-{index + 1}" if several else "flink-taskmanager"
        managers.append(
            Service(
                name=name,
                title=f"Flink TaskManager{f' {index + 1}' if several else ''}",
                ports=[],
                command=lambda: [str(flink_home() / "bin" / "taskmanager.sh"), "start-foreground"],
                env=lambda name=name: configs.flink_env(layout, name if several else ""),
                ready=lambda index=index: taskmanagers_registered(s) >= index + 1,
                ready_timeout=120,
                address=f"{s.flink.taskmanager_slots} task slots",
            )
        )
    return managers


def spark_home() -> Path:
    """PySpark's Spark distribution (bin/, jars/) inside the virtual environment."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def spark_standalone(s: Settings, layout: Layout) -> list[Service]:
    """A standalone Spark master and its workers, which the batch jobs are submitted to."""
    host, port = s.spark.master_address
    spark_class = lambda: str(spark_home() / "bin" / "spark-class")  # noqa: E731 -- PySpark: venv only
    env = lambda: {  # noqa: E731
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": host,  # the web UIs bind to it too
        "SPARK_DAEMON_MEMORY": "512m",
        # Admit only applications that know the shared secret (configs/cluster.toml).
        **({"SPARK_DAEMON_JAVA_OPTS": "-Dspark.authenticate=true"} if s.spark.authenticate else {}),
        **s.spark.secret_env,
        "SPARK_LOG_DIR": str(layout.logs),
    }
    master = Service(
        name="spark-master",
        title="Spark master",
        ports=[
            (host, port, "WIKITRENDS_SPARK_MASTER"),
            (host, s.spark.master_webui_port, "WIKITRENDS_SPARK_MASTER_WEBUI_PORT"),
        ],
        command=lambda: [
            spark_class(),
            "org.apache.spark.deploy.master.Master",
            *("--host", host, "--port", str(port), "--webui-port", str(s.spark.master_webui_port)),
        ],
        env=env,
        ready=lambda: http_ok(f"http://{host}:{s.spark.master_webui_port}/json/"),
        ready_timeout=90,
        address=f"{s.spark.master} (web UI http://{host}:{s.spark.master_webui_port})",
        marker="org.apache.spark.deploy.master.Master",
    )
    workers = []
    for index in range(s.spark.workers):
        name = f"spark-worker-{index + 1}"
        workers.append(
            Service(
                name=name,
                title=f"Spark worker {index + 1}",
                ports=[(host, s.spark.worker_webui_port + index, "WIKITRENDS_SPARK_WORKER_WEBUI_PORT")],
                command=lambda name=name, index=index: [
                    spark_class(),
                    "org.apache.spark.deploy.worker.Worker",
                    *(
                        "--host",
                        host,
                        "--cores",
                        str(s.spark.worker_cores),
                        "--memory",
                        s.spark.worker_memory,
                    ),
                    *("--webui-port", str(s.spark.worker_webui_port + index)),
                    *("--work-dir", str(layout.data / name)),
                    s.spark.master,
                ],
                env=env,
                prepare=lambda name=name: (layout.data / name).mkdir(parents=True, exist_ok=True),
                ready=lambda index=index: spark_workers_alive(s) >= index + 1,
                ready_timeout=90,
                address=f"{s.spark.worker_cores} cores, {s.spark.worker_memory}",
                marker="org.apache.spark.deploy.worker.Worker",
            )
        )
    return [master, *workers]
