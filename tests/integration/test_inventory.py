"""Issue 12: the asset inventory through the real job, the same telemetry replayed with and
without it (tests/scenarios_inventory.py)."""
from __future__ import annotations

import dataclasses

import pytest

from chainwatch.config import InventoryConfig
from chainwatch.flink.replay_job import replay, summary_lines
from tests.builders import write_cloudtrail, write_flows
from tests.findings_by_key import group_by_key
from tests.scenarios import all_scenarios
from tests.scenarios_inventory import inventory_scenarios, write_inventory

SCENARIOS = inventory_scenarios()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("inventory-inputs")
    # The background of the AWS acceptance scenarios starts history on day 0.
    history = [r for s in all_scenarios() if s.name == "n1-old-role" for r in s.records]
    records = sorted(history + [r for s in SCENARIOS for r in s.records], key=lambda r: r["eventTime"])
    write_cloudtrail(directory / "cloudtrail.json.gz", records)
    write_flows(directory / "vpcflow.log", sorted(f for s in SCENARIOS for f in s.flows))
    return directory


@pytest.fixture(scope="module")
def runs(tmp_path_factory, inputs, config, patterns):
    exports = write_inventory(tmp_path_factory.mktemp("inventory"))
    with_inventory = dataclasses.replace(config, inventory=InventoryConfig(tuple(exports)))
    return {"with": replay(with_inventory, patterns, [inputs]), "without": replay(config, patterns, [inputs])}


def _keys(result):
    return {key: len(found) for key, found in group_by_key(result.findings).items()}


def test_with_the_inventory_the_legacy_instance_role_exfiltration_is_found(runs):
    legacy, cron, _nat = SCENARIOS
    by_key = group_by_key(runs["with"].findings)
    assert _keys(runs["with"]) == {legacy.key: 1}
    (finding,) = by_key[legacy.key]
    related = {e["uid"] for e in finding["finding_info"]["related_events"]}
    assert set(legacy.must_cite) <= related
    assert [e["details"]["workloads"] for e in finding["evidences"] if e["step"] == "external_exfiltration"]


def test_without_it_the_flows_are_unattributed_and_the_cron_role_looks_new(runs):
    legacy, cron, _nat = SCENARIOS
    assert _keys(runs["without"]) == {cron.key: 1}
    flows = sum(int(f.split()[9]) for s in SCENARIOS for f in s.flows)
    assert runs["without"].egress_attribution["aws:111122223333"] == {"no_binding": flows}
    lines = "\n".join(summary_lines(runs["without"]))
    assert "aws:111122223333: 0% of 1.8 GB attributed to an identity; not: 1.8 GB with no binding" in lines


def test_with_it_the_report_names_the_nat_gateway_and_attributes_the_rest(runs):
    legacy, _cron, nat = SCENARIOS
    attribution = runs["with"].egress_attribution["aws:111122223333"]
    assert attribution == {"identity": sum(int(f.split()[9]) for f in legacy.flows),
                           "nat_gateway": sum(int(f.split()[9]) for f in nat.flows)}
    lines = "\n".join(summary_lines(runs["with"]))
    assert "83% of 1.8 GB attributed to an identity; not: 300.0 MB through NAT gateways" in lines
