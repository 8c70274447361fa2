"""Kafka topics as telemetry sources: one topic per source entry, JSON (or flow-log text) values."""
from __future__ import annotations

from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors.kafka import KafkaOffsetsInitializer, KafkaSource


def starting_offsets(source) -> KafkaOffsetsInitializer:
    if source.start == "earliest":
        return KafkaOffsetsInitializer.earliest()
    if source.start == "latest":
        return KafkaOffsetsInitializer.latest()
    if source.start == "timestamp":
        return KafkaOffsetsInitializer.timestamp(source.start_timestamp_ms)
    # committed: resume the consumer group; a new group starts at the earliest record.
    return _committed_else_earliest()


def _committed_else_earliest() -> KafkaOffsetsInitializer:
    """KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST) fails in
    PyFlink 2.0 ("Could not found the Java class org.apache.flink.kafka.shaded.org.apache.kafka
    ...OffsetResetStrategy"): it names the Kafka client class as a shaded connector jar has it,
    but the connector PyFlink ships uses the plain kafka-clients jar beside it. So the Java
    initializer is built from the classes that are there."""
    from pyflink.java_gateway import get_gateway
    gateway = get_gateway()
    earliest = gateway.jvm.org.apache.kafka.clients.consumer.OffsetResetStrategy.EARLIEST
    initializers = gateway.jvm.org.apache.flink.connector.kafka.source.enumerator.initializer.OffsetsInitializer
    return KafkaOffsetsInitializer(initializers.committedOffsets(earliest))


def kafka_source(kafka, source) -> KafkaSource:
    builder = (KafkaSource.builder()
               .set_bootstrap_servers(kafka.bootstrap_servers)
               .set_topics(source.topic)
               .set_group_id(source.group_id or kafka.group_id)
               .set_starting_offsets(starting_offsets(source))
               .set_value_only_deserializer(SimpleStringSchema())
               # Offsets are committed on checkpoints (restart safety comes from the checkpoint itself);
               # new partitions of the topic are picked up while the job runs.
               .set_property("commit.offsets.on.checkpoint", "true")
               .set_property("partition.discovery.interval.ms", "60000"))
    for key, value in kafka.properties.items():
        builder = builder.set_property(key, value)
    return builder.build()
