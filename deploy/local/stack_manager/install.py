"""Installing what the stack runs: the virtual environment, Maven jars, flink-python on loopback, MinIO,
Airflow, and (stack_manager.debian) Debian's packages. Every step is skipped when its stamp says it is
current.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from core.settings import JAR_PARTS, STREAMING_OPERATORS_JAR
from stack_manager.debian import STACK_PACKAGES, TEST_TOOL_PACKAGES, install_debian_packages
from stack_manager.layout import REPO_ROOT, Layout, StackError
from stack_manager.steps import file_digest, require_tool, run_logged, stamp_matches, write_stamp

# Pinned so that every machine builds the same server. The MinIO project no
# longer tags Go module releases, so this is the pseudo-version of its
# last published commit on the Go module proxy.
MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
MIN_JAVA = 11


def required_python() -> str:
    """pyproject.toml's requires-python (``>=3.11,<3.12``): the one statement of the Python we need."""
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]


def python_allowed(version: tuple[int, ...], requirement: str) -> bool:
    """Whether ``version`` meets every clause of ``requirement`` (>=, >, <=, <, == on dotted numbers).

    The standard library has no version specifiers, and this runs before the virtual environment exists.
    """
    for clause in requirement.split(","):
        operator, number = re.fullmatch(r"\s*(>=|<=|==|>|<)\s*([\d.]+)\s*", clause).groups()
        bound = tuple(int(part) for part in number.split("."))
        mine = version[: len(bound)]
        met = {
            ">=": mine >= bound,
            ">": mine > bound,
            "<=": mine <= bound,
            "<": mine < bound,
            "==": mine == bound,
        }[operator]
        if not met:
            return False
    return True


def flink_home(layout: Layout | None = None) -> Path:
    """PyFlink's Flink distribution (bin/, conf/, lib/, opt/) inside the virtual environment.

    Outside it (the install runs before it re-enters the venv), given ``layout``, the venv's own
    interpreter says where.
    """
    if layout is not None and not in_venv(layout):
        where = subprocess.run(
            [str(layout.venv_python), "-c", "import pyflink; print(pyflink.__file__)"],
            capture_output=True,
            text=True,
            check=True,
        )
        return Path(where.stdout.strip()).resolve().parent
    import pyflink

    return Path(pyflink.__file__).resolve().parent


def ensure_venv(layout: Layout) -> None:
    """Create the project's virtual environment and install the project into it, once."""
    running, wanted = ".".join(str(part) for part in sys.version_info[:3]), required_python()
    if not python_allowed(tuple(sys.version_info[:3]), wanted):
        raise StackError(
            f"Python {running} runs this script; the project needs Python {wanted} (pyproject.toml: "
            "the code uses 3.11, apache-flink 1.20 supports up to 3.11). Run it with python3.11."
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


def install(layout: Layout, test_tools: bool = False) -> None:
    """Download and build everything the stack runs (and, with ``test_tools``, what only the tests
    need); skip what is already current."""
    java = java_major_version()
    if java < MIN_JAVA:
        raise StackError(
            f"Java {java} found; Kafka and Flink need Java {MIN_JAVA} or newer (17 recommended)."
        )
    # MinIO's build (Go, CPU, the longest step), Airflow's virtual environment (PyPI) and Debian's
    # packages need nothing else: they start first and run beside the project's virtual environment,
    # the downloads and the operators' build. One apt-get for everything Debian gives (it holds a
    # lock: two at once would fail).
    packages = {**STACK_PACKAGES, **(TEST_TOOL_PACKAGES if test_tools else {})}
    needing = "The stack" + (" and its tests" if test_tools else "")
    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="install") as background:
        beside = [
            background.submit(install_minio, layout),
            background.submit(install_airflow, layout),
            background.submit(install_debian_packages, layout, packages, needing),
        ]
        ensure_venv(layout)
        install_jars(layout)
        install_flink_plugins(layout)
        install_flink_lib(layout)
        install_streaming_operators(layout)
        for step in beside:
            step.result()


def install_jars(layout: Layout) -> None:
    """The Kafka broker, the Flink connectors and Spark's s3a jars, from deploy/maven/*/pom.xml."""
    mvn = None
    for part in JAR_PARTS:
        pom = REPO_ROOT / "deploy" / "maven" / part / "pom.xml"
        target = layout.jars / part
        digest = file_digest(pom)
        if stamp_matches(layout, f"jars-{part}", digest) and any(target.glob("*.jar")):
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
                f"-Dmaven.repo.local={layout.home / 'm2'}",
                f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={target}",
            ],
            layout.logs / f"install-jars-{part}.log",
            f"Fetching the {part} jars from Maven Central",
            "Check that Maven Central is reachable from this machine, then run the command again.",
        )
        write_stamp(layout, f"jars-{part}", digest)


def install_flink_plugins(layout: Layout) -> None:
    """Flink's plugins folder: the S3 file system (jars/flink-s3) in its own subfolder, as Flink loads it
    (its own class loader). Used when checkpoints or high-availability data are on S3."""
    folder = layout.flink_plugins / "s3-fs-presto"
    shutil.rmtree(layout.flink_plugins, ignore_errors=True)
    folder.mkdir(parents=True)
    for jar in sorted((layout.jars / "flink-s3").glob("*.jar")):
        (folder / jar.name).symlink_to(jar)


