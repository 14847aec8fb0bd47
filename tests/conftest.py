"""Shared test settings: the same configuration the applications read."""

from __future__ import annotations

import pytest

from core.config import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()
