"""Kafka sinks (`type: kafka` under `sinks:`): findings or dead letters to a topic.

Findings are keyed by their stable uid (whatever the format they are written in), so a
compacted topic or the SIEM keeps one copy of a finding that a restart produced twice; dead
letters are keyed by their ref (file and record number, or topic and offset). Written through
the Table API's Kafka connector because it can take the record key from a column (the
DataStream sink in PyFlink serialises the key from the whole element).
"""
from __future__ import annotations

import json

from pyflink.common import Row, Types
from pyflink.datastream import MapFunction
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

from chainwatch.findings.render import render
from chainwatch.uids import sink_uid

_ROW = Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.STRING()])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _table_options(kafka, sink, transactional_id_prefix: str) -> str:
    guarantee = sink.delivery_guarantee
    options = {"connector": "kafka", "topic": sink.topic, "properties.bootstrap.servers": kafka.bootstrap_servers,
               "key.format": "raw", "key.fields": "k", "value.format": "raw",
               "value.fields-include": "EXCEPT_KEY", "sink.delivery-guarantee": guarantee}
    if guarantee == "exactly-once":
        options["sink.transactional-id-prefix"] = transactional_id_prefix
    options.update({f"properties.{k}": v for k, v in kafka.properties.items()})
    return ", ".join(f"{_quote(k)} = {_quote(str(v))}" for k, v in options.items())


class KafkaRecord(MapFunction):
    """The (key, value) of the Kafka record: a finding keyed by its uid, in the sink's format; a
    dead letter as it is, keyed by its ref."""

    def __init__(self, sink):
        self.dead_letters = sink.stream == "dead_letters"
        self.fmt, self.fields = sink.format, sink.hec_fields

    def map(self, text):
        if self.dead_letters:
            return Row(dead_letter_key(text), text)
        return Row(finding_key(text), render(text, self.fmt, self.fields))


def to_kafka(t_env: StreamTableEnvironment, statements, stream, kafka, sink, index: int,
             transactional_id_prefix: str | None = None) -> None:
    """Add an INSERT of `stream` (findings as OCSF JSON, or dead letters) into the sink's topic to
    the statement set `statements`. index: the sink's position, for unique table names."""
    rows = stream.map(KafkaRecord(sink), _ROW).name(f"{sink.name}: Kafka record").uid(sink_uid(sink, "record"))
    schema = Schema.new_builder().column("k", DataTypes.STRING()).column("v", DataTypes.STRING()).build()
    view = f"chainwatch_sink_{index}"
    prefix = transactional_id_prefix or f"chainwatch-{sink.topic}"
    t_env.create_temporary_view(view, t_env.from_data_stream(rows, schema))
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {view}_kafka (k STRING, v STRING) "
                      f"WITH ({_table_options(kafka, sink, prefix)})")
    statements.add_insert_sql(f"INSERT INTO {view}_kafka SELECT k, v FROM {view}")


def finding_key(text: str) -> str:
    return json.loads(text)["metadata"]["uid"]


def dead_letter_key(text: str) -> str:
    return json.loads(text).get("ref", "")
