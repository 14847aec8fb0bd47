"""The settings of the services the system runs on: the stack's home, Kafka, Flink, S3, Spark, Redis,
the site and Airflow (core/settings.py holds the jobs' own sections and the whole).

Standard library only, like core/config.py, so that deploy/local can read ports and paths before the
project's virtual environment exists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The stack home's folder of pid files (deploy/local/stack_manager/layout.py names the others).
RUN_FOLDER = "run"
# What fetches every download the local stack needs (jars, MinIO, Redis): every "missing" message names it.
INSTALL_COMMAND = "python3 deploy/local/stack.py install"
# The jars deploy/maven/<part>/pom.xml fetches, by part, as the "missing" messages name them.
JAR_PARTS = {
    "kafka": "the Kafka broker's",
    "flink": "the Flink Kafka connector's",
    "flink-s3": "Flink's S3 file system plugin (flink-s3-fs-presto)",
    "spark": "Spark's s3a (hadoop-aws, aws-java-sdk-bundle)",
}
# The streaming job's own JVM operators (streaming/jvm), built by the install step beside the Flink jars.
STREAMING_OPERATORS_JAR = "wikitrends-streaming-operators.jar"
# Every service of the local stack, Spark's driver included, listens on this address only.
LOOPBACK = "127.0.0.1"
# Where Spark's SecurityManager looks for spark.authenticate's secret before its configuration.
SPARK_AUTH_SECRET_ENV = "_SPARK_AUTH_SECRET"


class ConfigError(ValueError):
    """A configuration value is missing or cannot be read as its type."""


@dataclass(frozen=True)
class StackSettings:
    home: str
    profile: str

    @property
    def home_path(self) -> Path:
        """Absolute folder of the local stack's downloads (shared by every profile)."""
        path = Path(self.home)
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def state_path(self) -> Path:
        """The profile's data, logs, pids, written configuration and credentials: the home itself for the
        one-machine stack, ``<home>/profiles/<profile>`` for another (configs/cluster.toml)."""
        return self.home_path / "profiles" / self.profile if self.profile else self.home_path

    @property
    def run_path(self) -> Path:
        """The folder of the pid files of every process the stack and run.py started, and their records."""
        return self.state_path / RUN_FOLDER

    def jars(self, part: str) -> list[Path]:
        """The jars deploy/local fetched for one part: "kafka", "flink" or "spark"."""
        return sorted((self.home_path / "jars" / part).glob("*.jar"))

    def jar_uris(self, part: str) -> list[str]:
        """``required_jars(part)`` as file URIs, as Flink's ``pipeline.jars`` and ``add_jars`` take them."""
        return [jar.as_uri() for jar in self.required_jars(part)]

    def required_jars(self, part: str) -> list[Path]:
        """``jars(part)``, or a ConfigError saying which jars are missing and how to fetch them."""
        jars = self.jars(part)
        if not jars:
            raise ConfigError(
                f"{JAR_PARTS[part]} jars are missing from {self.home_path / 'jars' / part}; "
                f"run: {INSTALL_COMMAND}"
            )
        return jars


@dataclass(frozen=True)
class KafkaSettings:
    host: str
    port: int
    controller_port: int
    bootstrap_servers: str
    heap: str
    partitions: int
    pageviews_topic: str
    windows_topic_prefix: str
    dead_letter_topic: str
    edits_topic: str
    edit_alerts_topic: str
    edits_dead_letter_topic: str
    wikipedia_hours_topic: str
    retention_hours: int
    brokers: int
    replication_factor: int
    min_insync_replicas: int
    security_protocol: str
    sasl_mechanism: str
    username: str
    password: str
    ssl_cafile: str

    def broker_port(self, index: int) -> int:
        """The client port of the local stack's broker ``index`` (0-based): port, port + 1, ..."""
        return self.port + index

    def controller_port_of(self, index: int) -> int:
        """The KRaft controller port of the local stack's broker ``index``."""
        return self.controller_port + index

    @property
    def bootstrap(self) -> str:
        """The brokers clients connect to: bootstrap_servers, else every local broker's host:port."""
        return self.bootstrap_servers or ",".join(
            f"{self.host}:{self.broker_port(index)}" for index in range(self.brokers)
        )

    @property
    def secured(self) -> bool:
        """Clients authenticate (SASL) and talk TLS to the brokers: the cluster profile, a real cluster."""
        return self.security_protocol != "PLAINTEXT"

    @property
    def python_security(self) -> dict[str, str]:
        """kafka-python's options for the configured security beside bootstrap_servers (or none)."""
        if not self.secured:
            return {}
        options = {"security_protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.username,
                "sasl_plain_password": self.password,
            }
        if self.ssl_cafile:
            options["ssl_cafile"] = self.ssl_cafile
        return options

    @property
    def java_security(self) -> dict[str, str]:
        """The same as Kafka's Java client properties (Flink's connectors, Spark's source, the CLI tools)."""
        if not self.secured:
            return {}
        properties = {"security.protocol": self.security_protocol}
        if self.security_protocol.startswith("SASL"):
            properties |= {
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.jaas.config": "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{self.username}" password="{self.password}";',
            }
        if self.ssl_cafile:
            properties |= {"ssl.truststore.type": "PEM", "ssl.truststore.location": self.ssl_cafile}
        return properties

    @property
    def java_client(self) -> dict[str, str]:
        """A Java client's connection properties: bootstrap.servers and ``java_security``."""
        return {"bootstrap.servers": self.bootstrap, **self.java_security}

    @property
    def topic_configs(self) -> dict[str, str]:
        """What every topic the project creates is given beside its partitions and replication.

        Records are stamped when the broker appends them: retention then counts from when a record was
        written, not from its event time (a replay of last month's views, or a test's fixed day, would
        otherwise be deleted minutes after it is written). The jobs read event time from the payload.
        """
        return {
            "min.insync.replicas": str(self.min_insync_replicas),
            "message.timestamp.type": "LogAppendTime",
        }


