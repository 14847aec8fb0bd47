"""The settings' shape: one frozen dataclass per section of configs/local.toml (core/config.py loads them).

Standard library only, like core/config.py, so that deploy/local can read ports and paths before the
project's virtual environment exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.automated import AccessRule
from core.trending import TrendingRule

REPO_ROOT = Path(__file__).resolve().parent.parent
# The stack home's folder of pid files (deploy/local/stack_manager/layout.py names the others).
RUN_FOLDER = "run"
# What fetches every download the local stack needs (jars, MinIO, Redis): every "missing" message names it.
INSTALL_COMMAND = "python3 deploy/local/stack.py install"
# The jars deploy/maven/<part>/pom.xml fetches, by part, as the "missing" messages name them.
JAR_PARTS = {
    "kafka": "the Kafka broker's",
    "flink": "the Flink Kafka connector's",
    "spark": "Spark's s3a (hadoop-aws, aws-java-sdk-bundle)",
}
# The streaming job's own JVM operators (streaming/jvm), built by the install step beside the Flink jars.
STREAMING_OPERATORS_JAR = "wikitrends-streaming-operators.jar"
# Every service of the local stack, Spark's driver included, listens on this address only.
LOOPBACK = "127.0.0.1"


class ConfigError(ValueError):
    """A configuration value is missing or cannot be read as its type."""


@dataclass(frozen=True)
class StackSettings:
    home: str

    @property
    def home_path(self) -> Path:
        """Absolute folder of the local stack's downloads, data and logs."""
        path = Path(self.home)
        return path if path.is_absolute() else REPO_ROOT / path

    @property
    def run_path(self) -> Path:
        """The folder of the pid files of every process the stack and run.py started, and their records."""
        return self.home_path / RUN_FOLDER

    def jars(self, part: str) -> list[Path]:
        """The jars deploy/local fetched for one part: "kafka", "flink" or "spark"."""
        return sorted((self.home_path / "jars" / part).glob("*.jar"))

    def jar_uris(self, part: str) -> list[str]:
        """``required_jars(part)`` as file URIs, as Flink's ``pipeline.jars`` and ``add_jars`` take them."""
        return [jar.as_uri() for jar in self.required_jars(part)]

    def required_jars(self, part: str) -> list[Path]:
        """``jars(part)``, or a ConfigError saying which jars are missing and how to fetch them."""
        jars = self.jars(part)
        if not jars:
            raise ConfigError(
                f"{JAR_PARTS[part]} jars are missing from {self.home_path / 'jars' / part}; "
                f"run: {INSTALL_COMMAND}"
            )
        return jars


@dataclass(frozen=True)
class KafkaSettings:
    host: str
    port: int
    controller_port: int
    bootstrap_servers: str
    heap: str
    partitions: int
    pageviews_topic: str
    windows_topic_prefix: str
    dead_letter_topic: str
    edits_topic: str
    edit_alerts_topic: str
    edits_dead_letter_topic: str
    wikipedia_hours_topic: str
    retention_hours: int

    @property
    def bootstrap(self) -> str:
        """The brokers clients connect to: bootstrap_servers, else host:port."""
        return self.bootstrap_servers or f"{self.host}:{self.port}"


@dataclass(frozen=True)
class FlinkSettings:
    host: str
    rest_port: int
    rpc_port: int
    taskmanager_slots: int
    parallelism: int
    jobmanager_memory: str
    taskmanager_memory: str
    taskmanager_managed_memory: str
    checkpoint_dir: str

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"


@dataclass(frozen=True)
class StreamingSettings:
    group_id: str
    watermark_delay_seconds: int
    idle_timeout_seconds: int
    checkpoint_interval_seconds: int
    checkpoint_timeout_seconds: int
    state_backend: str
    trending_rule: str
    trending_min_volume: int
    trending_min_z: float
    trending_min_window_z: float
    trending_min_growth: float
    trending_min_hour_z: float
    trending_min_hour_growth: float
    trending_top: int
    automated_leave_out: bool
    automated_desktop_share_low: float
    automated_desktop_share_high: float
    automated_min_known_views: int
    trending_retention_minutes: int

    @property
    def rule(self) -> TrendingRule:
        """The trending rule and its thresholds (core/trending.py applies them)."""
        return TrendingRule(
            name=self.trending_rule,  # type: ignore[arg-type]
            min_volume=self.trending_min_volume,
            min_z=self.trending_min_z,
            min_window_z=self.trending_min_window_z,
            min_growth=self.trending_min_growth,
            min_hour_z=self.trending_min_hour_z,
            min_hour_growth=self.trending_min_hour_growth,
        )

    @property
    def access_rule(self) -> AccessRule:
        """Which trending articles are likely automated traffic (core/automated.py applies it)."""
        return AccessRule(
            leave_out=self.automated_leave_out,
            low=self.automated_desktop_share_low,
            high=self.automated_desktop_share_high,
            min_known_views=self.automated_min_known_views,
        )


