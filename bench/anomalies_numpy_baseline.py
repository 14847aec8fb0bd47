"""The single-process baseline for bench/anomalies_vs_numpy.py: the anomaly job in NumPy and pandas.

    python bench/anomalies_numpy_baseline.py DATE HOURS MIN_HOURLY_VIEWS TOP

Reads the same S3 objects as the Spark job (current averages, today's hourly
counts for hours 0..HOURS-1), aligns titles with a pandas index, computes the
Canberra distance and the volume rule over dense matrices, and prints the
eligible count and the top list as JSON. The bench data has one project and
no article without history, so titles alone are the key.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch.storage import read_pointer  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.contracts import hourly_counts_key  # noqa: E402
from producer.world import parse_time_ms  # noqa: E402
from stores.clients import s3_client  # noqa: E402


def main() -> None:
    day, hours, min_views, top = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    settings = load_settings()
    client = s3_client(settings)
    bucket = settings.s3.bucket

    def read(key: str, columns: list[str]) -> pa.Table:
        return pq.read_table(
            io.BytesIO(client.get_object(Bucket=bucket, Key=key)["Body"].read()), columns=columns
        )

    pointer = read_pointer(settings)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{settings.s3.averages_prefix}/{pointer.version}/")
    hour_columns = [f"h{h:02d}" for h in range(hours)]
    averages = pa.concat_tables(
        read(o["Key"], ["title", *hour_columns]) for o in listed["Contents"] if o["Key"].endswith(".parquet")
    )
    index = pd.Index(averages.column("title").to_pandas())
    history = np.column_stack([averages.column(c).to_numpy() for c in hour_columns])
    today = np.zeros_like(history)
    for h in range(hours):
        table = read(
            hourly_counts_key(settings.s3, parse_time_ms(f"{day}T{h:02d}:00:00Z")), ["title", "views"]
        )
        where = index.get_indexer(table.column("title").to_pandas())
        if (where < 0).any():
            raise SystemExit("the bench data must not have articles without history")
        today[where, h] = table.column("views").to_numpy()

    denominator = np.abs(today) + np.abs(history)
    terms = np.divide(np.abs(today - history), denominator, out=np.zeros_like(today), where=denominator > 0)
    distance = terms.sum(axis=1)
    eligible = np.flatnonzero(np.maximum(today.sum(axis=1), history.sum(axis=1)) >= min_views * hours)
    titles = np.asarray(index)[eligible]
    order = np.lexsort((titles, -distance[eligible]))[:top]
    ranked = [[str(titles[i]), float(distance[eligible[i]])] for i in order]
    print(json.dumps({"eligible": int(eligible.size), "top": ranked}))


if __name__ == "__main__":
    main()
