"""TRAFFIC_SPIKE in the page-view job: each minute's listed articles -> watch-list alerts, once per rise.

    trending publisher (publish.py): (minute, TrendingArticle) of each list it wrote
      -> keyed by article: its rise in Flink state, the watch list in use (core/traffic_alerts.py)
      -> alerts: edit-alerts (Kafka, exactly-once, beside the edit job's) and Redis (stores/edits.py)

The rise is state of the last checkpoint, and the trending publisher re-emits a
restored minute's articles after a restart, so a TaskManager lost mid-rise neither
loses the alert nor raises it twice; the Redis write is idempotent (the alert's id
is its rise's). A change of the watch list through the API is picked up within
``[edits] watchlist_poll_seconds``.
"""

from __future__ import annotations

from pyflink.common.typeinfo import Types
from pyflink.datastream import DataStream, KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import StateTtlConfig, ValueStateDescriptor

from core.config import Settings
from core.traffic_alerts import spike_of
from stores.clients import redis_client
from stores.edits import WatchListPoller, encode_alert
from streaming.edits.operators import PublishEdits, minute_of
from streaming.gather import PICKLED
from streaming.kafka_sinks import kafka_sink

# A rise's state outlives its last listing by this much, then Flink drops it.
RISE_STATE_HOURS = 24


class TrafficSpikes(KeyedProcessFunction):
    """Keyed by article: (minute, TrendingArticle) listings -> a TRAFFIC_SPIKE alert when a watched
    article's rise begins (or its title becomes watched during one)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def open(self, runtime_context: RuntimeContext) -> None:
        from pyflink.common.time import Time

        descriptor = ValueStateDescriptor("rise", PICKLED)
        descriptor.enable_time_to_live(StateTtlConfig.new_builder(Time.hours(RISE_STATE_HOURS)).build())
        self.rise = runtime_context.get_state(descriptor)
        self.watchlist = WatchListPoller(redis_client(self.settings, attempts=1), self.settings)
        self.alerts = runtime_context.get_metrics_group().counter("traffic_alerts")

    def process_element(self, value, ctx: KeyedProcessFunction.Context):
        minute_ms, article = value
        quiet = self.settings.edits.traffic_spike_quiet_minutes
        rise, alert = spike_of(self.rise.value(), article, minute_ms, self.watchlist.current(), quiet)
        self.rise.update(rise)
        if alert is not None:
            self.alerts.inc()
            yield alert


def article_key(value) -> str:
    _, article = value
    return f"{article.project}|{article.title}"


def publish_traffic_alerts(listed: DataStream, settings: Settings) -> None:
    """The listed articles' TRAFFIC_SPIKE alerts to the alerts topic and Redis."""
    alerts = (
        listed.key_by(article_key, key_type=Types.STRING())
        .process(TrafficSpikes(settings), output_type=PICKLED)
        .name("TRAFFIC_SPIKE per watched article")
        .uid("traffic-spikes")
    )
    alerts.map(encode_alert, output_type=Types.STRING()).sink_to(
        kafka_sink(
            settings, settings.kafka.edit_alerts_topic, f"{settings.streaming.group_id}-traffic-alerts"
        )
    ).name("traffic alerts to Kafka").uid("traffic-alerts-sink")
    (
        alerts.map(lambda alert: ("alert", alert), output_type=PICKLED)
        .key_by(minute_of, key_type=Types.LONG())
        .process(PublishEdits(settings))
        .name("traffic alerts to Redis")
        .uid("publish-traffic-alerts")
    )
