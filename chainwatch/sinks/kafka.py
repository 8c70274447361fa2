"""Findings and dead letters to Kafka topics.

Findings are keyed by their stable uid, so a compacted topic or the SIEM keeps one copy of a
finding that a restart produced twice. Written through the Table API's Kafka connector because
it can take the record key from a column (the DataStream sink in PyFlink serialises the key
from the whole element).
"""
from __future__ import annotations

import json

from pyflink.common import Row, Types
from pyflink.table import DataTypes, Schema, StreamTableEnvironment

_ROW = Types.ROW_NAMED(["k", "v"], [Types.STRING(), Types.STRING()])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _table_options(kafka, topic: str, guarantee: str) -> str:
    options = {"connector": "kafka", "topic": topic, "properties.bootstrap.servers": kafka.bootstrap_servers,
               "key.format": "raw", "key.fields": "k", "value.format": "raw",
               "value.fields-include": "EXCEPT_KEY", "sink.delivery-guarantee": guarantee}
    if guarantee == "exactly-once":
        options["sink.transactional-id-prefix"] = f"chainwatch-{topic}"
    options.update({f"properties.{k}": v for k, v in kafka.properties.items()})
    return ", ".join(f"{_quote(k)} = {_quote(str(v))}" for k, v in options.items())


def to_kafka(t_env: StreamTableEnvironment, statements, stream, key_of, kafka, topic: str, name: str,
             guarantee: str = "at-least-once") -> None:
    """Add an INSERT of `stream` (JSON strings) into `topic` to the statement set `statements`."""
    rows = stream.map(lambda text: Row(key_of(text), text), _ROW).name(f"{name}: key")
    schema = Schema.new_builder().column("k", DataTypes.STRING()).column("v", DataTypes.STRING()).build()
    view = f"chainwatch_{name.replace('-', '_')}"
    t_env.create_temporary_view(view, t_env.from_data_stream(rows, schema))
    t_env.execute_sql(f"CREATE TEMPORARY TABLE {view}_sink (k STRING, v STRING) WITH ({_table_options(kafka, topic, guarantee)})")
    statements.add_insert_sql(f"INSERT INTO {view}_sink SELECT k, v FROM {view}")


def finding_key(text: str) -> str:
    return json.loads(text)["metadata"]["uid"]


def dead_letter_key(text: str) -> str:
    return json.loads(text).get("ref", "")
