"""Where each thing lives under the stack home, and how the manager talks to its operator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.settings import RUN_FOLDER, Settings

REPO_ROOT = Path(__file__).resolve().parents[3]


class StackError(RuntimeError):
    """Something an operator must fix; the message says what and how."""


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


@dataclass(frozen=True)
class Layout:
    """Where each thing lives under the stack home (``[stack] home``, ``.stack/`` by default).

    Downloads and builds (venv, jars, binaries) are shared; data, logs, pids and written configuration
    are the profile's own (``state``: the home itself, or ``<home>/profiles/<profile>``).
    """

    home: Path
    state: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(settings.stack.home_path, settings.stack.state_path)

    @property
    def state_home(self) -> Path:
        return self.state or self.home

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def venv_python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def airflow_venv(self) -> Path:
        """Airflow's own virtual environment (its pins clash with PyFlink's)."""
        return self.home / "airflow-venv"

    @property
    def logs(self) -> Path:
        return self.state_home / "logs"

    @property
    def run(self) -> Path:
        return self.state_home / RUN_FOLDER

    @property
    def data(self) -> Path:
        return self.state_home / "data"

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
        return self.state_home / "flink-conf"

    @property
    def kafka_conf(self) -> Path:
        return self.state_home / "kafka-conf"

    @property
    def flink_plugins(self) -> Path:
        """Flink's plugins folder: the S3 file system (jars/flink-s3) in its own subfolder."""
        return self.home / "flink-plugins"

    @property
    def flink_lib(self) -> Path:
        """The cluster's classpath: PyFlink's lib jars and flink-python with its servers on loopback."""
        return self.home / "flink-lib"

    def pid_file(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"
