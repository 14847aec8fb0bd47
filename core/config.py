"""Configuration: configs/local.toml, an optional override file, then the environment.

Precedence, lowest first:
  1. ``configs/local.toml`` in the repository (the defaults for one machine);
  2. the file named by ``WIKITRENDS_CONFIG`` (for example a copy of
     ``configs/production.example.toml``), keys it leaves out keep the defaults;
  3. environment variables ``WIKITRENDS_<SECTION>_<KEY>``, for example
     ``WIKITRENDS_KAFKA_BOOTSTRAP_SERVERS=broker:9092``.

The local S3 server's key pair (and in the cluster profile Kafka's and
Redis's users and the brokers' CA) is not in the repository: deploy/local
generates it on first install into ``<stack home>/credentials.toml``, which
fills the keys that the files leave empty for the local stack's profiles (the
environment still wins).

This module uses the standard library only, so that deploy/local can read the
same ports and paths before the project's virtual environment exists.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from core.settings import REPO_ROOT, SECTION_TYPES, ConfigError, Settings

DEFAULTS_FILE = REPO_ROOT / "configs" / "local.toml"
ENV_PREFIX = "WIKITRENDS_"
LOCAL_CREDENTIALS_FILE = "credentials.toml"  # in the stack home; generated, never committed


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
        section_cls = SECTION_TYPES[section_field.name]
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
        settings.streaming.access_rule  # noqa: B018
    except ValueError as exc:
        raise ConfigError(f"[streaming] {exc}") from exc
    # Another deployment's file brings its own keys (or empty ones: an IAM role), not the local pair;
    # a profile of the local stack (configs/cluster.toml) has its own generated pair.
    return settings if override_file and not settings.stack.profile else _with_local_credentials(settings)


def _with_local_credentials(settings: Settings) -> Settings:
    """Fill the keys that the files and the environment left empty (S3's key pair; in a secured profile
    Kafka's and Redis's users) from the stack's generated credentials.toml, whose tables mirror the
    configuration's sections."""
    try:
        generated = tomllib.loads((settings.stack.state_path / LOCAL_CREDENTIALS_FILE).read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return settings
    filled = {}
    for section_field in fields(Settings):
        section = getattr(settings, section_field.name)
        values = generated.get(section_field.name, {})
        known = {f.name for f in fields(section)}
        missing = {key: value for key, value in values.items() if key in known and not getattr(section, key)}
        if missing:
            filled[section_field.name] = replace(section, **missing)
    return replace(settings, **filled)


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
        "WIKITRENDS_S3_DUMPS_PREFIX": f"runs/{tag}/dumps",
        "WIKITRENDS_KAFKA_WIKIPEDIA_HOURS_TOPIC": f"{tag}-wikipedia-hours",
        "WIKITRENDS_WIKIPEDIA_TRANSACTIONAL_ID": f"{tag}-wikipedia",
    }
