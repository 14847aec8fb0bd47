"""The Airflow DAGs load in Airflow itself, with the tasks, schedules and dependencies cron also has.

Airflow lives in its own virtual environment (.stack/airflow-venv, from
deploy/airflow/constraints.txt; `stack.py install`), since its
pins clash with PyFlink's. The sensor's check runs there too, against the
real S3 server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from batch.storage import hour_start_ms
from core.clickstream import dump_file_name
from core.config import REPO_ROOT, Settings, load_settings, private_names
from core.contracts import (
    BOTS_DAG_ID,
    CLICKSTREAM_DAG_ID,
    CLICKSTREAM_DUMPS_PREFIX,
    DAILY_DAG_ID,
    HOURLY_DAG_ID,
    Keys,
    hourly_counts_key,
)
from core.hourly_counts import HourlyRow, hourly_counts_parquet
from core.snapshots import decode_anomalies
from producer.world import parse_time_ms
from tests.integration.test_batch import CATALOGUE, SPIKE, put_averages, world_averages

sys.path.insert(0, str(REPO_ROOT / "deploy" / "local"))
from stack_manager import airflow as local_airflow  # noqa: E402
from stack_manager.layout import Layout  # noqa: E402

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

DUMPS_SENSOR = """
import sys
sys.path.insert(0, "deploy/airflow")
from wikitrends_batch import clickstream_dumps, clickstream_dumps_present
dumps = clickstream_dumps()
print(clickstream_dumps_present(dumps, "2026-02"), clickstream_dumps_present(dumps, "2026-03"))
"""


def airflow_python(settings: Settings) -> str:
    python = local_airflow.airflow_bin(Layout.of(settings)) / "python"
    if not python.exists():
        pytest.fail(f"Airflow is not installed at {python}; run: python3 deploy/local/stack.py install")
    return str(python)


def run_in_airflow(settings: Settings, script: str, env: dict[str, str] | None = None) -> str:
    environment = local_airflow.environment(settings, settings.stack.home_path / "airflow-home", base=env)
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
    hourly, daily = found["dags"][HOURLY_DAG_ID], found["dags"][DAILY_DAG_ID]

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

    bots = found["dags"][BOTS_DAG_ID]
    assert bots["schedule"] == "40 * * * *" and bots["max_active_runs"] == 1 and not bots["catchup"]
    assert bots["tasks"]["train_bot_detector"]["rendered"]["bash_command"].rstrip().endswith("batch/bots.py")

    # The run of 1 March covers February: it waits for February's dumps, then ingests every wiki's.
    monthly = found["dags"][CLICKSTREAM_DAG_ID]
    assert monthly["schedule"] == "0 4 1 * *" and monthly["max_active_runs"] == 1
    assert monthly["tasks"]["wait_for_clickstream_dumps"]["downstream"] == ["ingest_clickstream_month"]
    assert monthly["tasks"]["wait_for_clickstream_dumps"]["mode"] == "reschedule"
    dumps = f"s3a://{settings.s3.bucket}/{CLICKSTREAM_DUMPS_PREFIX}"
    assert monthly["tasks"]["wait_for_clickstream_dumps"]["rendered"]["op_kwargs"] == {
        "dumps": dumps,
        "month": "2026-03",
    }
    assert monthly["tasks"]["ingest_clickstream_month"]["rendered"]["bash_command"].endswith(
        f"batch/clickstream.py --input '{dumps}/clickstream-*-2026-03.tsv.gz'"
    )
    for dag in (hourly, daily, monthly):
        assert all(task["retries"] == 3 for task in dag["tasks"].values())


def test_the_sensor_sees_an_hour_only_once_its_file_is_on_s3(settings: Settings, s3_client) -> None:
    env = {**os.environ, **private_names(f"dag{uuid.uuid4().hex[:6]}")}
    private = load_settings(env)
    key = hourly_counts_key(private.s3, parse_time_ms("2026-03-02T09:00:00Z"))
    body = hourly_counts_parquet([HourlyRow("en.wikipedia", "Albert_Einstein", 3)])
    s3_client.put_object(Bucket=private.s3.bucket, Key=key, Body=body)
    assert run_in_airflow(settings, SENSOR, env) == "True False"


def test_the_monthly_sensor_sees_a_month_once_a_wikis_dump_is_there(settings: Settings, s3_client) -> None:
    tag = f"dag{uuid.uuid4().hex[:6]}"
    dumps = f"runs/{tag}/dumps"
    env = {**os.environ, "WIKITRENDS_CLICKSTREAM_DUMPS": f"s3a://{settings.s3.bucket}/{dumps}"}
    for name in (dump_file_name("dewiki", "2026-02"), "clickstream-enwiki-2026-03.tsv.gz.partial"):
        s3_client.put_object(Bucket=settings.s3.bucket, Key=f"{dumps}/{name}", Body=b"")
    # February has dewiki's dump; March only a copy still under way, which does not count.
    assert run_in_airflow(settings, DUMPS_SENSOR, env) == "True False"


def test_the_scheduler_runs_the_hourly_dag_and_the_hour_is_published(
    settings: Settings, tmp_path: Path, s3_client, redis_client
) -> None:
    """A real scheduler, unpaused, runs the hour that just ended: the sensor finds its file on S3 and the
    task's spark-submit publishes the hour's anomalies to Redis."""
    tag = f"dag{uuid.uuid4().hex[:6]}"
    private = load_settings({**os.environ, **private_names(tag)})
    airflow_python(private)  # fails with what to do if Airflow is missing
    # A fresh metadata database; the DAG folder read every few seconds.
    env = {
        **local_airflow.environment(private, tmp_path / "airflow", base={**os.environ, **private_names(tag)}),
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
    }
    airflow_bin = local_airflow.airflow_bin(Layout.of(private))

    def airflow_cli(*args: str) -> str:
        return local_airflow.cli(private, env, *args)

    bucket = private.s3.bucket
    # The scheduler's first run covers the last complete hour, or the one before if it starts just as an
    # hour's run falls due: write every hour of yesterday and today, with a spike through both, and the
    # averages of the two days before them, as the backfill makes them (test_batch.py checks that).
    now = datetime.now(UTC)
    yesterday = now.date() - timedelta(days=1)
    spike_from = (now - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    averages, noise = world_averages((yesterday - timedelta(days=2)).isoformat(), days=2)
    put_averages(s3_client, private, averages, days=2, noise=noise)
    spike = f"{spike_from:%Y-%m-%dT%H:%M:%SZ},4h,5,{SPIKE}"
    counts = ["python", "-m", "producer", "history", *CATALOGUE, "--days", "2", "--format", "counts"]
    counts += ["--from", yesterday.isoformat(), "--out", f"s3://{bucket}/{private.s3.hourly_counts_prefix}"]
    subprocess.run(
        [*counts, "--spike", spike], cwd=REPO_ROOT, env=env, check=True, capture_output=True, timeout=300
    )

    airflow_cli("db", "migrate")
    log = (tmp_path / "scheduler.log").open("w")
    scheduler = subprocess.Popen(
        [str(airflow_bin / "airflow"), "scheduler"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while HOURLY_DAG_ID not in airflow_cli("dags", "list", "-o", "plain"):
            assert time.monotonic() < deadline, "the scheduler never parsed the DAGs"
            time.sleep(5)
        airflow_cli("dags", "unpause", HOURLY_DAG_ID)
        while True:
            listed = airflow_cli("dags", "list-runs", "-d", HOURLY_DAG_ID, "-o", "json")
            runs = json.loads(listed.strip().splitlines()[-1])  # the JSON comes after Airflow's log lines
            # (should the clock pass minute 5 meanwhile, the scheduler adds the next hour's run: wait for all)
            if runs and all(r["state"] in ("success", "failed") for r in runs):
                break
            assert time.monotonic() < deadline, f"no run finished in 10 minutes: {runs}"
            time.sleep(10)
    finally:
        os.killpg(scheduler.pid, signal.SIGTERM)  # the scheduler and the task processes it started
        scheduler.wait(timeout=60)
        log.close()
    # Runs made by the scheduler itself (not triggered), all succeeded; the first is the hour that had
    # just ended when the DAG was unpaused, and every run's hour is published with the spike.
    assert all(r["run_id"].startswith("scheduled__") and r["state"] == "success" for r in runs), (
        runs,
        (tmp_path / "scheduler.log").read_text()[-4000:],
    )
    # A scheduled run's logical date is the start of its interval: the hour it computes.
    hours = sorted(datetime.fromisoformat(r["execution_date"]).astimezone(UTC) for r in runs)
    assert hours[0] > now - timedelta(hours=2)  # the latest complete hour, not some older one
    for hour in hours:
        raw = redis_client.get(
            Keys(private.redis).anomalies_hour(hour_start_ms(f"{hour:%Y-%m-%d}", hour.hour))
        )
        assert raw is not None, f"nothing published for {hour:%Y-%m-%d %H}:00"
        assert [a.title for a in decode_anomalies(raw).articles] == [SPIKE]
