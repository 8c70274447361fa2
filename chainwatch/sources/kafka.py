"""Kafka topics as telemetry sources: one topic per source entry, JSON (or flow-log text) values."""
from __future__ import annotations

from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream.connectors.kafka import KafkaOffsetResetStrategy, KafkaOffsetsInitializer, KafkaSource


def starting_offsets(source) -> KafkaOffsetsInitializer:
    if source.start == "earliest":
        return KafkaOffsetsInitializer.earliest()
    if source.start == "latest":
        return KafkaOffsetsInitializer.latest()
    if source.start == "timestamp":
        return KafkaOffsetsInitializer.timestamp(source.start_timestamp_ms)
    # committed: resume the consumer group; a new group starts at the earliest record.
    return KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)


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
