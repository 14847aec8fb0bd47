"""Start, stop and report the stack's services, and provision the pipeline's topics and bucket."""

from __future__ import annotations

import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor

from core.config import Settings
from stack_manager.layout import Layout, StackError, say
from stack_manager.pids import ManagedProcess, is_running, resident_mib
from stack_manager.services import Service, port_open, service_table
from stack_manager.steps import HEARTBEAT_SECONDS, log_tail


class Stack:
    """The services of one stack home, each a ManagedProcess under its name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout.of(settings)
        self.services = service_table(settings, self.layout)

    def process(self, service: Service) -> ManagedProcess:
        layout = self.layout
        marker = service.marker or str(layout.home)
        return ManagedProcess(layout.pid_file(service.name), layout.log(service.name), marker)

    # ----------------------------------------------------------------- one service

    def check_ports(self, service: Service) -> None:
        for host, port, variable in service.ports:
            if port_open(host, port):
                raise StackError(
                    f"port {port} on {host}, which {service.title} needs, is taken by another process "
                    f"(see: ss -ltnp 'sport = :{port}'). Stop that process, or move {service.title} "
                    f"with {variable}=<free port>."
                )

    def start_service(self, service: Service) -> bool:
        """Start one service and wait until it answers; False if it was already running."""
        process = self.process(service)
        if pid := process.pid():
            if service.wait and not service.ready():
                self.wait_ready(service, pid)
            service.provision()
            return False
        self.check_ports(service)
        service.prepare()
        pid = process.start(
            service.command(), env=dict(os.environ, **service.env()), started_by="deploy/local/stack.py"
        )
        if service.wait:
            try:
                self.wait_ready(service, pid)
                service.provision()
            except BaseException:
                self.stop([service.name])  # started here: not left running when its start fails
                raise
        else:
            time.sleep(1)
            if not is_running(pid):
                log = self.layout.log(service.name)
                raise StackError(
                    f"{service.title} exited while starting. Last lines of {log}:\n{log_tail(log)}"
                )
            say(f"{service.title} started (pid {pid}); it answers once the services after it run")
        return True

    def wait_ready(self, service: Service, pid: int) -> None:
        started = time.monotonic()
        next_note = started + HEARTBEAT_SECONDS
        log = self.layout.log(service.name)
        while not service.ready():
            now = time.monotonic()
            if not is_running(pid):
                raise StackError(
                    f"{service.title} exited while starting. Last lines of {log}:\n{log_tail(log)}"
                )
            if now - started > service.ready_timeout:
                raise StackError(
                    f"{service.title} did not answer within {service.ready_timeout:.0f} s. "
                    f"Last lines of {log}:\n{log_tail(log)}"
                )
            if now > next_note:
                say(f"  ... waiting for {service.title}: {now - started:.0f} s")
                next_note = now + HEARTBEAT_SECONDS
            time.sleep(0.5)
        say(f"{service.title} is up at {service.address} ({time.monotonic() - started:.1f} s)")

    def stop_service(self, service: Service, timeout_s: float = 60) -> None:
        process = self.process(service)
        if pid := process.pid():
            say(f"Stopping {service.title} (pid {pid})")
        process.stop(timeout_s)

    # ----------------------------------------------------------------- the whole stack

    def start(self) -> None:
        """Start every service that is down, then provision; on failure stop what this start started."""
        started: list[Service] = []
        try:
            for service in self.services:
                if self.start_service(service):
                    started.append(service)
                else:
                    say(f"{service.title} was already running (pid {self.process(service).pid()})")
            provision(self.settings)
        except BaseException:
            if started:
                say("Start failed; stopping what this start had started, so nothing is left half-up.")
                self.stop([service.name for service in started])
            raise

    def stop(self, names: list[str] | None = None) -> None:
        """Stop every service, or only those ``names`` (a fault drill: `start` brings them back)."""
        known = [service.name for service in self.services]
        unknown = sorted(set(names or []) - set(known))
        if unknown:
            raise StackError(f"no service named {', '.join(unknown)}; the services are {', '.join(known)}")
        chosen = [service for service in reversed(self.services) if not names or service.name in names]
        for _, together in itertools.groupby(chosen, key=lambda service: service.group or service.name):
            with ThreadPoolExecutor() as stopping:
                list(stopping.map(self.stop_service, together))
        say("Stack stopped." if not names else f"Stopped {', '.join(names)}; `start` starts what is down.")

    def status(self) -> bool:
        """Print one line per service; True when all run."""
        all_up = True
        for service in self.services:
            pid = self.process(service).pid()
            if pid and service.ready():
                rss = resident_mib(pid)
                memory = f"{rss:7.0f} MiB" if rss is not None else "      ?"
                print(f"  {service.title:<22} up    pid {pid:<7} {memory}  {service.address}")
            else:
                state = "starting" if pid else "down"
                print(f"  {service.title:<22} {state:<5} {'':<11} {'':>11}  {service.address}")
                all_up = False
        return all_up


def provision(settings: Settings) -> None:
    """Create the pipeline's topics (the bucket was made once S3 answered); existing ones are left."""
    from kafka import KafkaAdminClient

    from core.contracts import pipeline_topics
    from stores.clients import new_topic

    kafka = settings.kafka
    admin = KafkaAdminClient(
        bootstrap_servers=kafka.bootstrap, request_timeout_ms=10000, **kafka.python_security
    )
    try:
        missing = [t for t in pipeline_topics(kafka) if t not in set(admin.list_topics())]
        if missing:
            admin.create_topics([new_topic(kafka, topic) for topic in missing], timeout_ms=30000)
            say(f"Created Kafka topics: {', '.join(missing)}")
    finally:
        admin.close()
