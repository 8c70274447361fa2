"""The extension points are registries, and a registered kind must bring every part it needs:
a step kind its handler, config section and narrative clause; a sink type how a job attaches it;
a log source its cloud's row in the provider table and the cloud's catalogs."""
from __future__ import annotations

import dataclasses

from chainwatch.config import DEFAULTS_DIR, load_config
from chainwatch.config.sink_settings import SINK_TYPES
from chainwatch.core.providers import CLOUDS, PROVIDERS
from chainwatch.parsers import FORMATS, PARSERS
from chainwatch.steps.identity_steps import IdentitySteps
from chainwatch.steps.registry import SECTION_TYPES, STEPS


def test_every_step_kind_has_its_parts():
    missing = []
    config = load_config()
    for kind in STEPS:
        handler = kind.handler or kind.name
        if not callable(getattr(IdentitySteps, handler, None)):      # the dispatcher calls it
            missing.append(f"{kind.name}: no IdentitySteps.{handler}")
        fields = {f.name for f in dataclasses.fields(SECTION_TYPES[kind.config_attr])}
        if fields != {param.field for param in kind.params}:
            missing.append(f"{kind.name}: section fields {sorted(fields)}")
        if not isinstance(getattr(config, kind.config_attr), SECTION_TYPES[kind.config_attr]):
            missing.append(f"{kind.name}: config.{kind.config_attr} is not its section")
        words = kind.clause({})      # a clause never fails on evidence it lacks: findings still read
        if not isinstance(words, str) or not words:
            missing.append(f"{kind.name}: clause gave {words!r}")
        if not kind.evidence or not kind.summary:
            missing.append(f"{kind.name}: no evidence or summary")
    assert missing == []


def test_every_sink_type_attaches():
    from chainwatch.flink.sinks import ATTACH
    assert set(ATTACH) == set(SINK_TYPES)
    for kind in SINK_TYPES.values():
        assert kind.streams and callable(kind.options), kind.name


def test_every_log_source_names_a_cloud_of_the_provider_table():
    problems = []
    for parser in PARSERS:
        for part in ("FORMAT", "CLOUD", "recognises", "parse"):
            if not hasattr(parser, part):
                problems.append(f"{parser.__name__}: no {part}")
        if getattr(parser, "CLOUD", None) not in CLOUDS:
            problems.append(f"{parser.__name__}: cloud {getattr(parser, 'CLOUD', None)!r} not in core.providers")
    assert problems == []
    assert len(set(FORMATS)) == len(FORMATS)
    assert {parser.CLOUD for parser in PARSERS} == set(CLOUDS)      # no cloud without a parser


def test_every_cloud_has_its_catalogs():
    for provider in PROVIDERS:
        for catalog in ("privileged_apis", "creation_events", "evidence_changes"):
            assert (DEFAULTS_DIR / "conf" / provider.cloud / f"{catalog}.yaml").is_file(), (provider.cloud, catalog)
        assert provider.name and provider.account_word
