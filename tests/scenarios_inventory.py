"""Issue 12 asset-inventory scenarios, and the inventory exports they need (written per test).

  * p20: role p20-legacy-etl, created on day 10, runs on an instance launched in May (no
    RunInstances in the data; its v2 flow logs carry no instance id; its session name is no
    instance id): it reads 300 objects, then its instance sends 1.5 GB to 45.155.205.17. Only
    the inventory binds the flows (ENI -> instance -> profile -> role): AN1328 with it, and
    without it the flows are unattributed "with no binding".
  * n21: weekly-cron, first seen on day 9 (after the learning period), reads 300 objects from a
    SaaS runner's address as it does every week: new by first sight, AN1328 without the
    inventory; its creation date in the IAM export is June: not new, none.
  * a NAT gateway's interface sends 300 MB out: unattributable by design, not "no binding".
"""
from __future__ import annotations

import json

from tests.builders import at, create_role, role_session, session_key, user
from tests.scenarios import ALICE, DAY, EXFIL_IP, ORG, Scenario, _exfil_flows, _reads

LEGACY = {"instance": "i-0c0ffee0c0ffee001", "eni": "eni-0c0ffee0c0ffee001", "ip": "10.1.77.7",
          "profile": f"arn:aws:iam::{ORG}:instance-profile/legacy-etl-profile"}
NAT = {"eni": "eni-0aa7aa7aa7aa7aa70", "ip": "10.1.0.9"}


def inventory_scenarios() -> list[Scenario]:
    role = "p20-legacy-etl"
    legacy = Scenario("p20-legacy-instance-role", "AN1328", f"arn:aws:iam::{ORG}:role/{role}", 1)
    legacy.records.append(create_role(at(DAY, hours=14), ALICE, ORG, role, seed="p20-create"))
    session = role_session(ORG, role, "etl-run", session_key("p20"))
    legacy.records += _reads(session, 300, 14 * 60 + 5, 9, LEGACY["ip"], "p20")
    legacy.flows = _exfil_flows("-", LEGACY["eni"], LEGACY["ip"], EXFIL_IP, 1_500_000_000, 14 * 60 + 25, 20)
    legacy.must_cite = [legacy.records[0]["eventID"], legacy.records[1]["eventID"]]
    cron = Scenario("n21-weekly-cron", "AN1328", f"arn:aws:iam::{ORG}:user/weekly-cron", 0)
    cron.records = _reads(user(ORG, "weekly-cron"), 300, 15 * 60, 8, "45.155.205.60", "n21", day=DAY - 1)
    nat = Scenario("nat-gateway-egress", "", "", 0)
    nat.flows = _exfil_flows("-", NAT["eni"], NAT["ip"], EXFIL_IP, 300_000_000, 16 * 60, 10)
    return [legacy, cron, nat]


def write_inventory(directory) -> list[str]:
    """The org's exports as the AWS CLI writes them: DescribeInstances, DescribeNetworkInterfaces
    and IAM GetAccountAuthorizationDetails."""
    instances = {"Reservations": [{"OwnerId": ORG, "ReservationId": "r-0c0ffee0c0ffee001", "Instances": [{
        "InstanceId": LEGACY["instance"], "InstanceType": "m6i.large", "LaunchTime": "2026-05-02T08:00:00+00:00",
        "PrivateIpAddress": LEGACY["ip"], "State": {"Code": 16, "Name": "running"},
        "IamInstanceProfile": {"Arn": LEGACY["profile"], "Id": "AIPA0C0FFEE0C0FFEE001"},
        "NetworkInterfaces": [{"NetworkInterfaceId": LEGACY["eni"], "OwnerId": ORG, "PrivateIpAddress": LEGACY["ip"],
                               "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": LEGACY["ip"]}],
                               "Attachment": {"DeviceIndex": 0, "Status": "attached"}}]}]}]}
    interfaces = {"NetworkInterfaces": [{
        "NetworkInterfaceId": NAT["eni"], "InterfaceType": "nat_gateway", "OwnerId": ORG, "RequesterManaged": True,
        "Description": "Interface for NAT Gateway nat-0aa7aa7aa7aa7aa70", "PrivateIpAddress": NAT["ip"],
        "PrivateIpAddresses": [{"Primary": True, "PrivateIpAddress": NAT["ip"]}]}]}
    iam = {"UserDetailList": [{"UserName": "weekly-cron", "Arn": f"arn:aws:iam::{ORG}:user/weekly-cron",
                               "CreateDate": "2026-06-01T09:00:00+00:00", "Path": "/"}],
           "RoleDetailList": [{"RoleName": "p20-legacy-etl", "Arn": f"arn:aws:iam::{ORG}:role/p20-legacy-etl",
                               "CreateDate": "2026-10-11T14:00:00+00:00", "Path": "/",
                               "InstanceProfileList": [{"Arn": LEGACY["profile"],
                                                        "InstanceProfileName": "legacy-etl-profile"}],
                               "RoleLastUsed": {}}]}
    paths = []
    for name, document in (("describe-instances.json", instances), ("describe-network-interfaces.json", interfaces),
                           ("account-authorization-details.json", iam)):
        (directory / name).write_text(json.dumps(document, indent=1))
        paths.append(str(directory / name))
    return paths
