"""Gather a key's rows in Flink state, publish them when event time passes: both jobs' publishers.

A subclass (streaming/pageviews/publish.py, streaming/edits/operators.py) is
keyed by a minute or an hour and writes one idempotent document per key: the
same key always gives the same document, so at-least-once delivery after a
restart is exactly-once in effect, and a restart from a checkpoint neither
loses nor half-publishes one.

A publication that fails because its service is unreachable keeps its rows in
state and is retried by a processing-time timer. The operator never sleeps
waiting for a service: checkpoints keep completing through an outage of any
length (a blocked operator holds every checkpoint until it expires and fails
the job). Each subtask makes one attempt per pause, however many keys are
pending, with growing pauses; once an attempt succeeds, everything pending
is published, oldest key first (a publisher's output downstream stays in
event-time order through an outage).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pyflink.common import Row
from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ListStateDescriptor

from core.config import Settings

log = logging.getLogger("streaming.gather")

# State holds plain Python tuples (pickled): the rows' shape is defined here, not twice.
PICKLED = Types.PICKLED_BYTE_ARRAY()
# Pauses between attempts to publish while a service is unreachable: 1, 2, 4, 8, then every 15 s,
# so a returning service is used within 15 s and a long outage costs four attempts a minute.
RETRY_FIRST_SECONDS = 1
RETRY_MAX_SECONDS = 15
# While a publication keeps failing, its warning is repeated every this many attempts (~5 min).
RETRY_LOG_EVERY = 20
# A key that fires while an earlier one is still unpublished waits this long and looks again.
IN_ORDER_WAIT_MS = 200


def retry_delay_seconds(failures: int) -> int:
    """The pause before the next attempt after ``failures`` failed ones in a row (``failures`` >= 1)."""
    return min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)


class GatherThenPublish(KeyedProcessFunction):
    """Keyed by a minute or an hour: keeps its rows in Flink state, publishes them when event time passes.

    All rows of a key carry the same row time, and upstream emits them before
    the watermark that passes it, so the event-time timer fires once every
    row is in. If the service is unreachable, the rows stay and a
    processing-time timer tries again (module docstring).
    """

    # What a subclass's publish raises when its service cannot be reached (retried, not fatal).
    unreachable: tuple[type[BaseException], ...] = ()
    service = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        self.rows = runtime_context.get_list_state(ListStateDescriptor("rows", PICKLED))
        self.retries = runtime_context.get_metrics_group().counter("publish_retries")
        # The subtask's view of its service, shared by every pending key (not state: a restarted
        # subtask simply tries again).
        self.failures = 0
        self.next_attempt_ms = 0
        # Keys whose timer fired and that are not published yet (after a restart, restored event-time
        # timers fire in key order anyway).
        self.pending: set[int] = set()
        self.connect(runtime_context)

    def process_element(self, value: Row, ctx: KeyedProcessFunction.Context):
        self.rows.add(self.row_of(value))
        ctx.timer_service().register_event_time_timer(ctx.timestamp())
        return iter(())

    def on_timer(self, timestamp: int, ctx: KeyedProcessFunction.OnTimerContext):
        timers = ctx.timer_service()
        key = ctx.get_current_key()
        self.pending.add(key)
        if timers.current_processing_time() < self.next_attempt_ms:
            # The service failed moments ago: wait for the subtask's next attempt.
            timers.register_processing_time_timer(self.next_attempt_ms)
            return iter(())
        if key != min(self.pending):
            # An earlier key is still waiting (its service just came back): keys go out in order, so
            # that what a publisher sends downstream stays in event-time order (traffic.py).
            timers.register_processing_time_timer(timers.current_processing_time() + IN_ORDER_WAIT_MS)
            return iter(())
        try:
            published = self.publish(key, list(self.rows.get() or []))
        except self.unreachable as error:
            self.failures += 1
            self.retries.inc()
            self.next_attempt_ms = (
                timers.current_processing_time() + retry_delay_seconds(self.failures) * 1000
            )
            if self.failures == 1 or self.failures % RETRY_LOG_EVERY == 0:
                log.warning(
                    "%s unreachable (%s): %s and what follows stay in state; attempt %d failed, "
                    "retrying every %d s at most",
                    self.service,
                    error,
                    self.describe(key),
                    self.failures,
                    RETRY_MAX_SECONDS,
                )
            timers.register_processing_time_timer(self.next_attempt_ms)
            return iter(())
        if self.failures:
            log.info(
                "%s is back after %d failed attempts: publishing what was held, from %s",
                self.service,
                self.failures,
                self.describe(key),
            )
            self.failures, self.next_attempt_ms = 0, 0
        self.rows.clear()
        self.pending.discard(key)
        return iter(published or ())

    def connect(self, runtime_context: RuntimeContext) -> None:
        raise NotImplementedError

    def row_of(self, value: Row):
        raise NotImplementedError

    def publish(self, key: int, rows: list) -> Iterable | None:
        """Write the key's document; raise one of ``unreachable`` if the service cannot be reached. What
        it returns, if anything, goes downstream once the write succeeded."""
        raise NotImplementedError

    def describe(self, key: int) -> str:
        raise NotImplementedError
