#!/usr/bin/env python3
"""Install, start, check and stop the local stack: Redis, MinIO (S3), Kafka and Flink.

Everything it downloads, builds and stores lives under the stack home
(``.stack/`` by default, see configs/local.toml), so a second start is fast and
removing that folder resets the machine. Every service listens on loopback only.

    python3 deploy/local/stack.py install   # downloads and builds, nothing started
    python3 deploy/local/stack.py start     # install what is missing, start, provision
    python3 deploy/local/stack.py status    # what runs, where, and its memory
    python3 deploy/local/stack.py stop      # stop what start started, by process id

Run with the machine's Python 3.11; once the project's virtual environment
exists, the script re-runs itself inside it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT))

from core.config import (  # noqa: E402
    LOCAL_CREDENTIALS_FILE,
    ConfigError,
    Settings,
    load_settings,
    write_local_credentials,
)

# Pinned so that every machine builds the same server. The MinIO project no
# longer tags Go module releases, so this is the pseudo-version of its
# last published commit on the Go module proxy.
MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MIN_JAVA = 11
PYTHON_RANGE = ((3, 11), (3, 11))  # the code needs 3.11; apache-flink 1.20 supports up to 3.11
HEARTBEAT_SECONDS = 15


class StackError(RuntimeError):
    """Something an operator must fix; the message says what and how."""


# --------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Layout:
    """Where each thing lives under the stack home."""

    home: Path

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def jars(self) -> Path:
        return self.home / "jars"

    @property
    def bin(self) -> Path:
        return self.home / "bin"

    @property
    def stamps(self) -> Path:
        return self.home / "stamps"

    @property
    def flink_conf(self) -> Path:
        return self.home / "flink-conf"

    @property
    def kafka_conf(self) -> Path:
        return self.home / "kafka-conf"

    @property
    def flink_lib(self) -> Path:
        """The cluster's classpath: PyFlink's lib jars and flink-python with its servers on loopback."""
        return self.home / "flink-lib"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


# --------------------------------------------------------------------------- helpers


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stamp_matches(layout: Layout, name: str, value: str) -> bool:
    stamp = layout.stamps / name
    return stamp.exists() and stamp.read_text() == value


def write_stamp(layout: Layout, name: str, value: str) -> None:
    layout.stamps.mkdir(parents=True, exist_ok=True)
    (layout.stamps / name).write_text(value)


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def run_logged(
    command: list[str],
    log: Path,
    what: str,
    hint: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a long install step, its output in ``log``, with a progress line every few seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"{what} (log: {log})")
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        while True:
            try:
                code = process.wait(timeout=HEARTBEAT_SECONDS)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                size = log.stat().st_size
                say(f"  ... still {what[0].lower()}{what[1:]}: {elapsed:.0f} s, {size // 1024} KiB of log")
            except KeyboardInterrupt:
                process.terminate()
                process.wait()
                raise
    elapsed = time.monotonic() - started
    if code != 0:
        raise StackError(
            f"{what} failed (exit {code}) after {elapsed:.0f} s. Last lines of {log}:\n"
            f"{log_tail(log)}\n{hint}"
        )
    say(f"  done in {elapsed:.0f} s")


def require_tool(name: str, purpose: str, how: str) -> str:
    path = shutil.which(name)
    if not path:
        raise StackError(f"`{name}` is not on PATH; it is needed {purpose}. {how}")
    return path


def java_major_version() -> int:
    java = require_tool(
        "java",
        "to run Kafka, Flink and Spark",
        "Install a JDK 17 (Debian: apt-get install openjdk-17-jdk-headless).",
    )
    result = subprocess.run([java, "-version"], capture_output=True, text=True)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        raise StackError(f"could not read the Java version from `java -version`:\n{result.stderr}")
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


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


def process_rss_mib(pid: int) -> float | None:
    """Resident memory of a process and its children (the Flink and Kafka JVMs are one process)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- services


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


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout(settings.stack.home_path)
        self.python = sys.executable
        self.services = self._services()

    # ----------------------------------------------------------------- install

    def install(self) -> None:
        """Download and build everything the stack runs; skip what is already current."""
        java = java_major_version()
        if java < MIN_JAVA:
            raise StackError(
                f"Java {java} found; Kafka and Flink need Java {MIN_JAVA} or newer (17 recommended)."
            )
        self.install_jars()
        self.install_flink_lib()
        self.install_minio()
        self.install_redis()

    def install_jars(self) -> None:
        mvn = None
        for part in ("kafka", "flink", "spark"):
            pom = REPO_ROOT / "deploy" / "maven" / part / "pom.xml"
            target = self.layout.jars / part
            digest = file_digest(pom)
            if stamp_matches(self.layout, f"jars-{part}", digest) and any(target.glob("*.jar")):
                continue
            mvn = mvn or require_tool(
                "mvn",
                "to fetch the Kafka, Flink connector and S3 jars from Maven Central",
                "Install Maven (Debian: apt-get install maven).",
            )
            shutil.rmtree(target, ignore_errors=True)
            run_logged(
                [
                    mvn,
                    "-B",
                    "-f",
                    str(pom),
                    f"-Dmaven.repo.local={self.layout.home / 'm2'}",
                    f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={target}",
                ],
                self.layout.logs / f"install-jars-{part}.log",
                f"Fetching the {part} jars from Maven Central",
                "Check that Maven Central is reachable from this machine, then run the command again.",
            )
            write_stamp(self.layout, f"jars-{part}", digest)

    def install_flink_lib(self) -> None:
        """Assemble the Flink cluster's lib folder: PyFlink's jars and a loopback-only flink-python.

        flink-python's Fn API servers (what a TaskManager opens for its Python workers) listen on every
        interface; deploy/flink/ServerFactory.java binds them to loopback. It is compiled against the
        shipped jar and replaces the shipped classes in a copy of it, which goes on the cluster's
        classpath, so that it is loaded before the copy `flink run -py` ships with each job.
        """
        home, lib = self._flink_home(), self.layout.flink_lib
        source = REPO_ROOT / "deploy" / "flink" / "ServerFactory.java"
        (flink_python,) = (home / "opt").glob("flink-python-*.jar")
        shipped = sorted((home / "lib").glob("*.jar"))
        digest = file_digest(source) + flink_python.name + ",".join(jar.name for jar in shipped)
        patched = lib / flink_python.name
        if stamp_matches(self.layout, "flink-lib", digest) and patched.exists():
            return
        javac = require_tool(
            "javac", "to build the loopback-only Fn API server of flink-python", "Install a JDK 17."
        )
        shutil.rmtree(lib, ignore_errors=True)
        classes = self.layout.home / "build" / "flink-python-loopback"
        shutil.rmtree(classes, ignore_errors=True)
        run_logged(
            [javac, "-nowarn", "-cp", str(flink_python), "-d", str(classes), str(source)],
            self.layout.logs / "install-flink-lib.log",
            "Building flink-python's loopback-only Fn API server",
            "See the log for the compiler's message; the source is deploy/flink/ServerFactory.java.",
        )
        lib.mkdir(parents=True)
        for jar in shipped:
            (lib / jar.name).symlink_to(jar)
        replaced = "org/apache/beam/sdk/fn/server/ServerFactory"
        with (
            zipfile.ZipFile(flink_python) as original,
            zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as copy,
        ):
            for entry in original.infolist():
                if not entry.filename.startswith(replaced):
                    copy.writestr(entry, original.read(entry))
            for compiled in sorted(classes.rglob("*.class")):
                copy.write(compiled, compiled.relative_to(classes).as_posix())
        write_stamp(self.layout, "flink-lib", digest)

    def install_minio(self) -> None:
        binary = self.layout.bin / "minio"
        if binary.exists() and stamp_matches(self.layout, "minio", MINIO_MODULE):
            return
        go = require_tool("go", "to build the MinIO S3 server", "Install Go 1.24 or newer.")
        go_home = self.layout.home / "go"
        env = dict(
            os.environ,
            GOPATH=str(go_home),
            GOMODCACHE=str(go_home / "mod"),
            GOCACHE=str(go_home / "build-cache"),
            GOBIN=str(self.layout.bin),
            GOFLAGS="-buildvcs=false",
        )
        run_logged(
            [go, "install", MINIO_MODULE],
            self.layout.logs / "install-minio.log",
            "Building MinIO from the Go module proxy (about 5 minutes on 2 cores)",
            "Check that the Go module proxy is reachable (go env GOPROXY), then run the command again.",
            env=env,
        )
        write_stamp(self.layout, "minio", MINIO_MODULE)

    def install_redis(self) -> None:
        self.install_debian_packages({"redis-server": "redis-server"}, "Redis")

    def install_debian_packages(self, commands: dict[str, str], what: str) -> None:
        """Install Debian packages (command or file path -> package) that are missing; needs root."""

        def present(probe: str) -> bool:
            return Path(probe).exists() if probe.startswith("/") else shutil.which(probe) is not None

        missing = sorted({package for probe, package in commands.items() if not present(probe)})
        if not missing:
            return
        if os.geteuid() != 0:
            raise StackError(
                f"{what} needs Debian's {' '.join(missing)}. Install as root: "
                f"apt-get update && apt-get install -y {' '.join(missing)}"
            )
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        run_logged(
            ["apt-get", "update"],
            self.layout.logs / "install-apt-update.log",
            "Updating Debian's package lists",
            "Check that Debian's mirrors are reachable.",
            env=env,
        )
        run_logged(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            self.layout.logs / f"install-{missing[0]}.log",
            f"Installing Debian's {' '.join(missing)}",
            "Check that Debian's mirrors are reachable.",
            env=env,
        )

    def install_test_tools(self) -> None:
        """What only the tests and benchmarks need: Chromium and its driver, wrk, and Airflow (own venv)."""
        self.install_debian_packages(
            {
                "chromium": "chromium",
                "chromedriver": "chromium-driver",
                "wrk": "wrk",
                # A CJK font, so screenshots of non-Latin titles show glyphs, not boxes.
                "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc": "fonts-wqy-zenhei",
            },
            "The browser tests",
        )
        constraints = REPO_ROOT / "deploy" / "airflow" / "constraints.txt"
        venv = self.layout.home / "airflow-venv"
        if (
            stamp_matches(self.layout, "airflow", file_digest(constraints))
            and (venv / "bin" / "airflow").exists()
        ):
            return
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        run_logged(
            [str(venv / "bin" / "pip"), "install", "-q", "-r", str(constraints)],
            self.layout.logs / "install-airflow.log",
            "Installing Airflow in its own virtual environment (for the DAG tests; about a minute)",
            "Check that PyPI is reachable, then run the command again.",
        )
        write_stamp(self.layout, "airflow", file_digest(constraints))

    # ----------------------------------------------------------------- service table

    def _services(self) -> list[Service]:
        s, layout = self.settings, self.layout
        return [
            Service(
                name="redis",
                title="Redis",
                ports=[(s.redis.host, s.redis.port, "WIKITRENDS_REDIS_PORT")],
                command=lambda: [
                    shutil.which("redis-server") or "redis-server",
                    "--bind",
                    s.redis.host,
                    "--port",
                    str(s.redis.port),
                    "--dir",
                    str(layout.data / "redis"),
                    "--appendonly",
                    "yes",
                    "--daemonize",
                    "no",
                    "--protected-mode",
                    "yes",
                    "--logfile",
                    "",
                ],
                prepare=lambda: (layout.data / "redis").mkdir(parents=True, exist_ok=True),
                ready=self._redis_ready,
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
                    "server",
                    str(layout.data / "minio"),
                    "--address",
                    f"{s.s3.host}:{s.s3.port}",
                    "--console-address",
                    f"{s.s3.host}:{s.s3.console_port}",
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
                command=self._kafka_command,
                prepare=self._kafka_prepare,
                ready=self._kafka_ready,
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
                command=lambda: [str(self.flink_bin() / "jobmanager.sh"), "start-foreground"],
                env=self.flink_env,
                prepare=self._flink_prepare,
                ready=lambda: http_ok(f"{s.flink.rest_url}/overview"),
                ready_timeout=120,
                address=f"{s.flink.rest_url} (web UI and REST)",
            ),
            Service(
                name="flink-taskmanager",
                title="Flink TaskManager",
                ports=[],
                command=lambda: [str(self.flink_bin() / "taskmanager.sh"), "start-foreground"],
                env=self.flink_env,
                ready=self._flink_taskmanager_ready,
                ready_timeout=120,
                address=f"{s.flink.taskmanager_slots} task slots",
            ),
        ]

    # ----------------------------------------------------------------- redis

    def _redis_ready(self) -> bool:
        try:
            with socket.create_connection(
                (self.settings.redis.host, self.settings.redis.port), timeout=1
            ) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    # ----------------------------------------------------------------- kafka

    def _kafka_classpath(self) -> str:
        return str(self.layout.jars / "kafka" / "*")

    def _kafka_prepare(self) -> None:
        s, conf = self.settings.kafka, self.layout.kafka_conf
        conf.mkdir(parents=True, exist_ok=True)
        log_dirs = self.layout.data / "kafka"
        (conf / "server.properties").write_text(
            "# Written by deploy/local/stack.py from configs/local.toml; edits are overwritten.\n"
            "process.roles=broker,controller\n"
            "node.id=1\n"
            f"controller.quorum.voters=1@{s.host}:{s.controller_port}\n"
            f"listeners=PLAINTEXT://{s.host}:{s.port},CONTROLLER://{s.host}:{s.controller_port}\n"
            f"advertised.listeners=PLAINTEXT://{s.host}:{s.port}\n"
            "controller.listener.names=CONTROLLER\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            "inter.broker.listener.name=PLAINTEXT\n"
            f"log.dirs={log_dirs}\n"
            f"num.partitions={s.partitions}\n"
            "offsets.topic.replication.factor=1\n"
            "transaction.state.log.replication.factor=1\n"
            "transaction.state.log.min.isr=1\n"
            # Flink's exactly-once sink keeps transactions open up to its checkpoint timeout.
            "transaction.max.timeout.ms=3600000\n"
            "group.initial.rebalance.delay.ms=0\n"
            # Topics are created on purpose (provision), never by a typo.
            "auto.create.topics.enable=false\n"
            f"log.retention.hours={s.retention_hours}\n"
        )
        (conf / "log4j.properties").write_text(
            "log4j.rootLogger=INFO, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka=INFO\n"
            "log4j.logger.org.apache.kafka=INFO\n"
            "log4j.logger.state.change.logger=WARN\n"
        )
        if not (log_dirs / "meta.properties").exists():
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            run_logged(
                self._kafka_java("kafka.tools.StorageTool")
                + [
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(conf / "server.properties"),
                    "--ignore-formatted",
                ],
                self.layout.logs / "kafka-format.log",
                "Formatting Kafka's KRaft storage (first start only)",
                "Remove the folder named in the log and start again if it is damaged.",
            )

    def _kafka_java(self, main_class: str) -> list[str]:
        java = shutil.which("java") or "java"
        return [
            java,
            f"-Xms{self.settings.kafka.heap}",
            f"-Xmx{self.settings.kafka.heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j.configuration=file:{self.layout.kafka_conf / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.layout.logs}",
            "-cp",
            self._kafka_classpath(),
            main_class,
        ]

    def _kafka_command(self) -> list[str]:
        return self._kafka_java("kafka.Kafka") + [str(self.layout.kafka_conf / "server.properties")]

    def _kafka_ready(self) -> bool:
        if not port_open(self.settings.kafka.host, self.settings.kafka.port):
            return False
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka.bootstrap, request_timeout_ms=3000)
        except (KafkaError, OSError):
            return False
        try:
            admin.list_topics()
            return True
        except (KafkaError, OSError):
            return False
        finally:
            admin.close()

    # ----------------------------------------------------------------- flink

    def spark_submit(self) -> tuple[Path, list[str]]:
        """The venv's spark-submit and the options that wire it to this stack (s3a jars, master, memory)."""
        jars = self.settings.stack.jars("spark")
        if not jars:
            raise StackError("the Spark s3a jars are missing; run: python3 deploy/local/stack.py install")
        spark = self.settings.spark
        loopback = ["--conf", "spark.driver.bindAddress=127.0.0.1", "--conf", "spark.driver.host=127.0.0.1"]
        logging = [
            "--driver-java-options",
            f"-Dlog4j2.configurationFile={REPO_ROOT / 'configs' / 'spark-log4j2.properties'}",
        ]
        options = [
            "--master",
            spark.master,
            "--driver-memory",
            spark.driver_memory,
            "--jars",
            ",".join(str(jar) for jar in jars),
            *loopback,
            *logging,
        ]
        return self.layout.venv_python.parent / "spark-submit", options

    def _flink_home(self) -> Path:
        import pyflink

        return Path(pyflink.__file__).resolve().parent

    def flink_bin(self) -> Path:
        return self._flink_home() / "bin"

    def flink_env(self) -> dict[str, str]:
        return {
            "FLINK_CONF_DIR": str(self.layout.flink_conf),
            "FLINK_LIB_DIR": str(self.layout.flink_lib),
            "FLINK_LOG_DIR": str(self.layout.logs / "flink"),
            "FLINK_PID_DIR": str(self.layout.run / "flink"),
            # The scripts find Java through JAVA_HOME or PATH; both are passed through.
        }

    def _flink_prepare(self) -> None:
        s, layout = self.settings.flink, self.layout
        shipped = self._flink_home() / "conf"
        layout.flink_conf.mkdir(parents=True, exist_ok=True)
        for item in shipped.iterdir():
            if item.name != "config.yaml":
                shutil.copy2(item, layout.flink_conf / item.name)
        java_opts = re.search(r"^\s+all:\s*(.+)$", (shipped / "config.yaml").read_text(), re.M)
        (layout.logs / "flink").mkdir(parents=True, exist_ok=True)
        (layout.run / "flink").mkdir(parents=True, exist_ok=True)
        (layout.flink_conf / "config.yaml").write_text(
            "# Written by deploy/local/stack.py from configs/local.toml; edits are overwritten.\n"
            f"env.java.opts.all: {java_opts.group(1) if java_opts else ''}\n"
            f"jobmanager.rpc.address: {s.host}\n"
            f"jobmanager.rpc.port: {s.rpc_port}\n"
            f"jobmanager.bind-host: {s.host}\n"
            f"jobmanager.memory.process.size: {s.jobmanager_memory}\n"
            "jobmanager.execution.failover-strategy: region\n"
            f"taskmanager.bind-host: {s.host}\n"
            f"taskmanager.host: {s.host}\n"
            f"taskmanager.numberOfTaskSlots: {s.taskmanager_slots}\n"
            f"taskmanager.memory.process.size: {s.taskmanager_memory}\n"
            # Every PyFlink job loads the Kafka connector and Beam classes anew; the default 256 MiB
            # of metaspace ran out after a handful of submissions to one TaskManager.
            "taskmanager.memory.jvm-metaspace.size: 768m\n"
            "jobmanager.memory.jvm-metaspace.size: 512m\n"
            f"parallelism.default: {s.parallelism}\n"
            f"rest.address: {s.host}\n"
            f"rest.bind-address: {s.host}\n"
            f"rest.port: {s.rest_port}\n"
            # The web UI's flame graphs (sampled only while someone looks): where a busy operator's time goes.
            "rest.flamegraph.enabled: true\n"
            "blob.server.port: 0\n"
            # Keyed state is an hour of minute counts and ten minutes of window slices: on the heap
            # (hashmap) it is several times faster than in RocksDB; the streaming job sets it too.
            f"state.backend.type: {self.settings.streaming.state_backend}\n"
            # Managed memory is only used by the Python workers (RocksDB is not used): keep the rest
            # for the heap that holds the state.
            f"taskmanager.memory.managed.size: {s.taskmanager_managed_memory}\n"
            # A cancelled task busy firing millions of window timers may take minutes to stop; by
            # default Flink then kills the whole TaskManager after 3 minutes.
            "task.cancellation.timeout: 900000\n"
            f"state.checkpoints.dir: {self.settings.checkpoint_dir}\n"
            f"state.savepoints.dir: {self.settings.savepoint_dir}\n"
            # Python workers and `flink run -py` use the project's interpreter.
            f"python.executable: {layout.venv_python}\n"
            f"python.client.executable: {layout.venv_python}\n"
        )

    def _flink_taskmanager_ready(self) -> bool:
        import json

        try:
            with urllib.request.urlopen(f"{self.settings.flink.rest_url}/overview", timeout=2) as response:
                overview = json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return False
        return overview.get("taskmanagers", 0) >= 1

    # ----------------------------------------------------------------- processes

    def pid_of(self, service: Service) -> int | None:
        """The process id of a running service we started, or None."""
        pid_file = self.layout.pid_file(service.name)
        try:
            pid = int(pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if (service.marker or str(self.layout.home)) in cmdline else None

    def check_ports(self, service: Service) -> None:
        for host, port, variable in service.ports:
            if port_open(host, port):
                raise StackError(
                    f"port {port} on {host}, which {service.title} needs, is taken by another process "
                    f"(see: ss -ltnp 'sport = :{port}'). Stop that process, or move {service.title} "
                    f"with {variable}=<free port>."
                )

    def start_service(self, service: Service) -> bool:
        """Start one service and wait until it answers; False if it was already running."""
        if self.pid_of(service):
            if not service.ready():
                self.wait_ready(service, self.pid_of(service))
            return False
        self.check_ports(service)
        service.prepare()
        log = self.layout.logs / f"{service.name}.log"
        self.layout.run.mkdir(parents=True, exist_ok=True)
        with log.open("a") as output:
            output.write(f"\n===== started by deploy/local/stack.py at {time.ctime()} =====\n")
            output.flush()
            process = subprocess.Popen(
                service.command(),
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(os.environ, **service.env()),
                start_new_session=True,  # survives this script; stopped by its pid
            )
        self.layout.pid_file(service.name).write_text(str(process.pid))
        self.wait_ready(service, process.pid)
        return True

    def wait_ready(self, service: Service, pid: int | None) -> None:
        started = time.monotonic()
        next_note = started + HEARTBEAT_SECONDS
        log = self.layout.logs / f"{service.name}.log"
        while not service.ready():
            now = time.monotonic()
            if pid is None or not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                raise StackError(
                    f"{service.title} exited while starting. Last lines of {log}:\n{log_tail(log)}"
                )
            if now - started > service.ready_timeout:
                raise StackError(
                    f"{service.title} did not answer within {service.ready_timeout:.0f} s. "
                    f"Last lines of {log}:\n{log_tail(log)}"
                )
            if now > next_note:
                say(f"  ... waiting for {service.title}: {now - started:.0f} s")
                next_note = now + HEARTBEAT_SECONDS
            time.sleep(0.5)
        say(f"{service.title} is up at {service.address} ({time.monotonic() - started:.1f} s)")

    def stop_service(self, service: Service, timeout: float = 60) -> None:
        pid = self.pid_of(service)
        pid_file = self.layout.pid_file(service.name)
        if pid is None:
            pid_file.unlink(missing_ok=True)
            return
        say(f"Stopping {service.title} (pid {pid})")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            if time.monotonic() > deadline:
                say(f"  {service.title} ignored SIGTERM for {timeout:.0f} s; sending SIGKILL to pid {pid}")
                os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        pid_file.unlink(missing_ok=True)

    # ----------------------------------------------------------------- provisioning

    def provision(self) -> None:
        """Create the pipeline's topics and bucket; existing ones are left as they are."""
        from kafka import KafkaAdminClient
        from kafka.admin import NewTopic

        from core.contracts import pipeline_topics

        kafka = self.settings.kafka
        admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap, request_timeout_ms=10000)
        try:
            missing = [t for t in pipeline_topics(kafka) if t not in set(admin.list_topics())]
            if missing:
                admin.create_topics(
                    [NewTopic(t, num_partitions=kafka.partitions, replication_factor=1) for t in missing],
                    timeout_ms=30000,
                )
                say(f"Created Kafka topics: {', '.join(missing)}")
        finally:
            admin.close()

        from botocore.exceptions import ClientError

        from core.clients import s3_client

        s3 = self.settings.s3
        client = s3_client(self.settings)
        try:
            client.head_bucket(Bucket=s3.bucket)
        except ClientError:
            client.create_bucket(Bucket=s3.bucket)
            say(f"Created S3 bucket {s3.bucket}")

    # ----------------------------------------------------------------- commands

    def start(self) -> None:
        self.install()
        started: list[Service] = []
        try:
            for service in self.services:
                if self.start_service(service):
                    started.append(service)
                else:
                    say(f"{service.title} was already running (pid {self.pid_of(service)})")
            self.provision()
        except BaseException:
            if started:
                say("Start failed; stopping what this start had started, so nothing is left half-up.")
                for service in reversed(started):
                    self.stop_service(service, timeout=20)
            raise

    def stop(self, names: list[str] | None = None) -> None:
        """Stop every service, or only those ``names`` (a fault drill: `start` brings them back)."""
        known = [service.name for service in self.services]
        unknown = sorted(set(names or []) - set(known))
        if unknown:
            raise StackError(f"no service named {', '.join(unknown)}; the services are {', '.join(known)}")
        for service in reversed(self.services):
            if not names or service.name in names:
                self.stop_service(service)
        say("Stack stopped." if not names else f"Stopped {', '.join(names)}; `start` starts what is down.")

    def status(self) -> bool:
        """Print one line per service; True when all run."""
        all_up = True
        for service in self.services:
            pid = self.pid_of(service)
            if pid and service.ready():
                rss = process_rss_mib(pid)
                memory = f"{rss:7.0f} MiB" if rss is not None else "      ?"
                print(f"  {service.title:<18} up    pid {pid:<7} {memory}  {service.address}")
            else:
                state = "starting" if pid else "down"
                print(f"  {service.title:<18} {state:<5} {'':<11} {'':>11}  {service.address}")
                all_up = False
        return all_up


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# --------------------------------------------------------------------------- venv


