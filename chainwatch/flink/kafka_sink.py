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
from chainwatch.flink.uids import sink_uid, table_uids

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


class TableSinks:
    """The Table-API inserts of the kafka sinks, a statement set each, translated into the job at
    `attach()` (stream.execute). One set per sink so that each is translated on its own, and its
    operators (writer, committer: exactly-once transactions live in their state) get the uids
    `sink-<name>-<n>-<kind>` (uids.table_uids): adding or removing another sink leaves them be."""

    def __init__(self, t_env: StreamTableEnvironment):
        self.t_env, self.sets = t_env, []

    def __bool__(self) -> bool:
        return bool(self.sets)

    def add(self, uid_prefix: str):
        statements = self.t_env.create_statement_set()
        self.sets.append((uid_prefix, statements))
        return statements

    def attach(self) -> None:
        for uid_prefix, statements in self.sets:
            table_uids(self.t_env, uid_prefix)
            statements.attach_as_datastream()


def to_kafka(table_sinks: TableSinks, stream, kafka, sink, index: int, transactional_id_prefix: str | None = None):
    """Add an INSERT of `stream` (findings as OCSF JSON, or dead letters) into the sink's topic to
    `table_sinks`. index: the sink's position, for unique table names."""
    t_env = table_sinks.t_env
    rows = stream.map(KafkaRecord(sink), _ROW).name(f"{sink.name}: Kafka record")
    schema = Schema.new_builder().column("k", DataTypes.STRING()).column("v", DataTypes.STRING()).build()
    view = f"chainwatch_sink_{index}"
    prefix = transactional_id_prefix or f"chainwatch-{sink.topic}"
    t_env.create_temporary_view(view, t_env.from_data_stream(rows, schema))
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {view}_kafka (k STRING, v STRING) "
                      f"WITH ({_table_options(kafka, sink, prefix)})")
    table_sinks.add(sink_uid(sink)).add_insert_sql(f"INSERT INTO {view}_kafka SELECT k, v FROM {view}")


def finding_key(text: str) -> str:
    return json.loads(text)["metadata"]["uid"]


def dead_letter_key(text: str) -> str:
    return json.loads(text).get("ref", "")
