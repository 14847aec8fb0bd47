"""Delivery of page requests to Kafka, graceful stop and progress lines, shared by every source."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from stores.clients import kafka_security

log = logging.getLogger("producer")


class BrokerUnreachable(RuntimeError):
    """No Kafka broker answered at the configured address."""


@dataclass
class DeliveryStats:
    accepted: int = 0  # handed to the client (send() returned)
    failed: int = 0  # the broker or the client reported an error for these
    first_error: str = ""


PARTITION_CACHE_LIMIT = 1_000_000


def require_a_broker(bootstrap: str, timeout_s: float = 5.0) -> None:
    """Fail fast with a clear message when no bootstrap address accepts a connection."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout_s):
                return
        except (OSError, ValueError):
            continue
    raise BrokerUnreachable(
        f"no Kafka broker answered at {bootstrap}; is the stack up? (python3 deploy/local/stack.py status)"
    )


class PageRequestSink:
    """A kafka-python producer tuned for many small messages, counting every outcome.

    Messages are keyed by title and partitioned exactly as kafka-python's (and
    Java's) default partitioner does, murmur2 of the key; the partition is
    cached per title because page traffic repeats its popular titles and the
    pure-Python hash is a fifth of the client's cost per message.
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client_id: str = "wikitrends-producer",
        transactional_id: str | None = None,
    ) -> None:
        self.topic = topic
        self.stats = DeliveryStats()
        require_a_broker(bootstrap)
        try:
            self._producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                client_id=client_id,
                acks="all",  # nothing counted as sent that a broker failure could lose
                linger_ms=20,
                batch_size=512 * 1024,
                max_block_ms=30_000,
                retries=10,
                transactional_id=transactional_id,
                **kafka_security(),
            )
            if transactional_id:
                # Fences an earlier producer with this id and ends its open transaction (aborted).
                self._producer.init_transactions()
        except KafkaError as error:
            raise BrokerUnreachable(
                f"no Kafka broker answered at {bootstrap} ({error.__class__.__name__}); "
                "is the stack up? (python3 deploy/local/stack.py status)"
            ) from None
        self._send = self._producer.send
        partitions = self._producer.partitions_for(topic)
        if not partitions:
            raise BrokerUnreachable(f"topic {topic!r} does not exist at {bootstrap}")
        self._partition_count = len(partitions)
        self._partitions: dict[bytes, int] = {}

    def partition(self, key: bytes) -> int:
        """The default partitioner's choice for ``key``: murmur2, positive, modulo the partitions."""
        partition = self._partitions.get(key)
        if partition is None:
            partition = (murmur2(key) & 0x7FFFFFFF) % self._partition_count
            if len(self._partitions) < PARTITION_CACHE_LIMIT:
                self._partitions[key] = partition
        return partition

    def _on_error(self, error: BaseException) -> None:
        self.stats.failed += 1
        if not self.stats.first_error:
            self.stats.first_error = repr(error)
            log.error("delivery failed: %r (further failures are counted, not logged)", error)

    def send(self, key: bytes, value: bytes) -> None:
        """Hand one message to the client; errors arrive later and are counted."""
        self._send(self.topic, key=key, value=value, partition=self.partition(key)).add_errback(
            self._on_error
        )
        self.stats.accepted += 1

    def send_many(self, keys: list[bytes], values: list[bytes]) -> None:
        send, topic, on_error, partition = self._send, self.topic, self._on_error, self.partition
        for key, value in zip(keys, values, strict=True):
            send(topic, key=key, value=value, partition=partition(key)).add_errback(on_error)
        self.stats.accepted += len(keys)

    def send_transaction(
        self, keys: list[bytes], values: list[bytes], records: list[tuple[str, bytes, bytes]]
    ) -> None:
        """Send page requests and other ``(topic, key, value)`` records in one Kafka transaction.

        Either all of them are committed or none is visible to readers with read_committed; a
        failure aborts and raises KafkaError. Needs a ``transactional_id``.
        """
        self._producer.begin_transaction()
        try:
            self.send_many(keys, values)
            for topic, key, value in records:
                self._send(topic, key=key, value=value)
            self._producer.commit_transaction()
        except KafkaError:
            self.stats.accepted -= len(keys)
            with contextlib.suppress(KafkaError):  # the original error says more than the abort's
                self._producer.abort_transaction()
            raise

    def close(self) -> DeliveryStats:
        """Deliver everything accepted so far, then close; returns the final counts."""
        self._producer.flush()
        self._producer.close()
        return self.stats


@dataclass
class StopFlag:
    """Set by SIGINT or SIGTERM: sources finish the message in hand, then flush and exit."""

    reason: str = ""
    _event: threading.Event = field(default_factory=threading.Event)

    def install(self) -> StopFlag:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        self.reason = signal.Signals(signum).name
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, reason: str) -> None:
        self.reason = reason
        self._event.set()

    def wait(self, seconds: float) -> bool:
        return self._event.wait(seconds)


class Progress:
    """Prints a line every few seconds: done, rate, and the time left when the total is known."""

    def __init__(
        self, what: str, total: int | None = None, every_s: float = 5.0, out: Callable[[str], None] = print
    ) -> None:
        self.what, self.total, self.every_s, self.out = what, total, every_s, out
        self.started = time.monotonic()
        self._next = self.started + every_s

    def update(self, done: int, detail: str = "", force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.every_s
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        line = f"{self.what}: {done:,} in {elapsed:,.0f} s ({rate:,.0f}/s)"
        if self.total:
            left = (self.total - done) / rate if rate > 0 else float("inf")
            line += f", {100 * done / self.total:.0f}% of {self.total:,}, about {left:,.0f} s left"
        self.out(line + (f"; {detail}" if detail else ""))