@dataclass(frozen=True)
class EditsSettings:
    """The edit job's rules and the watch list it starts from (core/edit_rules.py applies them)."""

    group_id: str
    watermark_delay_seconds: int
    large_edit_bytes: int
    rapid_edit_count: int
    rapid_edit_seconds: int
    edit_war_reverts: int
    edit_war_users: int
    edit_war_minutes: int
    activity_minutes: int
    entity_history_hours: int
    alerts_kept: int
    traffic_spike_quiet_minutes: int
    watchlist_poll_seconds: float
    watchlist_token: str
    # entity -> its title variants ([edits.watchlist]; a dict, so not hashable, hence compare=False)
    watchlist: dict[str, tuple[str, ...]] = field(compare=False, hash=False)


@dataclass(frozen=True)
class BotSettings:
    """The bot detector (batch/bots.py) and how the edit job uses its lists ([bots])."""

    min_edits: int
    detection_threshold: float
    filter_false_positive_rate: float
    folds: int
    trees: int
    filter_poll_seconds: float


@dataclass(frozen=True)
class S3Settings:
    host: str
    port: int
    console_port: int
    endpoint: str
    region: str
    access_key: str
    secret_key: str
    bucket: str
    hourly_counts_prefix: str
    averages_prefix: str
    anomalies_prefix: str
    clickstream_prefix: str
    bots_prefix: str
    dumps_prefix: str

    @property
    def endpoint_url(self) -> str:
        """The S3 endpoint clients use: endpoint, else http://host:port."""
        return self.endpoint or f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class SparkSettings:
    master: str
    driver_memory: str

    @property
    def loopback_conf(self) -> dict[str, str]:
        """Options that keep a local Spark driver on loopback (a cluster's executors must reach it)."""
        return {"spark.driver.bindAddress": LOOPBACK, "spark.driver.host": LOOPBACK}


@dataclass(frozen=True)
class BatchSettings:
    anomaly_top: int
    anomaly_min_hourly_views: float
    anomaly_min_score: float
    anomaly_min_poisson_z: float


@dataclass(frozen=True)
class NavigationSettings:
    """Where readers come from: the clickstream summaries kept per article and their serving step."""

    top_referrers: int
    top_outgoing: int
    summary_buckets: int
    poll_seconds: float


@dataclass(frozen=True)
class RedisSettings:
    host: str
    port: int
    db: int
    key_prefix: str

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


@dataclass(frozen=True)
class WebSettings:
    host: str
    port: int
    max_limit: int
    refresh_seconds: int
    snapshot_cache_seconds: float


@dataclass(frozen=True)
class AirflowSettings:
    """Where the local Airflow's web UI listens (deploy/local starts it; elsewhere, your own Airflow)."""

    host: str
    port: int


@dataclass(frozen=True)
class ArticleSettings:
    """Which pages the trending and anomaly lists leave out (core/articles.py applies it)."""

    keep_all: bool
    excluded_titles: tuple[str, ...]
    excluded_namespaces: tuple[str, ...]


@dataclass(frozen=True)
class WikipediaSettings:
    """The source that follows Wikimedia's hourly pageview files (producer/wikipedia.py)."""

    base_url: str
    projects: tuple[str, ...]
    checksum_file: str
    since_hours: int
    history_days: int
    poll_seconds: float
    unverified_after_minutes: int
    retry_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    chunk_events: int
    transactional_id: str
    download_dir: str

    def download_path(self, stack: StackSettings) -> Path:
        """Where files are downloaded before they are verified and kept on S3."""
        path = Path(self.download_dir)
        return path if path.is_absolute() else stack.home_path / path


@dataclass(frozen=True)
class Settings:
    stack: StackSettings
    kafka: KafkaSettings
    flink: FlinkSettings
    streaming: StreamingSettings
    edits: EditsSettings
    bots: BotSettings
    s3: S3Settings
    spark: SparkSettings
    batch: BatchSettings
    navigation: NavigationSettings
    redis: RedisSettings
    web: WebSettings
    airflow: AirflowSettings
    articles: ArticleSettings
    wikipedia: WikipediaSettings

    @property
    def checkpoint_dir(self) -> str:
        """Flink's checkpoint folder (a URI): [flink] checkpoint_dir, or the local stack's data folder."""
        return self.flink.checkpoint_dir or (self.stack.home_path / "data" / "flink-checkpoints").as_uri()

    @property
    def savepoint_dir(self) -> str:
        """Where savepoints go: beside the checkpoints."""
        return self.checkpoint_dir.rstrip("/") + "-savepoints"


SECTION_TYPES: dict[str, type] = {
    "stack": StackSettings,
    "kafka": KafkaSettings,
    "flink": FlinkSettings,
    "streaming": StreamingSettings,
    "edits": EditsSettings,
    "bots": BotSettings,
    "s3": S3Settings,
    "spark": SparkSettings,
    "batch": BatchSettings,
    "navigation": NavigationSettings,
    "redis": RedisSettings,
    "web": WebSettings,
    "airflow": AirflowSettings,
    "articles": ArticleSettings,
    "wikipedia": WikipediaSettings,
}
