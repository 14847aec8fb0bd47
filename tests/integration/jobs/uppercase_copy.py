"""A minimal PyFlink job for the foundation test: copy one Kafka topic to another, upper-cased.

Submitted with `flink run -py` to the running cluster; it reads the source
topic from the earliest offset up to the offsets current at start, so it
finishes by itself.
"""

from __future__ import annotations

import argparse

from pyflink.table import EnvironmentSettings, TableEnvironment

from core.config import load_settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", required=True, help="topic to read")
    parser.add_argument("--sink", required=True, help="topic to write")
    args = parser.parse_args()

    settings = load_settings()
    jars = ";".join(settings.stack.jar_uris("flink"))
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", jars)
    env.get_config().set("pipeline.name", f"uppercase-copy {args.source} -> {args.sink}")
    env.execute_sql(f"""
        CREATE TABLE source (payload STRING) WITH (
            'connector' = 'kafka',
            'topic' = '{args.source}',
            'properties.bootstrap.servers' = '{settings.kafka.bootstrap}',
            'properties.group.id' = 'uppercase-copy',
            'scan.startup.mode' = 'earliest-offset',
            'scan.bounded.mode' = 'latest-offset',
            'format' = 'raw'
        )""")
    env.execute_sql(f"""
        CREATE TABLE sink (payload STRING) WITH (
            'connector' = 'kafka',
            'topic' = '{args.sink}',
            'properties.bootstrap.servers' = '{settings.kafka.bootstrap}',
            'format' = 'raw'
        )""")
    env.execute_sql("INSERT INTO sink SELECT UPPER(payload) FROM source").wait()


if __name__ == "__main__":
    main()