@dataclass(frozen=True)
class FlinkSettings:
    host: str
    rest_port: int
    rpc_port: int
    taskmanager_slots: int
    parallelism: int
    jobmanager_memory: str
    taskmanager_memory: str
    taskmanager_managed_memory: str
    checkpoint_dir: str
    taskmanagers: int
    max_parallelism: int
    high_availability_dir: str
    zookeeper_port: int

    @property
    def high_availability(self) -> bool:
        """JobManager high availability: jobs and their newest checkpoints survive a JobManager's loss."""
        return bool(self.high_availability_dir)

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"


@dataclass(frozen=True)
class S3Settings:
    host: str
    port: int
    console_port: int
    endpoint: str
    region: str
    access_key: str
    secret_key: str
    bucket: str
    hourly_counts_prefix: str
    averages_prefix: str
    anomalies_prefix: str
    clickstream_prefix: str
    bots_prefix: str
    dumps_prefix: str
    service_users: bool

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint clients use: endpoint, else http://host:port."""
        return self.endpoint or f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class SparkSettings:
    master: str
    driver_memory: str
    workers: int
    worker_cores: int
    worker_memory: str
    executor_memory: str
    app_cores: int
    master_webui_port: int
    worker_webui_port: int
    authenticate: bool
    authenticate_secret: str

    @property
    def standalone(self) -> bool:
        """Jobs go to a Spark standalone master (spark://host:port), not a driver-local Spark."""
        return self.master.startswith("spark://")

    @property
    def master_address(self) -> tuple[str, int]:
        """The standalone master's host and port, from ``master``."""
        host, port = self.master.removeprefix("spark://").rsplit(":", 1)
        return host, int(port)

    @property
    def loopback_conf(self) -> dict[str, str]:
        """Options that keep a local Spark driver on loopback (a cluster's executors must reach it)."""
        return {"spark.driver.bindAddress": LOOPBACK, "spark.driver.host": LOOPBACK}

    @property
    def executor_conf(self) -> dict[str, str]:
        """Options for executors on a standalone cluster: their memory, and the project's modules for the
        Python code they run (on other machines, the same checkout at the same path, or --py-files)."""
        if not self.standalone:
            return {}
        return {
            "spark.executor.memory": self.executor_memory,
            "spark.cores.max": str(self.app_cores),
            "spark.executorEnv.PYTHONPATH": str(REPO_ROOT),
            **({"spark.authenticate": "true"} if self.authenticate else {}),
        }

    @property
    def secret_env(self) -> dict[str, str]:
        """The shared secret of an authenticating master as its master and workers read it: from the
        environment, never from a command line, which every local user can read."""
        return {SPARK_AUTH_SECRET_ENV: self.authenticate_secret} if self.authenticate else {}

    @property
    def secret_properties(self) -> str:
        """The same for a driver, which Spark requires to have it in its configuration: the text of a
        --properties-file (kept owner-only) rather than a --conf option."""
        return f"spark.authenticate.secret {self.authenticate_secret}\n" if self.authenticate else ""


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    db: int
    key_prefix: str
    username: str
    password: str
    site_username: str
    site_password: str

    def as_site(self) -> RedisSettings:
        """The site's identity: it reads everything and writes only the watch list (the cluster's ACL)."""
        if not self.site_username:
            return self
        return replace(self, username=self.site_username, password=self.site_password)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    max_limit: int
    refresh_seconds: int
    snapshot_cache_seconds: float


@dataclass(frozen=True)
class AirflowSettings:
    """Where the local Airflow's web UI listens (deploy/local starts it; elsewhere, your own Airflow)."""

    host: str
    port: int
