"""The acceptance scenarios of issue 2, each with its own identities so that one replay runs them all.

Every scenario returns its CloudTrail records and flow lines and says which key it is about
and how many findings it must give. Background history starts at T0; scenarios run on day 10,
well past the test config's learning periods.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tests.builders import (assume_role, at, call, create_role, create_user, flow_line, get_object,
                            role_session, session_key, user)

ORG = "111122223333"
PARTNER = "777788889999"          # an allowlist entry in the test config (tests/data/allowlist.yaml)
VENDOR = "555566667777"           # untrusted, but has reached role/OpsAccess from AWS for weeks
OUTSIDER = "999900001111"
EXFIL_IP = "45.155.205.17"        # RU, AS208091 in the test GeoIP databases
ATTACKER_IP = "91.219.236.15"     # UA, AS48693
HIJACK_IP = "45.155.205.99"       # RU, AS208091: new for PartnerAccess (p11 makes ATTACKER_IP familiar to it)
ALICE = user(ORG, "alice")
DAY = 10


@dataclass
class Scenario:
    name: str
    analytic: str
    key: str                      # principal ARN (AN1328) or session key (AN1348)
    expect: int
    records: list = field(default_factory=list)
    flows: list = field(default_factory=list)
    must_cite: list = field(default_factory=list)   # event ids the finding must carry


def _reads(identity, n, start, minutes, src_ip, seed, nbytes=4_000_000, buckets=("fin-data", "hr-data", "ml-data"),
           day=DAY):
    step = minutes * 60 / n
    return [get_object(at(day, seconds=start * 60 + i * step), identity, buckets[i % len(buckets)],
                       f"exports/part-{i:05d}.parquet", nbytes, src_ip, seed=f"{seed}-read-{i}") for i in range(n)]


def _exfil_flows(instance, eni, src, dst, total, start_min, minutes, n=12):
    return [flow_line(ORG, eni, src, dst, total // n, at(DAY, minutes=start_min + i * minutes / n), instance=instance)
            for i in range(n)]


def _instance_role(name, hexid, created_at_min, reads_at_min, n_reads, egress_at_min, egress_dst, *, history=False):
    """A role created (or old) whose EC2 instance reads objects, then sends data to egress_dst."""
    instance, eni, ip = f"i-0{hexid:0>16}", f"eni-0{hexid:0>16}", f"10.1.{int(hexid[-2:], 16)}.7"
    session = role_session(ORG, name, instance, session_key(name))
    sc = Scenario(name, "AN1328", f"arn:aws:iam::{ORG}:role/{name}", 0)
    if history:   # weeks of ordinary use before the day of the scenario
        for d in range(DAY):
            sc.records += _reads(session, 3, 60, 5, ip, f"{name}-hist-{d}", day=d)
    else:
        sc.records.append(create_role(at(DAY, minutes=created_at_min), ALICE, ORG, name, seed=f"{name}-create"))
        sc.must_cite.append(sc.records[-1]["eventID"])
    sc.records += _reads(session, n_reads, reads_at_min, 9, ip, name)
    if egress_at_min is not None:
        sc.flows += _exfil_flows(instance, eni, ip, egress_dst, 1_500_000_000, egress_at_min, 20)
    return sc


def an1328() -> list[Scenario]:
    positive = _instance_role("p1-svc-sync", "a1", 0, 5, 300, 25, EXFIL_IP)
    positive.expect = 1
    positive.must_cite += [positive.records[1]["eventID"]]

    downloader = user(ORG, "p2-tmp-migration")
    s3 = Scenario("p2-s3-download", "AN1328", f"arn:aws:iam::{ORG}:user/p2-tmp-migration", 1)
    s3.records = [create_user(at(DAY, hours=3), ALICE, ORG, "p2-tmp-migration", seed="p2-create")]
    s3.records += _reads(downloader, 250, 3 * 60 + 15, 8, "45.155.205.40", "p2", nbytes=6_000_000)
    s3.must_cite = [s3.records[0]["eventID"], s3.records[1]["eventID"]]

    negatives = [
        _instance_role("n1-old-role", "b1", 0, 5, 300, 25, EXFIL_IP, history=True),     # weeks of history
        _instance_role("n2-few-reads", "b2", 0, 5, 6, 25, EXFIL_IP),                     # a handful of reads
        _instance_role("n3-org-egress", "b3", 0, 5, 300, 25, "198.51.100.7"),           # org address
        _instance_role("n3b-private-egress", "b4", 0, 5, 300, 25, "10.9.9.9"),          # private address
        _instance_role("n4-out-of-order", "b5", 0, 60, 300, 10, EXFIL_IP),              # egress before spike
        _instance_role("n5-late-egress", "b6", 0, 5, 300, 5 * 60, EXFIL_IP),            # egress hours later
    ]
    return [positive, s3] + negatives


def _privileged_calls(session, src_ip, start_min, seed, names=("AttachRolePolicy", "CreateAccessKey",
                                                                 "PutBucketPolicy", "StopLogging")):
    sources = {"AttachRolePolicy": "iam.amazonaws.com", "CreateAccessKey": "iam.amazonaws.com",
               "PutBucketPolicy": "s3.amazonaws.com", "StopLogging": "cloudtrail.amazonaws.com",
               "DescribeInstances": "ec2.amazonaws.com", "ListBuckets": "s3.amazonaws.com",
               "GetBucketPolicy": "s3.amazonaws.com", "ListRoles": "iam.amazonaws.com"}
    return [call(at(DAY, minutes=start_min, seconds=40 * i), session, sources[n], n, src_ip,
                 seed=f"{seed}-call-{i}", account=ORG) for i, n in enumerate(names)]


def _entry(name, caller, role, src_ip, start_min, *, calls_after_min=1, calls=None, history_ip=None):
    key = session_key(name)
    role_arn = f"arn:aws:iam::{ORG}:role/{role}"
    sc = Scenario(name, "AN1348", key, 0)
    if history_ip:   # the same outside principal reached this role from this network every day
        for d in range(DAY):
            hist_key = session_key(f"{name}-hist-{d}")
            when = at(d, hours=9)
            sc.records.append(assume_role(when, caller, role_arn, "ops", hist_key, history_ip, seed=f"{name}-h{d}"))
    sc.records.append(assume_role(at(DAY, minutes=start_min), caller, role_arn, name, key, src_ip, seed=f"{name}-assume"))
    session = role_session(ORG, role, name, key)
    kwargs = {"names": calls} if calls else {}
    sc.records += _privileged_calls(session, src_ip, start_min + calls_after_min, name, **kwargs)
    # The entry and the calls up to the burst threshold (min_calls: 3 in the test config).
    sc.must_cite = [r["eventID"] for r in sc.records[-5:-1]]
    return sc


def an1348() -> list[Scenario]:
    outsider = user(OUTSIDER, "ext-ops")
    positive = _entry("p3-outside-burst", outsider, "p3-Deploy", ATTACKER_IP, 6 * 60)
    positive.expect = 1
    partner = role_session(PARTNER, "PartnerAutomation", "nightly", session_key("partner-caller"))
    vendor = user(VENDOR, "vendor-ops")
    negatives = [
        _entry("n6-trusted-partner", partner, "PartnerAccess", "81.2.69.10", 7 * 60, history_ip="81.2.69.10"),
        _entry("n7-same-account", user(ORG, "bob"), "n7-Admin", ATTACKER_IP, 8 * 60),
        _entry("n8-read-only", outsider, "n8-Audit", ATTACKER_IP, 9 * 60,
               calls=("DescribeInstances", "ListBuckets", "GetBucketPolicy", "ListRoles")),
        _entry("n9-familiar-network", vendor, "OpsAccess", "52.94.1.20", 10 * 60, history_ip="52.94.1.20"),
        _entry("n10-calls-too-late", outsider, "n10-Deploy", ATTACKER_IP, 11 * 60, calls_after_min=3 * 60),
    ]
    # The partner's credentials used from elsewhere: outside its allowlist entry (tests/data/allowlist.yaml).
    stolen = _entry("p11-stolen-partner", partner, "PartnerAccess", ATTACKER_IP, 7 * 60 + 30, history_ip="81.2.69.10")
    stolen.expect = 1
    # Another partner principal than p11's: AN1348 suppresses by role and outside principal.
    hijacked = _entry("p12-partner-session-used-elsewhere", user(PARTNER, "partner-ops"), "PartnerAccess", "81.2.69.10",
                      7 * 60 + 45)
    for record in hijacked.records[1:]:      # let in from the office; its calls then come from elsewhere
        record["sourceIPAddress"] = HIJACK_IP
    hijacked.expect = 1
    return [positive, stolen, hijacked] + negatives


def suppression_scenarios() -> list[Scenario]:
    """A principal repeating the AN1328 chain three times in a day (created again each time, as a
    contractor account recycled by a script would be): three matches, one finding, counted three
    times (AN1328's suppress: by principal, for 24h). Its records share one uid, so it is kept
    out of all_scenarios, whose users count one finding per uid."""
    name = "p4-contractor"
    repeat = Scenario("p4-chain-three-times", "AN1328", f"arn:aws:iam::{ORG}:user/{name}", 3)
    for n, hour in enumerate((12, 16, 20)):
        repeat.records.append(create_user(at(DAY, hours=hour), ALICE, ORG, name, seed=f"p4-create-{n}"))
        repeat.records += _reads(user(ORG, name), 250, hour * 60 + 15, 8, "45.155.205.41", f"p4-{n}",
                                 nbytes=6_000_000)
    return [repeat]


def all_scenarios() -> list[Scenario]:
    return an1328() + an1348()
