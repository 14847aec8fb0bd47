"""What the benchmarks measure alike: a command's wall time and the peak memory of its process tree."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.config import REPO_ROOT, Settings


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pending += [int(child) for child in children]
    return total / 2**20


def timed(
    command: list[str],
    env: dict[str, str],
    heartbeat: Callable[[float, float, list[str]], None] | None = None,
    heartbeat_seconds: float = 30.0,
) -> tuple[float, float, str]:
    """Run a command; returns wall seconds, peak RSS of its process tree (MiB) and its output.

    ``heartbeat(elapsed_s, resident_mib, output_so_far)`` is called every ``heartbeat_seconds`` so
    that a long command shows progress.
    """
    began = time.monotonic()
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    peak = 0.0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    next_beat = began + heartbeat_seconds
    while process.poll() is None:
        resident = tree_rss_mib(process.pid)
        peak = max(peak, resident)
        if heartbeat and time.monotonic() >= next_beat:
            heartbeat(time.monotonic() - began, resident, output)
            next_beat += heartbeat_seconds
        time.sleep(0.2)
    reader.join()
    text = "".join(output)
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{text[-4000:]}")
    return time.monotonic() - began, peak, text


def delete_prefix(settings: Settings, client, prefix: str) -> None:
    """Delete every object under ``prefix`` so repeated benchmarks do not fill the disk."""
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.s3.bucket, Prefix=prefix):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=settings.s3.bucket, Delete={"Objects": keys})
