"""The input ceiling for bench/streaming_throughput.py: read the pageviews topic raw, into a blackhole."""

from __future__ import annotations

from pyflink.table import EnvironmentSettings, TableEnvironment

from core.config import load_settings


def main() -> None:
    settings = load_settings()
    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", ";".join(settings.stack.jar_uris("flink")))
    env.get_config().set("parallelism.default", str(settings.flink.parallelism))
    env.get_config().set("pipeline.name", "bench-read-only")
    # The job's source table name (the benchmark reads its metrics), raw records, nothing parsed.
    env.execute_sql(f"""
        CREATE TABLE pageviews_raw (payload STRING) WITH (
          'connector' = 'kafka', 'topic' = '{settings.kafka.pageviews_topic}',
          'properties.bootstrap.servers' = '{settings.kafka.bootstrap}',
          'properties.group.id' = 'bench-read-only', 'scan.startup.mode' = 'earliest-offset',
          'scan.bounded.mode' = 'latest-offset', 'format' = 'raw')""")
    env.execute_sql("CREATE TABLE sink (payload STRING) WITH ('connector' = 'blackhole')")
    env.execute_sql("INSERT INTO sink SELECT payload FROM pageviews_raw")


if __name__ == "__main__":
    main()
