"""Airflow on this machine: the environment its commands run in, and a scheduler and web server on loopback.

Airflow lives in its own virtual environment (<stack home>/airflow-venv, from
deploy/airflow/constraints.txt), since its pins clash with PyFlink's. `make run`
starts ``serve``: the metadata database migrated, an admin account, the
scheduler and the web UI, each a child of one process that `make down` stops.
``airflow standalone`` is not used: its log servers listen on every interface.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from core.config import Settings
from stack_manager.layout import REPO_ROOT, Layout, StackError

ADMIN_USER = "admin"


def airflow_bin(layout: Layout) -> Path:
    """The folder of the ``airflow`` command."""
    return layout.airflow_venv / "bin"


def airflow_home(layout: Layout) -> Path:
    """AIRFLOW_HOME of the local Airflow: its SQLite database, logs and the admin password."""
    return layout.state_home / "airflow"


def admin_password_file(layout: Layout) -> Path:
    return airflow_home(layout) / "admin-password"


def environment(settings: Settings, home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Airflow command: our DAGs, no examples, the UI on loopback.

    The project's Python comes first on PATH (the tasks run the producer and spark-submit), then
    Airflow's (the executor runs ``airflow tasks run``); the DAG file imports the repository.
    """
    base = dict(os.environ if base is None else base)
    layout = Layout.of(settings)
    return {
        **base,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "deploy" / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": settings.airflow.host,
        "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(settings.airflow.port),
        "AIRFLOW__WEBSERVER__WORKERS": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "PATH": f"{layout.venv / 'bin'}:{airflow_bin(layout)}:{base.get('PATH', '/usr/bin:/bin')}",
    }


def cli(settings: Settings, env: dict[str, str], *args: str, timeout_s: float = 300) -> str:
    """One ``airflow`` command in ``env``; its stdout. StackError with its output if it fails."""
    airflow = str(airflow_bin(Layout.of(settings)) / "airflow")
    done = subprocess.run(
        [airflow, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
    )
    if done.returncode != 0:
        raise StackError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done.stdout


def ui_url(settings: Settings) -> str:
    return f"http://{settings.airflow.host}:{settings.airflow.port}"


def serve(settings: Settings) -> int:
    """Migrate the database, make sure the admin account exists, run the scheduler and the web UI.

    Returns when either stops (its exit code) or on SIGTERM (0), stopping the other.
    """
    layout = Layout.of(settings)
    home = airflow_home(layout)
    home.mkdir(parents=True, exist_ok=True)
    env = environment(settings, home)
    print("[airflow] migrating the metadata database …", flush=True)
    cli(settings, env, "db", "migrate", timeout_s=600)
    password_file = admin_password_file(layout)
    if not password_file.exists():
        password = secrets.token_urlsafe(12)
        cli(
            settings,
            env,
            "users",
            "create",
            "--username",
            ADMIN_USER,
            "--password",
            password,
            "--role",
            "Admin",
            "--firstname",
            "wikitrends",
            "--lastname",
            "operator",
            "--email",
            "admin@localhost",
        )
        password_file.write_text(password + "\n")
        password_file.chmod(0o600)
    airflow = str(airflow_bin(layout) / "airflow")
    # The scheduler's log server would listen on every interface; the UI reads the task logs from disk.
    commands = {
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "web server": [airflow, "webserver"],  # address and workers from ``environment``
    }
    children = {name: subprocess.Popen(command, cwd=REPO_ROOT, env=env) for name, command in commands.items()}
    print(f"[airflow] scheduler and web server started; the UI is at {ui_url(settings)}", flush=True)
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    exit_code = None
    while not stopping and exit_code is None:
        for name, child in children.items():
            if (exit_code := child.poll()) is not None:
                print(f"[airflow] the {name} stopped (exit code {exit_code}); stopping the rest", flush=True)
                break
        else:
            time.sleep(1)
    for child in children.values():
        if child.poll() is None:
            child.terminate()
    for child in children.values():
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()
    print("[airflow] stopped", flush=True)
    return exit_code or 0
