"""Long install steps with progress lines, and stamps that let a second install skip what is current."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from stack_manager.layout import Layout, StackError, say

# How often a long step or a slow service prints that it is still at it.
HEARTBEAT_SECONDS = 15


def file_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def stamp_matches(layout: Layout, name: str, value: str) -> bool:
    """True when the step ``name`` was last done for ``value`` (a version or a digest of its inputs)."""
    stamp = layout.stamps / name
    return stamp.exists() and stamp.read_text() == value


def write_stamp(layout: Layout, name: str, value: str) -> None:
    layout.stamps.mkdir(parents=True, exist_ok=True)
    (layout.stamps / name).write_text(value)


def log_tail(path: Path, lines: int = 25) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join("    " + line for line in text[-lines:])


def require_tool(name: str, purpose: str, how: str) -> str:
    """The path of a command on PATH, or a StackError saying what it is for and how to install it."""
    path = shutil.which(name)
    if not path:
        raise StackError(f"`{name}` is not on PATH; it is needed {purpose}. {how}")
    return path


def run_logged(
    command: list[str],
    log: Path,
    what: str,
    hint: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> None:
    """Run a long install step, its output in ``log``, with a progress line every few seconds."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    say(f"{what} (log: {log})")
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        while True:
            try:
                code = process.wait(timeout=HEARTBEAT_SECONDS)
                break
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                size = log.stat().st_size
                say(f"  ... still {what[0].lower()}{what[1:]}: {elapsed:.0f} s, {size // 1024} KiB of log")
            except KeyboardInterrupt:
                process.terminate()
                process.wait()
                raise
    elapsed = time.monotonic() - started
    if code != 0:
        raise StackError(
            f"{what} failed (exit {code}) after {elapsed:.0f} s. Last lines of {log}:\n"
            f"{log_tail(log)}\n{hint}"
        )
    say(f"  done in {elapsed:.0f} s: {what[0].lower()}{what[1:]}")
