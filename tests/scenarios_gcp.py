"""The Google Cloud acceptance scenarios, shaped like tests/scenarios.py: each has its own identities
so that one replay runs them all.

Every scenario returns its LogEntries (audit and VPC flow) and says which key it is about and how
many findings it must give. Background history starts at T0 (day 0); scenarios run on day 10,
past the test config's learning periods. Org project acme-prod (org domain acme.example); the
trusted partner project is partner-ops (both listed in tests/conftest.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tests import builders_gcp as g
from tests.builders import at

PROJECT = "acme-prod"
ZONE = "us-central1-a"
ALICE = "alice@acme.example"
OUTSIDER = "mallory@evil.example"
EXFIL_IP = "45.155.205.17"        # RU, AS208091 in the test GeoIP databases
ATTACKER_IP = "91.219.236.15"     # UA, AS48693
PARTNER_IP = "81.2.69.10"         # GB, AS20712
DAY = 10


@dataclass
class Scenario:
    name: str
    analytic: str
    key: str                      # principal key (AN1328) or session key (AN1348)
    expect: int
    entries: list = field(default_factory=list)
    must_cite: list = field(default_factory=list)   # event ids the finding must carry


def sa(name: str, project: str = PROJECT) -> str:
    return g.sa_email(name, project)


def _reads(principal, n, start_min, minutes, caller_ip, seed, *, nbytes=None, day=DAY,
           buckets=("fin-data", "hr-data", "ml-data")):
    step = minutes * 60 / n
    return [g.gcs_read(at(day, seconds=start_min * 60 + i * step), principal, PROJECT, buckets[i % len(buckets)],
                       f"exports/part-{i:05d}.parquet", caller_ip, seed=f"{seed}-read-{i}", nbytes=nbytes,
                       method="storage.objects.list" if i % 10 == 0 else "storage.objects.get") for i in range(n)]


def _flows(vm, src, dst, total, start_min, minutes, seed, n=12, reporter="SRC"):
    return [g.vpc_flow(at(DAY, minutes=start_min + i * minutes / n), PROJECT, ZONE, vm, src, dst, total // n,
                       seed=f"{seed}-flow-{i}", reporter=reporter) for i in range(n)]


def _vm_identity(name, n, reads_at, n_reads, egress_at, egress_dst, *, history=False, created_at=0,
                 reporter="SRC"):
    """A service account (new or old) that a VM runs as: it reads objects, then the VM sends data out."""
    email, vm, ip = sa(name), f"{name}-vm", f"10.128.{n}.7"
    sc = Scenario(name, "AN1328", f"serviceAccount:{email}", 0)
    if history:   # created long ago; the VM has read a little every day since day 0
        sc.entries.append(g.instances_insert(at(0, hours=1), ALICE, PROJECT, ZONE, vm, email, seed=f"{name}-vm"))
        for d in range(DAY):
            sc.entries += _reads(email, 3, 60, 5, ip, f"{name}-hist-{d}", day=d)
    else:
        sc.entries.append(g.create_service_account(at(DAY, minutes=created_at), ALICE, PROJECT, name,
                                                   seed=f"{name}-create"))
        sc.must_cite.append(sc.entries[-1]["insertId"])
        sc.entries.append(g.instances_insert(at(DAY, minutes=created_at + 1), ALICE, PROJECT, ZONE, vm, email,
                                             seed=f"{name}-vm"))
    reads = _reads(email, n_reads, reads_at, 9, ip, name)
    sc.entries += reads
    sc.must_cite.append(reads[0]["insertId"])
    if egress_at is not None:
        src, dst = (ip, egress_dst) if reporter == "SRC" else (egress_dst, ip)
        sc.entries += _flows(vm, src, dst, 1_500_000_000, egress_at, 20, name, reporter=reporter)
    return sc


def background() -> list[dict]:
    """Daily ordinary reads by established service accounts from day 0: the job's history starts
    then on every parallel instance, so day 10 is past every learning period."""
    return [e for n in range(8) for d in range(DAY + 1)
            for e in _reads(sa(f"bg-reader-{n}"), 1, 8 * 60 + n, 1, f"10.128.200.{n + 1}", f"bg{n}-{d}", day=d)]


def an1328() -> list[Scenario]:
    positive = _vm_identity("g-p1-etl-sync", 1, 5, 300, 25, EXFIL_IP)
    positive.expect = 1

    # A backdoor member bound into the project, then bulk downloads from an outside address.
    temp = "g-p2-temp.migration@gmail.com"
    downloads = Scenario("g-p2-member-download", "AN1328", f"user:{temp}", 1)
    downloads.entries = [g.set_project_iam_policy(at(DAY, hours=3), ALICE, PROJECT,
                                                  [("ADD", "roles/storage.objectViewer", f"user:{temp}")],
                                                  seed="g-p2-bind")]
    downloads.entries += _reads(temp, 250, 3 * 60 + 15, 8, "45.155.205.40", "g-p2", nbytes=6_000_000)
    downloads.must_cite = [downloads.entries[0]["insertId"], downloads.entries[1]["insertId"]]

    # Old, quiet since day 1, reads on day 10, then re-created (same name): the spike came first.
    before = _vm_identity("g-n4b-spike-first", 17, 5, 300, 40, EXFIL_IP, history=True)
    before.entries = [e for e in before.entries if e["timestamp"][:10] <= g.rfc3339(at(1))[:10]
                      or e["timestamp"][:10] == g.rfc3339(at(DAY))[:10]]
    before.entries.append(g.create_service_account(at(DAY, minutes=30), ALICE, PROJECT, "g-n4b-spike-first",
                                                   seed="g-n4b-recreate"))
    negatives = [
        _vm_identity("g-n1-old-sa", 11, 5, 300, 25, EXFIL_IP, history=True),          # weeks of history
        _vm_identity("g-n2-few-reads", 12, 5, 6, 25, EXFIL_IP),                       # a handful of reads
        _vm_identity("g-n3-org-egress", 13, 5, 300, 25, "198.51.100.7"),              # org address
        _vm_identity("g-n3b-private-egress", 14, 5, 300, 25, "10.9.9.9"),             # private address
        _vm_identity("g-n4-out-of-order", 15, 60, 300, 10, EXFIL_IP),                 # egress before spike
        before,                                                                       # spike before creation
        _vm_identity("g-n5-late-egress", 16, 5, 300, 5 * 60, EXFIL_IP),               # egress hours later
        _vm_identity("g-n11-inbound-only", 18, 5, 300, 25, EXFIL_IP, reporter="DEST"),  # data came in, not out
    ]
    return [positive, downloads] + negatives


PRIVILEGED = (("cloudresourcemanager.googleapis.com", "SetIamPolicy"),
              ("iam.googleapis.com", "google.iam.admin.v1.CreateServiceAccountKey"),
              ("compute.googleapis.com", "v1.compute.firewalls.insert"),
              ("logging.googleapis.com", "google.logging.v2.ConfigServiceV2.DeleteSink"))
READ_ONLY = (("cloudresourcemanager.googleapis.com", "GetIamPolicy"),
             ("compute.googleapis.com", "v1.compute.instances.list"),
             ("storage.googleapis.com", "storage.buckets.list"),
             ("iam.googleapis.com", "google.iam.admin.v1.ListServiceAccounts"))


def _calls(target, caller, caller_ip, start_min, seed, calls):
    """Calls made with the impersonated token: logged as the service account, caller in delegation."""
    out = []
    for i, (service, method) in enumerate(calls):
        when = at(DAY, minutes=start_min, seconds=40 * i)
        if method.endswith("CreateServiceAccountKey"):
            out.append(g.create_service_account_key(when, target, PROJECT, sa(f"{seed}-backdoor"), seed=f"{seed}-{i}",
                                                    caller_ip=caller_ip, delegation=[caller]))
        else:
            out.append(g.call_as(when, target, PROJECT, service, method, caller_ip, seed=f"{seed}-{i}",
                                 delegation=[caller]))
    return out


def _entry(name, caller, caller_ip, start_min, *, calls_after_min=1, calls=PRIVILEGED, history_ip=None):
    target = sa(name)
    caller_key = g.member(caller)
    sc = Scenario(name, "AN1348", f"{caller_key}=>serviceAccount:{target}", 0)
    if history_ip:   # the same caller impersonated this service account from this network every day
        for d in range(DAY):
            sc.entries.append(g.generate_access_token(at(d, hours=9), caller, PROJECT, target, history_ip,
                                                      seed=f"{name}-h{d}"))
    sc.entries.append(g.generate_access_token(at(DAY, minutes=start_min), caller, PROJECT, target, caller_ip,
                                              seed=f"{name}-token"))
    sc.entries += _calls(target, caller, caller_ip, start_min + calls_after_min, name, calls)
    # The entry and the calls up to the burst threshold (min_calls: 3 in the test config).
    sc.must_cite = [e["insertId"] for e in sc.entries[-5:-1]]
    return sc


def _gke_workloads() -> list[Scenario]:
    """Issue 12: GKE workloads (workload identity federation for GKE) impersonating acme-prod's
    service accounts from a NAT address new to them. acme-platform-7 is the org's but not in
    org_accounts: its audit logs show the cluster created with the project's pool, so its
    workloads are first-party (none). vendor-gke-1's pool was never seen created: an outsider (one)."""
    nat_ip, start = "34.234.17.5", 12 * 60

    def workload(project, number):
        return (f"principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/"
                f"{project}.svc.id.goog/subject/ns/kube-system/sa/cnrm-controller-manager")
    cluster = g.audit_entry(at(DAY, minutes=start - 30), project="acme-platform-7", service="container.googleapis.com",
                            method="google.container.v1.ClusterManager.CreateCluster", principal=ALICE,
                            caller_ip="198.51.100.10", seed="g-n14-cluster", resource_type="gke_cluster",
                            resource_name="projects/acme-platform-7/locations/us-central1/clusters/platform",
                            request={"@type": "type.googleapis.com/google.container.v1.CreateClusterRequest",
                                     "cluster": {"name": "platform", "workloadIdentityConfig": {
                                         "workloadPool": "acme-platform-7.svc.id.goog"}}})
    org = _entry("g-n14-org-gke-workload", workload("acme-platform-7", 401100223344), nat_ip, start)
    org.entries.insert(0, cluster)
    outside = _entry("g-p15-outside-gke-workload", workload("vendor-gke-1", 977700445566), nat_ip, start + 20)
    outside.expect = 1
    return [org, outside]