def ensure_venv(layout: Layout) -> None:
    """Create the project's virtual environment and install the project into it, once."""
    version = sys.version_info[:2]
    if not PYTHON_RANGE[0] <= version <= PYTHON_RANGE[1]:
        raise StackError(
            f"Python {version[0]}.{version[1]} runs this script; the project needs Python 3.11 "
            "(its code uses 3.11, apache-flink 1.20 supports up to 3.11). Run it with python3.11."
        )
    spec = file_digest(REPO_ROOT / "pyproject.toml")
    if layout.venv_python.exists() and stamp_matches(layout, "venv", spec):
        return
    if not layout.venv_python.exists():
        run_logged(
            [sys.executable, "-m", "venv", str(layout.venv)],
            layout.logs / "install-venv.log",
            "Creating the virtual environment",
            "Debian needs python3-venv for this.",
        )
    run_logged(
        [str(layout.venv_python), "-m", "pip", "install", "--progress-bar", "off", "-e", f"{REPO_ROOT}[dev]"],
        layout.logs / "install-python.log",
        "Installing the Python packages (PyFlink, PySpark, clients; about 3 minutes the first time)",
        "Check that PyPI is reachable from this machine, then run the command again.",
    )
    write_stamp(layout, "venv", spec)


def in_venv(layout: Layout) -> bool:
    return Path(sys.prefix).resolve() == layout.venv.resolve()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Install, start, check and stop the local stack (Redis, MinIO, Kafka, Flink).",
        epilog="All files live under the stack home (configs/local.toml [stack] home, default .stack/).",
    )
    parser.add_argument(
        "command",
        choices=[
            "install",
            "install-test-tools",
            "start",
            "status",
            "stop",
            "restart",
            "flink",
            "spark-submit",
        ],
        help="install: fetch and build only; install-test-tools: Chromium, wrk and Airflow for the tests; "
        "start: install what is missing and start everything; "
        "status: show what runs (exit 1 if anything is down); stop [SERVICE ...]: stop every service (or the "
        "ones named, such as redis or minio) by its pid; "
        "restart: stop then start; flink: run the `flink` CLI against the local cluster "
        "(for example: flink run -py streaming/job.py); spark-submit: the venv's spark-submit with the "
        "s3a jars, the configured master and driver memory (later options win)",
    )
    parser.add_argument(
        "rest", nargs=argparse.REMAINDER, help="arguments for the flink or spark CLI; service names for stop"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        layout = Layout(settings.stack.home_path)
        if args.command not in ("stop", "status") and write_local_credentials(layout.home):
            say(f"Generated the local S3 server's key pair in {layout.home / LOCAL_CREDENTIALS_FILE}")
            settings = load_settings()
        if args.command != "stop" and not in_venv(layout):
            ensure_venv(layout)
            os.execv(str(layout.venv_python), [str(layout.venv_python), __file__, *sys.argv[1:]])
        stack = Stack(settings)
        if args.command == "install":
            stack.install()
            say("Everything is installed.")
        elif args.command == "install-test-tools":
            stack.install_test_tools()
            say("The test tools are installed.")
        elif args.command == "start":
            began = time.monotonic()
            stack.start()
            say(f"Stack is up in {time.monotonic() - began:.0f} s:")
            stack.status()
        elif args.command == "restart":
            stack.stop()
            stack.start()
            stack.status()
        elif args.command == "stop":
            stack.stop(args.rest)
        elif args.command == "status":
            return 0 if stack.status() else 1
        elif args.command == "flink":
            flink = stack.flink_bin() / "flink"
            os.execve(str(flink), [str(flink), *args.rest], dict(os.environ, **stack.flink_env()))
        elif args.command == "spark-submit":
            submit, defaults = stack.spark_submit()
            env = dict(
                os.environ,
                PYTHONPATH=str(REPO_ROOT),
                PYSPARK_PYTHON=str(layout.venv_python),
                SPARK_LOCAL_IP="127.0.0.1",
            )
            os.execve(str(submit), [str(submit), *defaults, *args.rest], env)
    except (StackError, ConfigError) as error:
        say(f"ERROR: {error}")
        return 1
    except KeyboardInterrupt:
        say("Interrupted.")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
