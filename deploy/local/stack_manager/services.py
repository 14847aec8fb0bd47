"""The declarative service table: each server of the stack, how it starts and how it answers.

Order matters: services start in this order and stop in the reverse one.
"""

from __future__ import annotations

import shutil
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from core.config import Settings
from stack_manager import configs
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


def redis_ready(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def kafka_ready(settings: Settings) -> bool:
    """The broker answers a metadata request (an open port alone is not enough while it starts)."""
    if not port_open(settings.kafka.host, settings.kafka.port):
        return False
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka.bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError):
        return False
    try:
        admin.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        admin.close()


def taskmanager_registered(settings: Settings) -> bool:
    """At least one TaskManager has registered with the JobManager (its slots can take jobs)."""
    try:
        return (flink_rest(settings, "/overview", timeout_s=2) or {}).get("taskmanagers", 0) >= 1
    except (urllib.error.URLError, OSError, ValueError):
        return False


def service_table(settings: Settings, layout: Layout) -> list[Service]:
    """Redis, MinIO, Kafka, the Flink JobManager and TaskManager, in start order."""
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
            ],
            prepare=lambda: (layout.data / "redis").mkdir(parents=True, exist_ok=True),
            ready=lambda: redis_ready(s.redis.host, s.redis.port),
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
                "MINIO_ROOT_USER": s.s3.access_key,
                "MINIO_ROOT_PASSWORD": s.s3.secret_key,
                "MINIO_REGION": s.s3.region,
                "MINIO_UPDATE": "off",
                "MINIO_CALLHOME_ENABLE": "off",
            },
            prepare=lambda: (layout.data / "minio").mkdir(parents=True, exist_ok=True),
            ready=lambda: http_ok(f"{s.s3.endpoint_url}/minio/health/ready"),
            ready_timeout=60,
            address=f"{s.s3.endpoint_url} (console http://{s.s3.host}:{s.s3.console_port})",
        ),
        Service(
            name="kafka",
            title="Kafka (KRaft)",
            ports=[
                (s.kafka.host, s.kafka.port, "WIKITRENDS_KAFKA_PORT"),
                (s.kafka.host, s.kafka.controller_port, "WIKITRENDS_KAFKA_CONTROLLER_PORT"),
            ],
            command=lambda: [
                *configs.kafka_java(s, layout, "kafka.Kafka"),
                str(layout.kafka_conf / "server.properties"),
            ],
            prepare=lambda: configs.write_kafka_config(s, layout),
            ready=lambda: kafka_ready(s),
            ready_timeout=120,
            address=s.kafka.bootstrap,
        ),
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
        Service(
            name="flink-taskmanager",
            title="Flink TaskManager",
            ports=[],
            command=lambda: [str(flink_bin() / "taskmanager.sh"), "start-foreground"],
            env=lambda: configs.flink_env(layout),
            ready=lambda: taskmanager_registered(s),
            ready_timeout=120,
            address=f"{s.flink.taskmanager_slots} task slots",
        ),
    ]
