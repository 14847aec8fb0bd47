#!/usr/bin/env python3
"""Bring the whole system up on this machine and print where to look.

Today: the local stack (Redis, MinIO, Kafka, Flink), installed if missing.
Each application joins here as it lands (streaming job, producer, web site).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from core.config import settings  # noqa: E402


def main() -> int:
    argparse.ArgumentParser(description=__doc__).parse_args()
    started = subprocess.run([sys.executable, str(HERE / "stack.py"), "start"])
    if started.returncode != 0:
        return started.returncode
    config = settings()
    print(
        "\nThe stack is up. Look at:\n"
        f"  Flink web UI      {config.flink.rest_url}\n"
        f"  MinIO console     http://{config.s3.host}:{config.s3.console_port}\n"
        "Stop it all with: make down"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
