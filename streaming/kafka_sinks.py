"""Exactly-once Kafka sinks of strings, as both jobs' Python-side outputs use them."""

from __future__ import annotations

from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors.base import DeliveryGuarantee
from pyflink.datastream.connectors.kafka import KafkaRecordSerializationSchema, KafkaSink

from core.config import Settings


def kafka_sink(settings: Settings, topic: str, transactional_id_prefix: str) -> KafkaSink:
    """An exactly-once sink of strings to ``topic`` (transactions committed with each checkpoint).

    ``transactional_id_prefix``: one per sink and consumer group (e.g. ``<group id>-alerts``), so two
    runs of a job (tests) and two sinks writing one topic never fence each other.
    """
    builder = (
        KafkaSink.builder()
        .set_bootstrap_servers(settings.kafka.bootstrap)
        .set_record_serializer(
            KafkaRecordSerializationSchema.builder()
            .set_topic(topic)
            .set_value_serialization_schema(SimpleStringSchema())
            .build()
        )
        .set_delivery_guarantee(DeliveryGuarantee.EXACTLY_ONCE)
        .set_transactional_id_prefix(transactional_id_prefix)
        # Must stay under the broker's transaction.max.timeout.ms (1 h on the local stack).
        .set_property("transaction.timeout.ms", "900000")
    )
    for key, value in settings.kafka.java_security.items():
        builder.set_property(key, value)
    return builder.build()
