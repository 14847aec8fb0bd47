"""Airflow DAGs for the wikitrends batch jobs: hourly anomalies, the daily averages fold, the monthly
clickstream ingest and the hourly bot detector.

Each DAG waits for its input (a sensor on the streaming job's hourly counts on
S3, or on the month's clickstream dumps), then runs the job with spark-submit;
the bot detector reads the edits topic and needs no sensor. Runs of one DAG never overlap
(max_active_runs=1) and failed tasks retry.

Setup: put this folder in Airflow's dags_folder (or symlink the file), make
the repository importable by the workers (WIKITRENDS_HOME, default: two levels
up from this file), and point WIKITRENDS_SPARK_SUBMIT at a spark-submit for
your cluster (default: the local stack's deploy/local/spark-submit). The S3
endpoint and keys come from the project's configuration (configs/, WIKITRENDS_*).
The monthly DAG reads the dumps from WIKITRENDS_CLICKSTREAM_DUMPS (an s3a://
URL or a local folder; default s3a://<bucket>/clickstream-dumps), where
whatever copies Wikimedia's dumps puts them.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.sensors.python import PythonSensor

WIKITRENDS_HOME = Path(os.environ.get("WIKITRENDS_HOME", Path(__file__).resolve().parents[2]))
if str(WIKITRENDS_HOME) not in sys.path:
    sys.path.insert(0, str(WIKITRENDS_HOME))

from core.clickstream import dump_file_name  # noqa: E402
from core.contracts import (  # noqa: E402
    BOTS_DAG_ID,
    CLICKSTREAM_DAG_ID,
    CLICKSTREAM_DUMPS_PREFIX,
    DAILY_DAG_ID,
    HOURLY_DAG_ID,
)

SPARK_SUBMIT = os.environ.get(
    "WIKITRENDS_SPARK_SUBMIT", str(WIKITRENDS_HOME / "deploy" / "local" / "spark-submit")
)

DEFAULT_ARGS = {
    "owner": "wikitrends",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
}


def hourly_counts_present(day: str, hour: int) -> bool:
    """Sensor check: is the streaming job's file for ``hour`` of ``day`` on S3 yet?"""
    from botocore.exceptions import ClientError

    from core.config import load_settings
    from core.contracts import hourly_counts_day_key
    from stores.clients import s3_client

    settings = load_settings()
    key = hourly_counts_day_key(settings.s3, day, int(hour))
    try:
        s3_client(settings).head_object(Bucket=settings.s3.bucket, Key=key)
    except ClientError:
        return False
    return True


def clickstream_dumps() -> str:
    """Where the monthly clickstream dumps land: WIKITRENDS_CLICKSTREAM_DUMPS, else under the bucket."""
    if "WIKITRENDS_CLICKSTREAM_DUMPS" in os.environ:
        return os.environ["WIKITRENDS_CLICKSTREAM_DUMPS"].rstrip("/")
    from core.config import load_settings

    return f"s3a://{load_settings().s3.bucket}/{CLICKSTREAM_DUMPS_PREFIX}"


def month_dumps(dumps: str, month: str) -> str:
    """The glob naming every wiki's dump of ``month`` in ``dumps``."""
    return f"{dumps}/{dump_file_name('*', month)}"


def clickstream_dumps_present(dumps: str, month: str) -> bool:
    """Sensor check: is at least one wiki's clickstream dump of ``month`` (YYYY-MM) in ``dumps`` yet?"""
    from core.config import load_settings
    from producer.storage import expand

    try:
        return bool(expand([month_dumps(dumps, month)], load_settings()))
    except FileNotFoundError:  # a local folder without the month's files
        return False


def spark_job(script: str, arguments: str) -> str:
    """The shell command running one batch job from the repository."""
    return f"cd {WIKITRENDS_HOME} && {SPARK_SUBMIT} batch/{script} {arguments}"


# The run scheduled at 10:05 covers 09:05-10:05: it computes hour 09 of its day.
HOUR_DAY = "{{ data_interval_start.strftime('%Y-%m-%d') }}"
HOUR_OF_DAY = "{{ data_interval_start.hour }}"


def batch_dag(dag_id: str, schedule: str, description: str) -> DAG:
    """A wikitrends DAG: no backfilling of missed runs, never two runs at once, retries."""
    return DAG(
        dag_id=dag_id,
        description=description,
        schedule=schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["wikitrends"],
    )


with batch_dag(
    HOURLY_DAG_ID,
    "5 * * * *",
    "Canberra anomalies of the hour that just ended, to Redis and S3",
) as hourly:
    wait_for_hour = PythonSensor(
        task_id="wait_for_hourly_counts",
        python_callable=hourly_counts_present,
        op_kwargs={"day": HOUR_DAY, "hour": HOUR_OF_DAY},
        mode="reschedule",
        poke_interval=60,
        timeout=50 * 60,
    )
    compute_anomalies = BashOperator(
        task_id="compute_anomalies",
        bash_command=spark_job("anomalies.py", f"--date {HOUR_DAY} --hour {HOUR_OF_DAY}"),
        execution_timeout=timedelta(minutes=45),
    )
    wait_for_hour >> compute_anomalies


# The run scheduled at 00:30 covers the previous day: it folds that day ({{ ds }}).
with batch_dag(
    DAILY_DAG_ID, "30 0 * * *", "Fold the finished day into the averages (moving average)"
) as daily:
    wait_for_last_hour = PythonSensor(
        task_id="wait_for_last_hour_of_day",
        python_callable=hourly_counts_present,
        op_kwargs={"day": "{{ ds }}", "hour": 23},
        mode="reschedule",
        poke_interval=120,
        timeout=3 * 60 * 60,
    )
    fold_day = BashOperator(
        task_id="fold_day_into_averages",
        bash_command=spark_job("update_averages.py", "--date {{ ds }}"),
        execution_timeout=timedelta(hours=2),
    )
    wait_for_last_hour >> fold_day


# The run scheduled at 04:00 on the 1st covers the month before: it waits (up to two weeks; Wikimedia
# publishes in the first days) for that month's dumps, then ingests every wiki's.
DUMP_MONTH = "{{ data_interval_start.strftime('%Y-%m') }}"
DUMPS = clickstream_dumps()  # read once per parse of this file
with batch_dag(
    CLICKSTREAM_DAG_ID, "0 4 1 * *", "Ingest last month's clickstream dumps (where readers come from)"
) as monthly:
    wait_for_dumps = PythonSensor(
        task_id="wait_for_clickstream_dumps",
        python_callable=clickstream_dumps_present,
        op_kwargs={"dumps": DUMPS, "month": DUMP_MONTH},
        mode="reschedule",
        poke_interval=60 * 60,
        timeout=14 * 24 * 60 * 60,
    )
    ingest_month = BashOperator(
        task_id="ingest_clickstream_month",
        bash_command=spark_job("clickstream.py", f"--input '{month_dumps(DUMPS, DUMP_MONTH)}'"),
        execution_timeout=timedelta(hours=3),
    )
    wait_for_dumps >> ingest_month


# Every hour: the bot detector on everything the edits topic keeps, so a new bot is on the lists the edit
# job reads within the hour; where the topic keeps weeks of all wikis, daily ("40 1 * * *") is enough.
with batch_dag(
    BOTS_DAG_ID, "40 * * * *", "Train the bot classifier on the edits topic and publish the grown bot lists"
) as bot_detector:
    train_bot_detector = BashOperator(
        task_id="train_bot_detector",
        bash_command=spark_job("bots.py", ""),
        execution_timeout=timedelta(minutes=50),
    )