def install_flink_lib(layout: Layout) -> None:
    """Assemble the Flink cluster's lib folder: PyFlink's jars and a loopback-only flink-python.

    flink-python's Fn API servers (what a TaskManager opens for its Python workers) listen on every
    interface; deploy/flink/ServerFactory.java binds them to loopback. It is compiled against the
    shipped jar and replaces the shipped classes in a copy of it, which goes on the cluster's
    classpath, so that it is loaded before the copy `flink run -py` ships with each job.
    """
    home, lib = flink_home(layout), layout.flink_lib
    source = REPO_ROOT / "deploy" / "flink" / "ServerFactory.java"
    (flink_python,) = (home / "opt").glob("flink-python-*.jar")
    shipped = sorted((home / "lib").glob("*.jar"))
    digest = file_digest(source) + flink_python.name + ",".join(jar.name for jar in shipped)
    patched = lib / flink_python.name
    if stamp_matches(layout, "flink-lib", digest) and patched.exists():
        return
    shutil.rmtree(lib, ignore_errors=True)
    classes = compile_java(
        layout,
        "flink-python-loopback",
        [flink_python],
        [source],
        "flink-python's loopback-only Fn API server",
        "the source is deploy/flink/ServerFactory.java",
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
        write_classes(copy, classes)
    write_stamp(layout, "flink-lib", digest)


def install_streaming_operators(layout: Layout) -> None:
    """The streaming job's JVM operators (streaming/jvm, a Maven module) built into a jar.

    The jar goes beside the Flink connector jars, which the jobs ship (``Stack.jars("flink")``), so
    that the job's client finds the classes and the cluster runs them. Its tests run in ``make test``.
    """
    module = REPO_ROOT / "streaming" / "jvm"
    sources = sorted((module / "src" / "main").rglob("*.java"))
    digest = file_digest(module / "pom.xml") + "".join(file_digest(source) for source in sources)
    jar = layout.jars / "flink" / STREAMING_OPERATORS_JAR
    if stamp_matches(layout, "streaming-operators", digest) and jar.exists():
        return
    mvn = require_tool("mvn", "to build the streaming job's JVM operators", "Install Maven.")
    build = layout.home / "build" / "streaming-operators"
    shutil.rmtree(build, ignore_errors=True)
    run_logged(
        [
            *(mvn, "-B", "-q", "-f", str(module / "pom.xml"), f"-Dmaven.repo.local={layout.home / 'm2'}"),
            *(f"-Dwikitrends.build={build}", "-DskipTests", "package"),
        ],
        layout.logs / "install-streaming-operators.log",
        "Building the streaming job's JVM operators (streaming/jvm)",
        "See the log for Maven's message; the sources are in streaming/jvm/src/main/java/.",
    )
    jar.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(build / STREAMING_OPERATORS_JAR, jar)
    write_stamp(layout, "streaming-operators", digest)


def compile_java(
    layout: Layout,
    name: str,
    classpath: list[Path],
    sources: list[Path],
    what: str,
    where: str,
    release: str | None = None,
) -> Path:
    """Compile ``sources`` with javac into a fresh ``build/<name>`` folder and return that folder."""
    javac = require_tool("javac", f"to build {what}", "Install a JDK 17.")
    classes = layout.home / "build" / name
    shutil.rmtree(classes, ignore_errors=True)
    run_logged(
        [
            javac,
            "-nowarn",
            *(["--release", release] if release else []),
            "-cp",
            os.pathsep.join(map(str, classpath)),
            "-d",
            str(classes),
            *map(str, sources),
        ],
        layout.logs / f"install-{name}.log",
        f"Building {what}",
        f"See the log for the compiler's message; {where}.",
    )
    return classes


def write_classes(archive: zipfile.ZipFile, classes: Path) -> None:
    """Add every compiled class under ``classes`` to ``archive`` at its package path."""
    for compiled in sorted(classes.rglob("*.class")):
        archive.write(compiled, compiled.relative_to(classes).as_posix())


def install_minio(layout: Layout) -> None:
    """MinIO, built from its Go module (it publishes no binaries we may fetch here)."""
    binary = layout.bin / "minio"
    if binary.exists() and stamp_matches(layout, "minio", MINIO_MODULE):
        return
    go = require_tool("go", "to build the MinIO S3 server", "Install Go 1.24 or newer.")
    go_home = layout.home / "go"
    env = dict(
        os.environ,
        GOPATH=str(go_home),
        GOMODCACHE=str(go_home / "mod"),
        GOCACHE=str(go_home / "build-cache"),
        GOBIN=str(layout.bin),
        GOFLAGS="-buildvcs=false",
    )
    run_logged(
        [go, "install", "-trimpath", "-ldflags=-s -w", MINIO_MODULE],  # no symbol tables: a shorter link
        layout.logs / "install-minio.log",
        "Building MinIO from the Go module proxy (about 5 minutes on 2 cores)",
        "Check that the Go module proxy is reachable (go env GOPROXY), then run the command again.",
        env=env,
    )
    write_stamp(layout, "minio", MINIO_MODULE)


def install_airflow(layout: Layout) -> None:
    """Airflow in its own virtual environment (its pins clash with PyFlink's): it schedules the batch jobs."""
    constraints = REPO_ROOT / "deploy" / "airflow" / "constraints.txt"
    venv = layout.airflow_venv
    if stamp_matches(layout, "airflow", file_digest(constraints)) and (venv / "bin" / "airflow").exists():
        return
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    run_logged(
        [str(venv / "bin" / "pip"), "install", "-q", "-r", str(constraints)],
        layout.logs / "install-airflow.log",
        "Installing Airflow in its own virtual environment (about two minutes)",
        "Check that PyPI is reachable, then run the command again.",
    )
    write_stamp(layout, "airflow", file_digest(constraints))
