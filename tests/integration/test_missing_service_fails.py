"""An integration test whose service is absent fails with a reason; it never skips."""

from __future__ import annotations

import socket
import subprocess
import sys

from core.config import REPO_ROOT


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_test_fails_not_skips_when_its_service_is_down() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/integration/test_stack_services.py::test_redis_set_get",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "WIKITRENDS_REDIS_PORT": str(unused_port())},
    )
    assert result.returncode == 1, result.stdout
    assert "1 error" in result.stdout or "1 failed" in result.stdout
    assert "skipped" not in result.stdout
    assert "Redis is not answering" in result.stdout
