"""The Airflow DAGs load in Airflow itself, with the tasks, schedules and dependencies cron also has.

Airflow lives in its own virtual environment (.stack/airflow-venv, from
deploy/airflow/constraints.txt; `stack.py install-test-tools`), since its
pins clash with PyFlink's. The sensor's check runs there too, against the
real S3 server.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import hourly_counts_key
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.synthetic import parse_time_ms

INSPECT = """
import json, sys
import pendulum
from airflow.models import DagBag
bag = DagBag(dag_folder="deploy/airflow", include_examples=False)
context = {"data_interval_start": pendulum.datetime(2026, 3, 2, 9, 5, tz="UTC"), "ds": "2026-03-01"}
dags = {}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for task in dag.tasks:
        rendered = {}
        for field in task.template_fields:
            value = getattr(task, field)
            if isinstance(value, (str, dict)):
                rendered[field] = task.render_template(value, context)
        tasks[task.task_id] = {"type": type(task).__name__, "downstream": sorted(task.downstream_task_ids),
                               "retries": task.retries, "rendered": rendered,
                               "mode": getattr(task, "mode", None)}
    dags[dag_id] = {"schedule": dag.schedule_interval, "max_active_runs": dag.max_active_runs,
                    "catchup": dag.catchup, "tasks": tasks}
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": dags}))
"""

SENSOR = """
import sys
sys.path.insert(0, "deploy/airflow")
from wikitrends_batch import hourly_counts_present
print(hourly_counts_present("2026-03-02", "9"), hourly_counts_present("2026-03-02", "10"))
"""


def airflow_python(settings: Settings) -> str:
    python = settings.stack.home_path / "airflow-venv" / "bin" / "python"
    if not python.exists():
        pytest.fail(
            f"Airflow is not installed at {python}; run: python3 deploy/local/stack.py install-test-tools"
        )
    return str(python)


def run_in_airflow(settings: Settings, script: str, env: dict[str, str] | None = None) -> str:
    environment = {
        **(env or os.environ),
        "AIRFLOW_HOME": str(settings.stack.home_path / "airflow-home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO_ROOT),
    }
    done = subprocess.run(
        [airflow_python(settings), "-c", script],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.strip().splitlines()[-1]


def test_dags_load_with_their_tasks_schedules_and_dependencies(settings: Settings) -> None:
    found = json.loads(run_in_airflow(settings, INSPECT))
    assert found["errors"] == {}
    hourly, daily = found["dags"]["wikitrends_hourly_anomalies"], found["dags"]["wikitrends_daily_averages"]

    assert hourly["schedule"] == "5 * * * *" and hourly["max_active_runs"] == 1 and not hourly["catchup"]
    assert hourly["tasks"]["wait_for_hourly_counts"]["downstream"] == ["compute_anomalies"]
    assert hourly["tasks"]["wait_for_hourly_counts"]["type"] == "PythonSensor"
    assert (
        hourly["tasks"]["wait_for_hourly_counts"]["mode"] == "reschedule"
    )  # no worker slot held while waiting
    # The run scheduled at 10:05 (data interval from 09:05) computes hour 9 of its day.
    assert hourly["tasks"]["wait_for_hourly_counts"]["rendered"]["op_kwargs"] == {
        "day": "2026-03-02",
        "hour": "9",
    }
    command = hourly["tasks"]["compute_anomalies"]["rendered"]["bash_command"]
    assert command.endswith("batch/anomalies.py --date 2026-03-02 --hour 9")

    assert daily["schedule"] == "30 0 * * *" and daily["max_active_runs"] == 1
    assert daily["tasks"]["wait_for_last_hour_of_day"]["downstream"] == ["fold_day_into_averages"]
    assert daily["tasks"]["wait_for_last_hour_of_day"]["rendered"]["op_kwargs"] == {
        "day": "2026-03-01",
        "hour": 23,
    }
    assert daily["tasks"]["fold_day_into_averages"]["rendered"]["bash_command"].endswith(
        "batch/update_averages.py --date 2026-03-01"
    )
    for dag in (hourly, daily):
        assert all(task["retries"] == 3 for task in dag["tasks"].values())


def test_the_sensor_sees_an_hour_only_once_its_file_is_on_s3(settings: Settings, s3_client) -> None:
    env = {**os.environ, **private_names(f"dag{uuid.uuid4().hex[:6]}")}
    private = load_settings(env)
    key = hourly_counts_key(private.s3, parse_time_ms("2026-03-02T09:00:00Z"))
    body = hourly_counts_parquet([HourlyRow("en.wikipedia", "Albert_Einstein", 3)])
    s3_client.put_object(Bucket=private.s3.bucket, Key=key, Body=body)
    assert run_in_airflow(settings, SENSOR, env) == "True False"
