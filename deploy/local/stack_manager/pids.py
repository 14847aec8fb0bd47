"""Processes started in their own session and known by the pid in their file.

The stack's servers and run.py's producer, site, Airflow and batch set-up all outlive the
command that started them, so each is found again by its pid file; the pid
counts only while the process's command line still contains its marker, so a
recycled pid is never taken for ours, and stopping never signals a stranger.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and has not exited (a zombie waiting for its parent has)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def resident_mib(pid: int) -> float | None:
    """Resident memory of a process (the Flink and Kafka JVMs are one process each)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass(frozen=True)
class ManagedProcess:
    """One long-running process of ours: its pid file, its log and the marker of its command line."""

    pid_file: Path
    log: Path
    marker: str

    def pid(self) -> int | None:
        """The pid of our running process, or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if self.marker in cmdline.replace("\0", " ") and is_running(pid) else None

    def start(
        self,
        command: list[str],
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        started_by: str = "",
    ) -> int:
        """Start ``command`` in a new session (it survives the caller), its output appended to the log."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as output:
            if started_by:
                output.write(f"\n===== started by {started_by} at {time.ctime()} =====\n")
                output.flush()
            process = subprocess.Popen(
                command,
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        return process.pid

    def stop(self, timeout_s: float = 60, whole_session: bool = False) -> bool:
        """SIGTERM, then SIGKILL after ``timeout_s``; True if it was running.

        ``whole_session`` signals every process of its session too (what it started, such as a
        spark-submit), which it leads since ``start`` began one.
        """
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        send = os.killpg if whole_session else os.kill
        send(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while is_running(pid):
            if time.monotonic() > deadline:
                print(f"  pid {pid} ignored SIGTERM for {timeout_s:.0f} s; sending SIGKILL", flush=True)
                send(pid, signal.SIGKILL)
                break
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)
        return True
