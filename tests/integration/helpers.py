"""Small helpers shared by the integration tests."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer

from core.config import REPO_ROOT, Settings
from stores.clients import kafka_security

STACK = REPO_ROOT / "deploy" / "local" / "stack.py"


def run_stack(*args: str) -> None:
    """deploy/local/stack.py with ``args`` (start, status, stop <service>, restart), which must succeed."""
    done = subprocess.run([sys.executable, str(STACK), *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"stack.py {' '.join(args)}: {done.stdout[-3000:]}{done.stderr[-3000:]}"


def consume_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60, idle_s: float = 0) -> list:
    """Read a topic from the start until ``expected`` records arrived or the time is up.

    With ``idle_s``, keep reading until nothing new came for that long, to catch extras.
    """
    consumer = KafkaConsumer(
        topic,
        **kafka_security(),
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        max_poll_records=10_000,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    records: list = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(records) < expected and time.monotonic() < deadline:
            records.extend(consumer)
        if idle_s:
            quiet_since = time.monotonic()
            while time.monotonic() - quiet_since < idle_s:
                batch = list(consumer)
                if batch:
                    records.extend(batch)
                    quiet_since = time.monotonic()
    finally:
        consumer.close()
    return records


def produce_values(bootstrap: str, topic: str, values: list[bytes], keys: list[bytes] | None = None) -> None:
    producer = KafkaProducer(**kafka_security(), bootstrap_servers=bootstrap, acks="all")
    for index, value in enumerate(values):
        producer.send(topic, key=keys[index] if keys else None, value=value)
    producer.flush()
    producer.close()


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (by parent pid in /proc: a JVM starts children from any thread)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents[int(stat.parent.name)] = int(fields[1])
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        pending += children
    return found


def kill_service(settings: Settings, name: str) -> None:
    """SIGKILL one service of the stack by its pid file, as a crashed machine would; what it started
    (a TaskManager's Python workers) is stopped too, as the machine's loss would."""
    pid = int((settings.stack.run_path / f"{name}.pid").read_text())
    children = descendants(pid)
    os.kill(pid, signal.SIGKILL)
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)


def kill_taskmanager(settings: Settings, name: str = "flink-taskmanager") -> None:
    """SIGKILL a Flink TaskManager, as a crashed machine would, and start it again."""
    kill_service(settings, name)
    run_stack("start")


def kernel_address(hex_address: str) -> str:
    """An address of /proc/net/tcp{,6} ("0100007F" is 127.0.0.1): 32-bit words in host byte order."""
    raw = bytes.fromhex(hex_address)
    in_order = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, in_order)


def listening_sockets(pids: list[int]) -> list[tuple[int, str, int]]:
    """(pid, address, port) of every TCP socket in LISTEN state that one of ``pids`` holds."""
    owner: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = str(fd.readlink())
                    if target.startswith("socket:["):
                        owner[target[len("socket:[") : -1]] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in owner:  # 0A: TCP_LISTEN
                address, port = local.split(":")
                found.append((owner[inode], kernel_address(address), int(port, 16)))
    return found


def project_pids(settings: Settings) -> list[int]:
    """The processes of the stack's services (their pid files) and everything they started."""
    pids = []
    for pid_file in settings.stack.run_path.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text().strip())
            if Path(f"/proc/{pid}").exists():
                pids += [pid, *descendants(pid)]
    return pids


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return ip.is_loopback or bool(getattr(ip, "ipv4_mapped", None) and ip.ipv4_mapped.is_loopback)


def listeners_beyond_loopback(settings: Settings, pids: list[int] | None = None) -> list[str]:
    """Listening sockets of the project's processes on any address but loopback, described.

    Fails outright when it finds no listener at all (the stack is up: Kafka, Flink and the rest
    listen), so that a broken reading of /proc cannot pass for a clean result.
    """
    sockets = listening_sockets(project_pids(settings) if pids is None else pids)
    assert sockets, "no listening socket found for the project's processes; is the stack up?"
    return [
        f"pid {pid} ({Path(f'/proc/{pid}/comm').read_text().strip()}) on {address}:{port}"
        for pid, address, port in sockets
        if not is_loopback(address)
    ]
