"""The asset inventory (enrich.asset_inventory): each export's facts, the profile -> role mapping, NAT and
load-balancer interfaces, errors naming the file and field, reload on change."""
from __future__ import annotations

import json
import os

import pytest

from chainwatch.core.errors import ChainwatchError
from chainwatch.enrich.asset_inventory import RefreshingAssets, load_assets
from tests.scenarios_inventory import LEGACY, NAT, write_inventory

ORG = "111122223333"


def test_the_aws_cli_exports_bind_aliases_instances_roles_and_creation_dates(tmp_path):
    inventory = load_assets(write_inventory(tmp_path))
    assert inventory.binding("instance", f"eni:{LEGACY['eni']}") == LEGACY["instance"]
    assert inventory.binding("instance", f"ip:{ORG}:{LEGACY['ip']}") == LEGACY["instance"]
    assert inventory.binding("principal", LEGACY["instance"]) == f"role\tarn:aws:iam::{ORG}:role/p20-legacy-etl"
    assert inventory.unattributable(f"eni:{NAT['eni']}") == "nat_gateway"
    assert inventory.unattributable(f"ip:{ORG}:{NAT['ip']}") == "nat_gateway"
    assert inventory.created[f"arn:aws:iam::{ORG}:user/weekly-cron"] == 1780304400000      # 2026-06-01T09:00Z


def test_without_the_iam_export_a_profile_stands_for_the_role_of_its_name(tmp_path):
    paths = write_inventory(tmp_path)
    inventory = load_assets(paths[:1])
    assert inventory.binding("principal", LEGACY["instance"]) == f"role\tarn:aws:iam::{ORG}:role/legacy-etl-profile"


def test_an_aws_config_snapshot_in_camel_case_and_a_load_balancer_interface(tmp_path):
    path = tmp_path / "config-snapshot.json"
    path.write_text(json.dumps({"fileVersion": "1.0", "configurationItems": [
        {"resourceType": "AWS::EC2::Instance", "awsAccountId": ORG, "configuration": {
            "instanceId": "i-0123456789abcdef0", "privateIpAddress": "10.3.3.3",
            "iamInstanceProfile": {"arn": f"arn:aws:iam::{ORG}:instance-profile/web"},
            "networkInterfaces": [{"networkInterfaceId": "eni-0123456789abcdef0"}]}},
        {"resourceType": "AWS::EC2::NetworkInterface", "configuration": {
            "networkInterfaceId": "eni-0ffffffffffffffff", "interfaceType": "interface", "ownerId": ORG,
            "description": "ELB app/web/50dc6c495c0c9188", "privateIpAddress": "10.3.9.9"}},
        {"resourceType": "AWS::IAM::Role", "configuration": {
            "arn": f"arn:aws:iam::{ORG}:role/web", "createDate": "2025-01-01T00:00:00Z"}}]}))
    inventory = load_assets([str(path)])
    assert inventory.binding("instance", "eni:eni-0123456789abcdef0") == "i-0123456789abcdef0"
    assert inventory.binding("principal", "i-0123456789abcdef0") == f"role\tarn:aws:iam::{ORG}:role/web"
    assert inventory.unattributable(f"ip:{ORG}:10.3.9.9") == "load_balancer"
    assert f"arn:aws:iam::{ORG}:role/web" in inventory.created


def test_gcp_asset_inventory_and_azure_resource_graph_exports(tmp_path):
    gcp = tmp_path / "assets.jsonl"
    gcp.write_text(json.dumps({"name": "//compute.googleapis.com/projects/acme-prod/zones/us-central1-a/instances/vm1",
                               "assetType": "compute.googleapis.com/Instance", "resource": {"data": {
                                   "networkInterfaces": [{"networkIP": "10.8.0.4"}],
                                   "serviceAccounts": [{"email": "etl@acme-prod.iam.gserviceaccount.com"}]}}})
                   + "\n" + json.dumps({"name": "//storage.googleapis.com/b", "assetType": "storage.googleapis.com/Bucket"})
                   + "\n")
    sub, vm = "2b9f8c1e-4d5a-4c3b-9a7e-0f1e2d3c4b5a", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-db01"
    nic = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1"
    azure = tmp_path / "resource-graph.json"
    azure.write_text(json.dumps({"data": [
        {"id": vm, "type": "microsoft.compute/virtualmachines", "subscriptionId": sub,
         "identity": {"type": "SystemAssigned", "principalId": "0F0F0F0F-1111-2222-3333-444444444444"},
         "properties": {"networkProfile": {"networkInterfaces": [{"id": nic}]}}},
        {"id": nic, "type": "microsoft.network/networkinterfaces", "subscriptionId": sub,
         "properties": {"virtualMachine": {"id": vm}, "ipConfigurations": [{"properties": {"privateIPAddress": "10.2.1.4"}}]}}]}))
    inventory = load_assets([str(gcp), str(azure)])
    instance = "projects/acme-prod/zones/us-central1-a/instances/vm1"
    assert inventory.binding("principal", instance) == "service_account\tserviceAccount:etl@acme-prod.iam.gserviceaccount.com"
    assert inventory.binding("instance", "ip:acme-prod:10.8.0.4") == instance
    assert inventory.binding("instance", f"ip:{sub}:10.2.1.4") == vm.lower()
    assert inventory.binding("principal", vm.lower()) == "managed_identity\tazure:0f0f0f0f-1111-2222-3333-444444444444"


def test_a_bad_export_names_the_file_and_field_not_the_value(tmp_path):
    bad = tmp_path / "describe-instances.json"
    bad.write_text(json.dumps({"Reservations": [{"OwnerId": ORG, "Instances": [{"InstanceId": ["i-secret-value"]}]}]}))
    broken = tmp_path / "broken.json"
    broken.write_text('{"Reservations": [\n')
    with pytest.raises(ChainwatchError) as raised:
        load_assets([str(bad), str(broken), str(tmp_path / "missing.json")])
    text = str(raised.value)
    assert "describe-instances.json: Reservations[0].Instances[0].InstanceId: expected a string, got list" in text
    assert "broken.json" in text and "missing.json" in text and "i-secret-value" not in text


def test_a_changed_file_is_loaded_again_and_a_broken_one_keeps_the_last_good(tmp_path):
    paths = write_inventory(tmp_path)
    assets = RefreshingAssets(paths, 0)
    first = assets.get()
    assert assets.get() is first                         # unchanged: the same inventory
    document = json.loads(open(paths[0]).read())
    document["Reservations"][0]["Instances"][0]["PrivateIpAddress"] = "10.1.77.8"
    with open(paths[0], "w") as handle:
        json.dump(document, handle)
    os.utime(paths[0], ns=(1, 10**18))
    second = assets.get()
    assert second is not first and second.binding("instance", f"ip:{ORG}:10.1.77.8") == LEGACY["instance"]
    with open(paths[0], "w") as handle:
        handle.write("{")
    os.utime(paths[0], ns=(1, 2 * 10**18))
    assert assets.get() is second
