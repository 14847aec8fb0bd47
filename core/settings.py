"""The settings' shape: one frozen dataclass per section of configs/local.toml (core/config.py loads them).

Standard library only, like core/config.py, so that deploy/local can read ports and paths before the
project's virtual environment exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.automated import AccessRule
from core.service_settings import (  # noqa: F401 -- re-exported: the settings' shape is one import
    INSTALL_COMMAND,
    JAR_PARTS,
    LOOPBACK,
    REPO_ROOT,
    RUN_FOLDER,
    STREAMING_OPERATORS_JAR,
    AirflowSettings,
    ConfigError,
    FlinkSettings,
    KafkaSettings,
    RedisSettings,
    S3Settings,
    SparkSettings,
    StackSettings,
    WebSettings,
)
from core.trending import TrendingRule


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
        return path if path.is_absolute() else stack.state_path / path


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
        return self.flink.checkpoint_dir or (self.stack.state_path / "data" / "flink-checkpoints").as_uri()

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
