"""The `sinks:` section of the job config: defaults, a full HEC sink, and every problem named."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chainwatch.config import load_config
from chainwatch.config.sink_settings import DEFAULT_SINKS
from chainwatch.sinks.secrets import SecretSource
from tests.unit.test_config import by_key, config_data, config_error, write_yaml

REPO = Path(__file__).resolve().parents[2]
TOKEN = "0f0e0d0c-0b0a-0908-0706-050403020100"


def load_sinks(tmp_path, sinks):
    return load_config(write_yaml(tmp_path / "chainwatch.yaml", config_data(sinks=sinks))).sinks


def sink_problems(tmp_path, sinks) -> dict:
    error = config_error(write_yaml(tmp_path / "chainwatch.yaml", config_data(sinks=sinks)))
    return {key: p.message for key, p in by_key(error).items()}


def test_without_sinks_findings_go_to_stdout_as_ocsf(tmp_path):
    assert load_sinks(tmp_path, None) == DEFAULT_SINKS
    assert (DEFAULT_SINKS[0].type, DEFAULT_SINKS[0].format) == ("stdout", "ocsf")


def test_the_shipped_config_and_its_commented_hec_example_load(tmp_path):
    shipped = REPO / "conf/chainwatch.yaml"
    assert load_config(shipped).sinks == DEFAULT_SINKS
    # The commented-out HEC sink, uncommented, is a valid sink too.
    text = shipped.read_text()
    example = yaml.safe_load(re.sub(r"(?m)^  # ", "  ", text[text.index("\nsinks:"):]))["sinks"]
    _stdout, splunk = load_sinks(tmp_path, example)
    assert (splunk.type, splunk.url, splunk.token) == ("hec", "https://splunk.example.com:8088",
                                                      SecretSource(env="SPLUNK_HEC_TOKEN"))


def test_stdout_file_and_hec_sinks(tmp_path):
    sinks = load_sinks(tmp_path, [
        {"name": "console", "type": "stdout", "format": "ecs"},
        {"name": "archive", "type": "file", "path": "out/findings", "format": "hec", "event_format": "ecs"},
        {"name": "splunk", "type": "hec", "url": "https://splunk.example:8088", "token_file": "secrets/hec.token",
         "index": "security", "sourcetype": "ocsf:finding", "host": "detector-1", "batch_size": 50,
         "max_batch_bytes": "512KB", "flush_interval": "2s", "max_retries": 3, "retry_backoff": "250ms",
         "max_backoff": "10s", "timeout": "5s", "ca_file": "ca.pem"},
        {"name": "splunk-ecs", "type": "hec", "url": "http://127.0.0.1:8088", "token_env": "SPLUNK_HEC_TOKEN",
         "event_format": "ecs", "verify_tls": False},
    ])
    console, archive, splunk, splunk_ecs = sinks
    assert (console.type, console.format) == ("stdout", "ecs")
    assert (archive.path, archive.format, archive.event_format) == (str(tmp_path / "out/findings"), "hec", "ecs")
    assert (splunk.format, splunk.event_format, splunk.url) == ("hec", "ocsf", "https://splunk.example:8088")
    assert splunk.token == SecretSource(file=str(tmp_path / "secrets/hec.token"))
    assert (splunk.batch_size, splunk.max_batch_bytes, splunk.flush_interval_ms) == (50, 512_000, 2000)
    assert (splunk.max_retries, splunk.retry_backoff_ms, splunk.max_backoff_ms, splunk.timeout_ms) == (3, 250, 10_000,
                                                                                                      5000)
    assert (splunk.verify_tls, splunk.ca_file) == (True, str(tmp_path / "ca.pem"))
    assert splunk.hec_fields.index == "security" and splunk.hec_fields.host == "detector-1"
    assert splunk_ecs.token == SecretSource(env="SPLUNK_HEC_TOKEN") and splunk_ecs.event_format == "ecs"
    assert (splunk_ecs.batch_size, splunk_ecs.flush_interval_ms, splunk_ecs.verify_tls) == (100, 5000, False)


def test_a_token_in_the_config_is_refused_without_echoing_it(tmp_path):
    problems = sink_problems(tmp_path, [{"name": "s", "type": "hec", "url": "https://h:8088", "token": TOKEN}])
    assert "token_env" in problems["sinks[0].token"] and "never goes in the config" in problems["sinks[0].token"]
    assert "sinks[0].token_env" in problems  # and it still needs one
    assert TOKEN not in str(problems)


def test_a_token_pasted_as_token_env_is_not_echoed(tmp_path):
    problems = sink_problems(tmp_path, [{"name": "s", "type": "hec", "url": "https://h:8088", "token_env": TOKEN}])
    assert "not the token itself" in problems["sinks[0].token_env"] and TOKEN not in str(problems)


def test_problems_name_the_sink_key_and_line(tmp_path):
    path = write_yaml(tmp_path / "chainwatch.yaml", config_data(sinks=[
        {"name": "ok", "type": "stdout"},
        {"name": "bad", "type": "hec", "url": "ftp://h", "token_env": "A", "token_file": "f", "format": "ocsf",
         "batch_size": 0, "max_batch_bytes": "10B", "flush_interval": 5, "verify_tls": "yes", "colour": "red",
         "path": "x"},
    ]))
    problems = by_key(config_error(path))
    assert set(problems) >= {"sinks[1].url", "sinks[1].token_file", "sinks[1].format", "sinks[1].batch_size",
                             "sinks[1].max_batch_bytes", "sinks[1].flush_interval", "sinks[1].verify_tls",
                             "sinks[1].colour", "sinks[1].path"}
    assert problems["sinks[1].format"].message.startswith("a hec sink sends HEC envelopes")
    assert problems["sinks[1].path"].message == "not used by a hec sink"
    assert problems["sinks[1].colour"].message == "unknown key"
    assert all(p.file == str(path) and p.line for p in problems.values())


@pytest.mark.parametrize("sink, key, message", [
    ({"name": "s", "type": "stdout", "url": "https://h"}, "url", "not used by a stdout sink"),
    ({"name": "s", "type": "file"}, "path", "required key is missing"),
    ({"name": "s", "type": "stdout", "event_format": "ecs"}, "event_format", "only used with format hec"),
    ({"name": "s", "type": "syslog"}, "type", "must be one of stdout, file, hec, kafka"),
    ({"name": "s", "type": "kafka"}, "topic", "required key is missing"),
    ({"name": "s", "type": "kafka", "topic": "a topic"}, "topic", "letters, digits"),
    ({"name": "s", "type": "kafka", "topic": "t", "delivery_guarantee": "maybe"}, "delivery_guarantee",
     "must be one of at-least-once, exactly-once, none"),
    ({"name": "s", "type": "kafka", "topic": "t", "path": "p"}, "path", "not used by a kafka sink"),
    ({"name": "s", "type": "stdout", "topic": "t"}, "topic", "not used by a stdout sink"),
    ({"name": "s", "type": "stdout", "stream": "alerts"}, "stream", "must be one of findings, dead_letters"),
    ({"name": "s", "type": "hec", "url": "https://h", "token_env": "T", "stream": "dead_letters"}, "stream",
     "takes findings only"),
    ({"name": "s", "type": "kafka", "topic": "t", "stream": "dead_letters", "format": "ecs"}, "format",
     "dead letters are written as they are"),
    ({"name": "s", "type": "stdout", "format": "cef"}, "format", "must be one of ocsf, ecs, hec"),
    ({"name": "a b", "type": "stdout"}, "name", "use letters, digits"),
    ({"name": "s", "type": "hec", "token_env": "T"}, "url", "required key is missing"),
    ({"name": "s", "type": "hec", "url": "https://h"}, "token_env", "needs its token"),
    ({"name": "s", "type": "hec", "url": "https://user:pw@h", "token_env": "T"}, "url", "credentials do not belong"),
    ({"name": "s", "type": "hec", "url": "https://h?x=1", "token_env": "T"}, "url", "no query"),
    ({"name": "s", "type": "hec", "url": "https://h", "token_env": "T", "verify_tls": False, "ca_file": "c.pem"},
     "ca_file", "only used with verify_tls: true"),
    ({"name": "s", "type": "hec", "url": "https://h", "token_env": "T", "timeout": "10ms"}, "timeout",
     "at least 100ms"),
    ({"name": "s", "type": "hec", "url": "https://h", "token_env": "T", "max_retries": -1}, "max_retries",
     "at least 0"),
])
def test_each_sink_problem(tmp_path, sink, key, message):
    problems = sink_problems(tmp_path, [sink])
    assert message in problems[f"sinks[0].{key}"]


def test_duplicate_names_and_an_empty_list(tmp_path):
    problems = sink_problems(tmp_path, [{"name": "s", "type": "stdout"}, {"name": "s", "type": "stdout"}])
    assert problems["sinks[1].name"] == "another sink is already named 's'"
    assert "at least one sink" in sink_problems(tmp_path, [])["sinks"]
    assert sink_problems(tmp_path, {"name": "s"})["sinks"] == "expected a list"


# --- kafka sinks, and the deprecated kafka.* output keys ------------------------------------------------------

def test_kafka_sinks_for_findings_in_each_format_and_for_dead_letters(tmp_path):
    findings, ecs, dead = load_sinks(tmp_path, [
        {"name": "findings", "type": "kafka", "topic": "findings"},
        {"name": "findings-ecs", "type": "kafka", "topic": "findings.ecs", "format": "ecs",
         "delivery_guarantee": "exactly-once"},
        {"name": "dead-letters", "type": "kafka", "topic": "dead-letters", "stream": "dead_letters"},
    ])
    assert (findings.type, findings.stream, findings.topic, findings.format, findings.delivery_guarantee) == \
        ("kafka", "findings", "findings", "ocsf", "at-least-once")
    assert (ecs.format, ecs.delivery_guarantee) == ("ecs", "exactly-once")
    assert (dead.stream, dead.topic) == ("dead_letters", "dead-letters")


def test_dead_letters_to_a_file_or_stdout(tmp_path):
    folder, console = load_sinks(tmp_path, [
        {"name": "dlq", "type": "file", "path": "dead", "stream": "dead_letters"},
        {"name": "console", "type": "stdout", "stream": "dead_letters"},
    ])
    assert (folder.stream, folder.path, console.stream) == ("dead_letters", str(tmp_path / "dead"), "dead_letters")


def test_the_shipped_kafka_config_uses_kafka_sinks_and_no_deprecated_key():
    config = load_config(REPO / "conf/kafka.yaml")
    assert config.warnings == ()
    assert [(s.name, s.type, s.stream, s.topic) for s in config.sinks] == [
        ("findings", "kafka", "findings", "findings"), ("dead-letters", "kafka", "dead_letters", "dead-letters")]


def _legacy(tmp_path, kafka, sinks=None):
    data = config_data(kafka={"bootstrap_servers": "127.0.0.1:9092", **kafka})
    if sinks is not None:
        data["sinks"] = sinks
    return write_yaml(tmp_path / "chainwatch.yaml", data)


def test_deprecated_kafka_topics_become_kafka_sinks_with_a_warning_saying_what_to_write(tmp_path):
    path = _legacy(tmp_path, {"findings_topic": "found", "dead_letter_topic": "dead",
                              "delivery_guarantee": "exactly-once"})
    config = load_config(path)
    # As before: without a `sinks:` section findings also went to stdout.
    assert [(s.name, s.type, s.stream, s.topic, s.delivery_guarantee) for s in config.sinks] == [
        ("findings", "stdout", "findings", None, "at-least-once"),
        ("kafka-findings", "kafka", "findings", "found", "exactly-once"),
        ("kafka-dead-letters", "kafka", "dead_letters", "dead", "exactly-once")]
    warnings = {w.key: w for w in config.warnings}
    assert set(warnings) == {"kafka.findings_topic", "kafka.dead_letter_topic", "kafka.delivery_guarantee"}
    assert all(w.file == str(path) and w.line for w in warnings.values())
    assert "{name: kafka-findings, type: kafka, topic: found, format: ocsf, delivery_guarantee: exactly-once}" \
        in warnings["kafka.findings_topic"].message
    assert "{name: findings, type: stdout}" in warnings["kafka.findings_topic"].message
    assert "stream: dead_letters" in warnings["kafka.dead_letter_topic"].message
    assert "each kafka sink" in warnings["kafka.delivery_guarantee"].message
    assert "removed in the next release" in str(warnings["kafka.findings_topic"])


def test_deprecated_topics_join_configured_sinks_and_delivery_guarantee_is_their_default(tmp_path):
    config = load_config(_legacy(tmp_path, {"findings_topic": "found", "delivery_guarantee": "none"},
                                 sinks=[{"name": "kafka-findings", "type": "file", "path": "out"},
                                        {"name": "k", "type": "kafka", "topic": "other"}]))
    assert [(s.name, s.topic, s.delivery_guarantee) for s in config.sinks] == [
        ("kafka-findings", None, "at-least-once"), ("k", "other", "none"), ("kafka-findings-2", "found", "none")]


def test_a_deprecated_topic_a_kafka_sink_already_writes_is_a_problem(tmp_path):
    path = _legacy(tmp_path, {"findings_topic": "found"}, sinks=[{"name": "k", "type": "kafka", "topic": "found"}])
    assert "already sends findings to 'found'" in by_key(config_error(path))["kafka.findings_topic"].message


def test_validate_prints_the_deprecation_warnings(tmp_path, capsys):
    from chainwatch.cli import main
    assert main(["validate", "--conf", str(_legacy(tmp_path, {"findings_topic": "found"}))]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "kafka.findings_topic: deprecated" in captured.err
    assert ": ok (" in captured.out
