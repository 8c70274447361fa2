"""The Azure acceptance scenarios, shaped like tests/scenarios.py: each with its own identities so
that one replay runs them all.

AN1328: a managed identity created minutes earlier, attached to a VM, reads blobs across
containers; the VM (NSG flow logs, bound to the identity through the NIC's private IP) sends data
to an external address. Or a new service principal downloads blobs from an external address.
AN1348: a guest of another tenant (or another tenant's app) signs in, then the same principal
makes privileged ARM calls. Background history starts at T0; scenarios run on day 10.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tests.builders_azure import (ORG_TENANT, SUB, activity, activity_id, activity_la, add_service_principal, at,
                                  blob_read, blob_read_la, create_managed_identity, guid, managed_identity,
                                  nsg_record, nsg_tuple, resource, service_principal, signin, signin_la, user,
                                  vm_names, vnet_record, vnet_tuple, write_nic, write_vm)

PARTNER_TENANT = "77777777-8888-9999-aaaa-bbbbbbbbbbbb"   # trusted_accounts in the test config
VENDOR_TENANT = "55555555-6666-7777-8888-999999999999"    # untrusted, reaches us from AWS networks daily
OUTSIDER_TENANT = "99999999-0000-1111-2222-333333333333"
EXFIL_IP = "45.155.205.17"        # RU, AS208091 in the test GeoIP databases
ATTACKER_IP = "91.219.236.15"     # UA, AS48693
OFFICE_IP = "198.51.100.10"       # org CIDR
ALICE = user("alice")
DAY = 10
CONTAINERS = ("fin-data", "hr-data", "ml-data")


@dataclass
class Scenario:
    name: str
    analytic: str
    key: str                      # principal key (AN1328) or session key (AN1348)
    expect: int
    records: list = field(default_factory=list)   # Activity Log, Entra, storage (export shape)
    tables: list = field(default_factory=list)    # Log Analytics rows
    flows: list = field(default_factory=list)     # NSG / VNet flow-log records
    must_cite: list = field(default_factory=list)  # event ids the finding must carry


def record_id(record: dict) -> str:
    """The id the job gives a record of these builders."""
    if "properties" in record and isinstance(record["properties"], dict) and "id" in record["properties"]:
        return record["properties"]["id"]              # Entra sign-in / audit
    if record.get("category") == "StorageRead":
        return record["correlationId"]
    return activity_id(record)


def _reads(principal, n, start_min, minutes, src_ip, seed, nbytes=4_000_000, day=DAY, account="stacmedata",
           la=False):
    step = minutes * 60 / n
    build = blob_read_la if la else blob_read
    return [build(at(day, seconds=start_min * 60 + i * step), principal, account, CONTAINERS[i % 3],
                  f"exports/part-{i:05d}.parquet", nbytes, src_ip, seed=f"{seed}-read-{i}", port=50000 + i % 9000)
            for i in range(n)]


def _egress(names, nsg, mac, dst, total, start_min, minutes, n=12):
    """A connection from the VM: its begin tuple, then n continuing tuples moving `total` bytes."""
    records = [nsg_record(at(DAY, minutes=start_min), nsg, mac, [nsg_tuple(at(DAY, minutes=start_min), names["ip"],
                                                                           dst, 0, state="B")])]
    for i in range(n):
        when = at(DAY, minutes=start_min + (i + 1) * minutes / n)
        records.append(nsg_record(when, nsg, mac, [nsg_tuple(when, names["ip"], dst, total // n,
                                                             state="E" if i == n - 1 else "C")]))
    return records


def _vnet_egress(names, dst, total, start_min, minutes, n=12):
    """VNet flow logs enabled on the NIC itself: each record names its NIC, no IP binding needed."""
    return [vnet_record(at(DAY, minutes=start_min + (i + 1) * minutes / n), names["nic"], "000D3A00C1C1",
                        [vnet_tuple(at(DAY, minutes=start_min + (i + 1) * minutes / n), names["ip"], dst, total // n)])
            for i in range(n)]


def _vm_identity(name, octet, created_at_min, reads_at_min, n_reads, egress_at_min, egress_dst, *, history=False,
                 vnet=False):
    """A managed identity (created, or old) on a VM that reads blobs, then the VM sends data out."""
    mi = managed_identity(f"id-{name}")
    names = vm_names(name, octet)
    sc = Scenario(name, "AN1328", f"azure:{mi['oid']}", 0)
    setup_day, setup_min = (0, 30) if history else (DAY, created_at_min)
    if not history:
        sc.records.append(create_managed_identity(at(DAY, minutes=created_at_min), ALICE, mi, seed=f"{name}-mi"))
        sc.must_cite.append(record_id(sc.records[-1]))
    sc.records.append(write_vm(at(setup_day, minutes=setup_min + 1), ALICE, names, mi, seed=f"{name}-vm"))
    if not vnet:
        sc.records.append(write_nic(at(setup_day, minutes=setup_min + 2), ALICE, names, seed=f"{name}-nic"))
    if history:   # weeks of ordinary use before the day of the scenario
        for d in range(DAY):
            sc.records += _reads(mi, 3, 60, 5, names["ip"], f"{name}-hist-{d}", day=d)
    sc.records += _reads(mi, n_reads, reads_at_min, 9, names["ip"], name)
    if egress_at_min is not None and vnet:
        sc.flows += _vnet_egress(names, egress_dst, 1_500_000_000, egress_at_min, 20)
    elif egress_at_min is not None:
        sc.flows += _egress(names, f"nsg-{name}", f"000D3A{octet:06X}", egress_dst, 1_500_000_000, egress_at_min, 20)
    return sc


def an1328() -> list[Scenario]:
    positive = _vm_identity("p1-mi-sync", 0xa1, 0, 5, 300, 25, EXFIL_IP)
    positive.expect = 1
    positive.must_cite.append(record_id(positive.records[3]))   # the first blob read

    sp = service_principal("p2-tmp-migration", ORG_TENANT)
    download = Scenario("p2-blob-download", "AN1328", f"azure:{sp['oid']}", 1)
    download.records = [add_service_principal(at(DAY, hours=3), ALICE, sp, seed="p2-create")]
    download.tables = _reads(sp, 250, 3 * 60 + 15, 8, "45.155.205.40", "p2", nbytes=6_000_000, la=True)
    download.must_cite = [download.records[0]["properties"]["id"], download.tables[0]["CorrelationId"]]

    # VNet flow logs on the VM's NIC: the flow names its NIC, bound to the identity by the VM write.
    vnet = _vm_identity("p1b-mi-vnet", 0xa2, 30, 35, 300, 55, EXFIL_IP, vnet=True)
    vnet.expect = 1
    vnet.must_cite.append(record_id(vnet.records[2]))

    negatives = [
        _vm_identity("n1-old-identity", 0xb1, 0, 5, 300, 25, EXFIL_IP, history=True),    # weeks of history
        _vm_identity("n2-few-reads", 0xb2, 0, 5, 6, 25, EXFIL_IP),                       # a handful of reads
        _vm_identity("n3-org-egress", 0xb3, 0, 5, 300, 25, "198.51.100.7"),             # org address
        _vm_identity("n3b-private-egress", 0xb4, 0, 5, 300, 25, "10.9.9.9", vnet=True),  # private address
        _vm_identity("n4-out-of-order", 0xb5, 0, 60, 300, 10, EXFIL_IP),                 # egress before spike
        _vm_identity("n5-late-egress", 0xb6, 0, 5, 300, 5 * 60, EXFIL_IP),               # egress hours later
    ]
    return [positive, vnet, download] + negatives


_PRIVILEGED = (("Microsoft.Authorization/roleAssignments/write",
                resource("Microsoft.Authorization/roleAssignments", guid("ra-new"), rg="rg-prod")),
               ("Microsoft.KeyVault/vaults/accessPolicies/write",
                resource("Microsoft.KeyVault/vaults", "kv-prod/accessPolicies/add", rg="rg-prod")),
               ("Microsoft.Insights/diagnosticSettings/delete",
                f"/subscriptions/{SUB}/providers/microsoft.insights/diagnosticSettings/send-to-sentinel"),
               ("Microsoft.Compute/snapshots/beginGetAccess/action",
                resource("Microsoft.Compute/snapshots", "snap-db01", rg="rg-prod")))
# ARM logs few reads; these are reads and everyday actions, none of them in the privileged catalog.
_NOT_PRIVILEGED = (("Microsoft.Compute/virtualMachines/read", resource("Microsoft.Compute/virtualMachines", "vm-db01")),
                   ("Microsoft.Storage/storageAccounts/read",
                    resource("Microsoft.Storage/storageAccounts", "stacmedata")),
                   ("Microsoft.Compute/virtualMachines/start/action",
                    resource("Microsoft.Compute/virtualMachines", "vm-db01")),
                   ("Microsoft.Resources/tags/write",
                    f"/subscriptions/{SUB}/providers/Microsoft.Resources/tags/default"))


def _calls(principal, src_ip, start_min, seed, operations=_PRIVILEGED):
    """One call every 40 s; each ARM write is logged as Start, then Success (only the final counts)."""
    records = []
    for i, (operation, target) in enumerate(operations):
        when = at(DAY, minutes=start_min, seconds=40 * i)
        if not operation.endswith("/read"):
            records.append(activity(when, principal, operation, target, src_ip, seed=f"{seed}-call-{i}",
                                    status="Start"))
        records.append(activity(when + timedelta(seconds=2), principal, operation, target, src_ip,
                                seed=f"{seed}-call-{i}"))
    return records


def _entry(name, principal, src_ip, start_min, *, calls_after_min=1, operations=_PRIVILEGED, history_ip=None):
    sc = Scenario(name, "AN1348", f"azure-session:{principal['oid']}", 0)
    if history_ip:   # the same outside principal reached us from this network every day
        for d in range(DAY):
            sc.records.append(signin(at(d, hours=9), principal, history_ip, seed=f"{name}-h{d}"))
            sc.records.append(activity(at(d, hours=9, minutes=5), principal,
                                       "Microsoft.Resources/subscriptions/resourceGroups/read",
                                       f"/subscriptions/{SUB}/resourceGroups/{name}", history_ip, seed=f"{name}-hr{d}"))
    sc.records.append(signin(at(DAY, minutes=start_min), principal, src_ip, seed=f"{name}-signin"))
    calls = _calls(principal, src_ip, start_min + calls_after_min, name, operations)
    sc.records += calls
    finals = [r for r in calls if r["resultType"] == "Success"]
    # The entry and the final records of the calls up to the burst threshold (min_calls: 3).
    sc.must_cite = [sc.records[-len(calls) - 1]["properties"]["id"]] + [record_id(r) for r in finals[:3]]
    return sc


def _first_party_workloads() -> list[Scenario]:
    """Issue 12: the org's own workloads calling privileged APIs right after creation from a NAT
    address new to them: a user-assigned managed identity (it never signs in as an outsider can)
    and an app of the org's tenant signing in by workload identity federation (an AKS pod). None."""
    nat_ip, start = "34.234.17.5", 12 * 60
    mi = managed_identity("n14-aks-agentpool")
    identity = Scenario("n14-org-managed-identity", "AN1348", f"azure-session:{mi['oid']}", 0)
    identity.records = [create_managed_identity(at(DAY, minutes=start - 2), user("alice"), mi, seed="n14-create")]
    identity.records += _calls(mi, nat_ip, start, "n14")
    federated = _entry("n15-org-workload-federation", service_principal("n15-aks-external-dns", ORG_TENANT), nat_ip,
                       start + 20)
    signin_record = next(r for r in federated.records if r.get("category") == "ServicePrincipalSignInLogs")
    signin_record["properties"]["clientCredentialType"] = "federatedIdentityCredential"
    return [identity, federated]


