"""The edit job's operators (streaming/edits/job.py lays them out): parsing, the keyed alert rules and
the Redis publisher. In a module of their own so that Flink ships them by reference, not by value.
"""

from __future__ import annotations

import json
import logging
import time

from pyflink.common.typeinfo import Types
from pyflink.datastream import KeyedProcessFunction, OutputTag, ProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from core.config import Settings
from core.edit_events import Edit, MalformedEditEvent, marked_bot, parse_recentchange
from core.edit_rules import AlertThresholds, ArticleEditWar, EntityAlerts
from core.events import DEAD_LETTER_PAYLOAD_CHARS
from core.windows import MINUTE_MS, iso_time
from stores.bot_lists import BotListsPoller
from stores.clients import redis_client, s3_client
from stores.edits import EditWriter, WatchListPoller
from streaming.gather import PICKLED, GatherThenPublish

log = logging.getLogger("streaming.edits")

DEAD_LETTERS = OutputTag("dead-letters", Types.STRING())
# The parse's branches: (Edit, entity) of edits to a watched entity, and of reverts (the edit-war rule).
WATCHED = OutputTag("watched", PICKLED)
REVERTS = OutputTag("reverts", PICKLED)
# Without new edits event time stands still (a quiet wiki, the end of a replay): a minute is then
# published this long after its first edit arrived, by the wall clock.
PUBLISH_AFTER_SECONDS = 60


def dead_letter(reason: str, payload: str) -> str:
    """The dead-letter record, as the page-request side writes it: reason, payload (cut), seen_at."""
    if len(payload) > DEAD_LETTER_PAYLOAD_CHARS:
        reason = f"{reason} (payload of {len(payload)} characters cut to {DEAD_LETTER_PAYLOAD_CHARS})"
        payload = payload[:DEAD_LETTER_PAYLOAD_CHARS]
    return json.dumps({"reason": reason, "payload": payload, "seen_at": int(time.time() * 1000)})


class ParseEdits(ProcessFunction):
    """Raw events -> ("edit", (Edit, watched entity or None)) for the publisher, and the same (Edit,
    entity) to WATCHED when the entity is watched and to REVERTS when the edit is a revert; malformed
    ones to the dead letters, other types (categorize, log) counted and dropped. Edits by accounts on
    the bot detector's lists (the newest on S3) are marked as bots', saying which list.

    Each output keeps its event's time and watermarks, assigned by the source
    (streaming/jvm's EditTimes): the branches are chosen here, not by filters that would each take
    every edit into Python again.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        group = runtime_context.get_metrics_group()
        self.parsed = group.counter("edits_parsed")
        self.malformed = group.counter("edits_malformed")
        self.other_types = group.counter("events_not_edits")
        self.watchlist = WatchListPoller(redis_client(self.settings, attempts=1), self.settings)
        self.bot_lists = BotListsPoller(s3_client(self.settings, attempts=1), self.settings)
        self.bots_marked = group.counter("edits_marked_bot_by_lists")

    def process_element(self, value: str, ctx: ProcessFunction.Context):
        try:
            edit = parse_recentchange(value)
        except MalformedEditEvent as error:
            self.malformed.inc()
            yield DEAD_LETTERS, dead_letter(str(error), value)
            return
        if edit is None:
            self.other_types.inc()
            return
        self.parsed.inc()
        lists = self.bot_lists.current()
        if lists is not None:
            marked = marked_bot(edit, lists.source_of(edit.user, flagged=edit.is_bot))
            if marked is not edit:
                self.bots_marked.inc()
            edit = marked
        row = (edit, self.watchlist.current().entity_of(edit.title))
        if row[1] is not None:
            yield WATCHED, row
        if edit.is_revert:
            yield REVERTS, row
        yield "edit", row


class KeyedRules(KeyedProcessFunction):
    """Runs one core.edit_rules rule object per key, kept in Flink state (so it survives restarts)."""

    def __init__(self, settings: Settings, ttl_hours: int) -> None:
        self.thresholds = AlertThresholds.of(settings.edits)
        self.ttl_hours = ttl_hours

    def open(self, runtime_context: RuntimeContext) -> None:
        from pyflink.common.time import Time

        descriptor = ValueStateDescriptor("rules", PICKLED)
        # A key quiet for this long has nothing left in its windows.
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(self.ttl_hours)).build())
        self.state = runtime_context.get_state(descriptor)
        self.alerts = runtime_context.get_metrics_group().counter("alerts")

    def new_rules(self):
        raise NotImplementedError

    def process_element(self, value: tuple[Edit, str | None], ctx: KeyedProcessFunction.Context):
        rules = self.state.value() or self.new_rules()
        edit, entity = value
        found = rules.add(edit, entity)
        self.state.update(rules)
        self.alerts.inc(len(found))
        yield from found


class EntityRules(KeyedRules):
    def new_rules(self) -> EntityAlerts:
        return EntityAlerts(self.thresholds)


class EditWarRules(KeyedRules):
    def new_rules(self) -> ArticleEditWar:
        return ArticleEditWar(self.thresholds)


class PublishEdits(GatherThenPublish):
    """Keyed by minute of event time: the minute's edits and alerts to Redis (stores/edits.py).

    Published when event time passes the minute, or PUBLISH_AFTER_SECONDS after its first row arrived
    when event time stands still; rows arriving later are published by the next timer.
    """

    service = "Redis"

    def connect(self, runtime_context: RuntimeContext) -> None:
        import redis

        self.unreachable = (redis.ConnectionError, redis.TimeoutError)
        self.writer = EditWriter(
            redis_client(self.settings, attempts=1), self.settings.redis, self.settings.edits
        )
        self.published = runtime_context.get_metrics_group().counter("edits_published")

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        self.rows.add(self.row_of(value))
        timers = ctx.timer_service()
        timers.register_event_time_timer(ctx.get_current_key() + MINUTE_MS - 1)
        timers.register_processing_time_timer(
            (timers.current_processing_time() // 1000 + PUBLISH_AFTER_SECONDS) * 1000
        )
        return iter(())

    def row_of(self, value):
        return value

    def publish(self, minute_ms: int, rows: list) -> None:
        if not rows:
            return
        edits = [row[1] for row in rows if row[0] == "edit"]
        alerts = [row[1] for row in rows if row[0] == "alert"]
        self.writer.write(edits, alerts)
        self.published.inc(len(edits))

    def describe(self, minute_ms: int) -> str:
        return f"the edits of minute {iso_time(minute_ms)}"


def minute_of(row: tuple) -> int:
    """The minute (epoch ms) of an ('edit', (Edit, entity)) or ('alert', EditAlert) row's event time."""
    timestamp = row[1][0].timestamp_ms if row[0] == "edit" else row[1].timestamp_ms
    return timestamp - timestamp % MINUTE_MS
