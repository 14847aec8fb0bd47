"""Publishing the anomaly lists' TRAFFIC_SPIKE alerts: the alerts topic and Redis, once each.

The hourly anomaly job (batch/anomalies.py) calls it after writing an hour's
list: the watched articles new on it (core.traffic_alerts.anomaly_traffic_alerts,
against the hour before's list in Redis) go to the alerts topic and then to
Redis beside the edit job's. An alert already in Redis is not sent again, so a
re-run of the hour sends nothing twice; a run that stops between the topic and
Redis sends that hour's alerts again when it is re-run.
"""

from __future__ import annotations

from core.config import Settings
from core.contracts import EditKeys, Keys
from core.edit_rules import EditAlert, WatchList
from core.list_changes import listed_ranks
from core.snapshots import AnomalySnapshot
from core.traffic_alerts import anomaly_traffic_alerts
from core.windows import HOUR_MS
from stores.edits import EditWriter, WatchListStore, encode_alert


class AnomalyAlerts:
    def __init__(self, client, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self.keys, self.edit_keys = Keys(settings.redis), EditKeys(settings.redis)
        self.writer = EditWriter(client, settings.redis, settings.edits)
        self.watchlist = WatchListStore(client, settings)
        self._producer = None

    def publish(self, snapshot: AnomalySnapshot) -> list[EditAlert]:
        """The hour's new alerts, sent; what was sent."""
        hour_before = listed_ranks(self.client.get(self.keys.anomalies_hour(snapshot.hour_start - HOUR_MS)))
        found = anomaly_traffic_alerts(snapshot, hour_before, WatchList(self.watchlist.current()))
        new = [a for a in found if self.client.zscore(self.edit_keys.alerts, encode_alert(a)) is None]
        if new:
            self.send(new)
            self.writer.write([], new)
        return new

    def send(self, alerts: list[EditAlert]) -> None:
        from kafka import KafkaProducer
        from kafka.errors import KafkaError

        topic = self.settings.kafka.edit_alerts_topic
        try:
            if self._producer is None:
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.kafka.bootstrap,
                    acks="all",
                    max_block_ms=30_000,
                    **self.settings.kafka.python_security,
                )
            for alert in alerts:
                self._producer.send(topic, value=encode_alert(alert).encode())
            self._producer.flush()
        except KafkaError as error:
            raise RuntimeError(
                f"could not send {len(alerts)} TRAFFIC_SPIKE alert(s) to the topic {topic} at "
                f"{self.settings.kafka.bootstrap} ({error!r}); the hour's list is published, run the hour "
                "again to send them"
            ) from error

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