def an1348() -> list[Scenario]:
    guest = user("mallory", home=OUTSIDER_TENANT, domain="outsider.example")
    positive = _entry("p3-guest-burst", guest, ATTACKER_IP, 6 * 60)
    positive.expect = 1
    vendor_app = service_principal("p4-vendor-sync", OUTSIDER_TENANT)
    app_positive = _entry("p4-outside-app-burst", vendor_app, ATTACKER_IP, 6 * 60 + 30)
    app_positive.expect = 1
    partner = user("pat", home=PARTNER_TENANT, domain="partner.example")
    # A partner guest's credentials used from elsewhere: outside its allowlist entry.
    stolen = _entry("p11-stolen-partner", user("quinn", home=PARTNER_TENANT, domain="partner.example"), ATTACKER_IP,
                    7 * 60 + 30, history_ip="81.2.69.10")
    stolen.expect = 1
    negatives = [
        _entry("n6-trusted-partner", partner, "81.2.69.10", 7 * 60, history_ip="81.2.69.10"),
        _entry("n7-same-tenant", user("bob"), ATTACKER_IP, 8 * 60),
        _entry("n8-not-privileged", user("trent", home=OUTSIDER_TENANT, domain="outsider.example"), ATTACKER_IP,
               9 * 60, operations=_NOT_PRIVILEGED),
        _entry("n9-familiar-network", service_principal("n9-vendor-ops", VENDOR_TENANT), "52.94.1.20", 10 * 60,
               history_ip="52.94.1.20"),
        _entry("n10-calls-too-late", user("oscar", home=OUTSIDER_TENANT, domain="outsider.example"), ATTACKER_IP,
               11 * 60, calls_after_min=3 * 60),
    ]
    return [positive, app_positive, stolen] + negatives + _first_party_workloads()


