"""Configuration: configs/local.toml, an optional override file, then the environment.

Precedence, lowest first:
  1. ``configs/local.toml`` in the repository (the defaults for one machine);
  2. the file named by ``WIKITRENDS_CONFIG`` (for example a copy of
     ``configs/production.example.toml``), keys it leaves out keep the defaults;
  3. environment variables ``WIKITRENDS_<SECTION>_<KEY>``, for example
     ``WIKITRENDS_KAFKA_BOOTSTRAP_SERVERS=broker:9092``.

The local S3 server's key pair is not in the repository: deploy/local
generates it on first install into ``<stack home>/credentials.toml``, which
fills the S3 keys that local.toml leaves empty when no WIKITRENDS_CONFIG file
is given (the environment still wins).

This module uses the standard library only, so that deploy/local can read the
same ports and paths before the project's virtual environment exists.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from core.trending import TrendingRule

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULTS_FILE = REPO_ROOT / "configs" / "local.toml"
ENV_PREFIX = "WIKITRENDS_"
LOCAL_CREDENTIALS_FILE = "credentials.toml"  # in the stack home; generated, never committed
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

    @property
    def checkpoint_dir(self) -> str:
        """Flink's checkpoint folder (a URI): [flink] checkpoint_dir, or the local stack's data folder."""
        return self.flink.checkpoint_dir or (self.stack.home_path / "data" / "flink-checkpoints").as_uri()

    @property
    def savepoint_dir(self) -> str:
        """Where savepoints go: beside the checkpoints."""
        return self.checkpoint_dir.rstrip("/") + "-savepoints"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from exc


def _frozen(value: Any) -> Any:
    """TOML arrays as tuples, also inside tables (the watch list's variants)."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return {key: _frozen(item) for key, item in value.items()}
    return value


def _coerce(raw: str, like: Any, name: str) -> Any:
    """Read an environment string as the type of the default it replaces (lists: comma-separated)."""
    if isinstance(like, dict):
        raise ConfigError(f"{name} is a table: set it in a configuration file (WIKITRENDS_CONFIG)")
    if isinstance(like, list | tuple):
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if isinstance(like, bool):
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name}={raw!r} is not a boolean (use true or false)")
    if isinstance(like, float):
        try:
            return float(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a number") from exc
    if isinstance(like, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a whole number") from exc
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the default file, WIKITRENDS_CONFIG and the environment."""
    environ = os.environ if environ is None else environ
    merged = _read_toml(DEFAULTS_FILE)
    override_file = environ.get(f"{ENV_PREFIX}CONFIG")
    if override_file:
        for section, values in _read_toml(Path(override_file)).items():
            merged.setdefault(section, {}).update(values)

    sections: dict[str, Any] = {}
    for section_field in fields(Settings):
        section_cls = _SECTION_TYPES[section_field.name]
        values = dict(merged.get(section_field.name, {}))
        for key_field in fields(section_cls):
            env_name = f"{ENV_PREFIX}{section_field.name}_{key_field.name}".upper()
            if key_field.name not in values:
                raise ConfigError(f"[{section_field.name}] {key_field.name} is missing from {DEFAULTS_FILE}")
            if env_name in environ:
                values[key_field.name] = _coerce(environ[env_name], values[key_field.name], env_name)
        unknown = set(values) - {f.name for f in fields(section_cls)}
        if unknown:
            raise ConfigError(f"unknown key(s) in [{section_field.name}]: {', '.join(sorted(unknown))}")
        # TOML arrays become tuples: settings are frozen and hashable.
        values = {key: _frozen(v) for key, v in values.items()}
        sections[section_field.name] = section_cls(**values)
    settings = Settings(**sections)
    try:
        settings.streaming.rule  # noqa: B018 - a bad rule name or threshold is a configuration error
    except ValueError as exc:
        raise ConfigError(f"[streaming] {exc}") from exc
    # Another deployment's file brings its own keys (or empty ones: an IAM role), not the local pair.
    return settings if override_file else _with_local_credentials(settings)


def _with_local_credentials(settings: Settings) -> Settings:
    """Fill the S3 keys that the files and the environment left empty with the local generated pair."""
    s3 = settings.s3
    if s3.access_key and s3.secret_key:
        return settings
    try:
        generated = tomllib.loads((settings.stack.home_path / LOCAL_CREDENTIALS_FILE).read_text()).get(
            "s3", {}
        )
    except (OSError, tomllib.TOMLDecodeError):
        return settings
    s3 = replace(
        s3,
        access_key=s3.access_key or generated.get("access_key", ""),
        secret_key=s3.secret_key or generated.get("secret_key", ""),
    )
    return replace(settings, s3=s3)


def write_local_credentials(home: Path) -> bool:
    """Generate the local S3 server's key pair into the stack home, once; True if written now."""
    path = home / LOCAL_CREDENTIALS_FILE
    if path.exists():
        return False
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(
        "# The local S3 server's key pair, generated by deploy/local on first install. Not in git.\n"
        "[s3]\n"
        f'access_key = "wikitrends-{secrets.token_hex(4)}"\n'
        f'secret_key = "{secrets.token_urlsafe(24)}"\n'
    )
    return True


_SECTION_TYPES: dict[str, type] = {
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
}


def private_names(tag: str) -> dict[str, str]:
    """Environment overrides that give one run its own topics, consumer group, Redis keys and S3 prefix.

    Tests and benchmarks use them to share the local stack without seeing each other's data.
    """
    return {
        "WIKITRENDS_KAFKA_PAGEVIEWS_TOPIC": f"{tag}-pageviews",
        "WIKITRENDS_KAFKA_WINDOWS_TOPIC_PREFIX": f"{tag}-windows-",
        "WIKITRENDS_KAFKA_DEAD_LETTER_TOPIC": f"{tag}-dead-letters",
        "WIKITRENDS_KAFKA_EDITS_TOPIC": f"{tag}-edits",
        "WIKITRENDS_KAFKA_EDIT_ALERTS_TOPIC": f"{tag}-edit-alerts",
        "WIKITRENDS_KAFKA_EDITS_DEAD_LETTER_TOPIC": f"{tag}-edits-dead-letters",
        "WIKITRENDS_STREAMING_GROUP_ID": tag,
        "WIKITRENDS_EDITS_GROUP_ID": f"{tag}-edits",
        "WIKITRENDS_REDIS_KEY_PREFIX": tag,
        "WIKITRENDS_S3_HOURLY_COUNTS_PREFIX": f"runs/{tag}/hourly-counts",
        "WIKITRENDS_S3_AVERAGES_PREFIX": f"runs/{tag}/averages",
        "WIKITRENDS_S3_ANOMALIES_PREFIX": f"runs/{tag}/anomalies",
        "WIKITRENDS_S3_CLICKSTREAM_PREFIX": f"runs/{tag}/clickstream",
        "WIKITRENDS_S3_BOTS_PREFIX": f"runs/{tag}/bots",
    }