def an1348() -> list[Scenario]:
    positive = _entry("g-p3-deployer", OUTSIDER, ATTACKER_IP, 6 * 60)
    positive.expect = 1
    federated = _entry("g-p3b-ci", "principal://iam.googleapis.com/projects/914400112233/locations/global/"
                       "workloadIdentityPools/github/subject/repo:evil-org/payload:ref:refs/heads/main",
                       "91.219.236.20", 6 * 60 + 30)
    federated.expect = 1
    # The partner project's credentials used from elsewhere: outside its allowlist entry.
    stolen = _entry("g-p11-partner-stolen", sa("nightly", "partner-ops"), ATTACKER_IP, 7 * 60 + 30,
                    history_ip=PARTNER_IP)
    stolen.expect = 1
    # A partner domain's engineer and a partner's workload identity pool (tests/data/allowlist.yaml):
    # from elsewhere a finding naming the entry, from the partner's network none.
    engineer, pool = "ops@partner.example", ("principal://iam.googleapis.com/projects/555500001111/locations/"
                                             "global/workloadIdentityPools/partner-ci/subject/deployer")
    partner_elsewhere = [_entry("g-p12-partner-domain-stolen", engineer, ATTACKER_IP, 7 * 60 + 40,
                                history_ip=PARTNER_IP),
                         _entry("g-p13-partner-pool-stolen", pool, ATTACKER_IP, 7 * 60 + 50, history_ip=PARTNER_IP)]
    for scenario in partner_elsewhere:
        scenario.expect = 1
    negatives = [
        _entry("g-n11-partner-domain-office", engineer, PARTNER_IP, 8 * 60 + 40, history_ip=PARTNER_IP),
        _entry("g-n12-partner-pool-office", pool, PARTNER_IP, 8 * 60 + 50, history_ip=PARTNER_IP),
        _entry("g-n6-partner-access", sa("nightly", "partner-ops"), PARTNER_IP, 7 * 60, history_ip=PARTNER_IP),
        _entry("g-n7-same-project", sa("g-n7-ci"), ATTACKER_IP, 8 * 60),
        _entry("g-n7b-org-domain", "bob@acme.example", ATTACKER_IP, 8 * 60 + 30),
        _entry("g-n8-read-only", OUTSIDER, ATTACKER_IP, 9 * 60, calls=READ_ONLY),
        _entry("g-n9-familiar-network", sa("sync", "vendor-tools"), "52.94.1.20", 10 * 60, history_ip="52.94.1.20"),
        _entry("g-n10-calls-too-late", OUTSIDER, ATTACKER_IP, 11 * 60, calls_after_min=3 * 60),
    ]
    return [positive, federated, stolen] + partner_elsewhere + negatives + _gke_workloads()


def all_scenarios() -> list[Scenario]:
    return an1328() + an1348()