def background() -> Scenario:
    """Everyday activity from day 0: org users and apps that sign in, read blobs and call ARM."""
    sc = Scenario("background", "", "", 0)
    people = [user(n) for n in ("alice", "carol", "dave", "erin", "frank")]
    apps = [service_principal(n, ORG_TENANT) for n in ("backup-agent", "ci-deploy", "etl-nightly")]
    for d in range(DAY + 1):
        for n, principal in enumerate(people + apps):
            when = at(d, hours=8, minutes=7 * n)
            if principal["kind"] == "user" and n % 2:
                sc.tables.append(signin_la(when, principal, OFFICE_IP, seed=f"bg-{d}-{n}-signin"))
            else:
                sc.records.append(signin(when, principal, OFFICE_IP, seed=f"bg-{d}-{n}-signin"))
            sc.tables.append(activity_la(when + timedelta(minutes=2), principal,
                                         "Microsoft.Compute/virtualMachines/read",
                                         resource("Microsoft.Compute/virtualMachines", "vm-db01"), OFFICE_IP,
                                         seed=f"bg-{d}-{n}-read"))
            sc.records += _reads(principal, 4, 8 * 60 + 7 * n + 3, 2, "10.2.1.9", f"bg-{d}-{n}", nbytes=200_000,
                                 day=d)
    return sc


def all_scenarios() -> list[Scenario]:
    return an1328() + an1348()
