"""Benign background activity: the normal life of the org, hour by hour.

Includes the known false-positive sources a detector must tolerate: the
NightlyAnalytics read burst at 02:00, the 2 GB nightly backup to an
allowlisted SaaS at 03:00, and the partner's cross-account role assumptions.
"""
from __future__ import annotations

import math
import random

from chainwatch.sample import cloudtrail_events as ct
from chainwatch.sample.cloudtrail_events import EventFactory, session_identity, user_identity
from chainwatch.sample.flows import UDP, Flow, instance_flow, nodata
from chainwatch.sample.ids import Ids, utc
from chainwatch.sample.org import (BACKUP_SAAS_NET, DATA, DNS_SERVER, INTERNAL_SERVICES, OFFICE_NET, PARTNER_NET,
                                   PROD, Instance, Org, Session, User)

HOUR = 3600
VPCE = "vpce-0f1e2d3c4b5a69788"
PARTNER_HOURS = (7, 13, 19)
NIGHTLY_READS = 300
SCANNER_NETS = ("162.142.125", "167.94.138", "193.163.125", "71.6.199")
# Shares of the hourly budget; the management share follows office hours.
MGMT_SHARE, S3_SHARE, FLOW_SHARE = 0.25, 0.30, 0.45


def _diurnal(hour: int) -> float:
    # 13:00-23:00 UTC is the New York working day; the weights average 1.
    return 1.8 if 13 <= hour < 23 else 6 / 14


def _count(rng: random.Random, mean: float) -> int:
    return max(0, round(mean * rng.uniform(0.85, 1.15)))


def _bytes(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


_READ_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", lambda r: {"instancesSet": {}, "filterSet": {}}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", lambda r: {"securityGroupSet": {}, "filterSet": {}}),
    ("ec2.amazonaws.com", "DescribeVolumes", lambda r: {"volumeSet": {}, "filterSet": {}}),
    ("s3.amazonaws.com", "ListBuckets", lambda r: {"Host": "s3.amazonaws.com"}),
    ("s3.amazonaws.com", "GetBucketPolicy",
     lambda r: {"bucketName": (b := r.choice(["example-corp-app-data", "example-corp-logs"])),
                "Host": f"{b}.s3.amazonaws.com", "policy": ""}),
    ("iam.amazonaws.com", "ListUsers", lambda r: None),
    ("iam.amazonaws.com", "ListRoles", lambda r: None),
    ("iam.amazonaws.com", "GetUser", lambda r: None),
    ("sts.amazonaws.com", "GetCallerIdentity", lambda r: None),
    ("cloudtrail.amazonaws.com", "DescribeTrails", lambda r: {"includeShadowTrails": False}),
    ("logs.amazonaws.com", "DescribeLogGroups", lambda r: {"limit": 50}),
    ("lambda.amazonaws.com", "ListFunctions20150331", lambda r: None),
    ("cloudwatch.amazonaws.com", "GetMetricData", lambda r: {"startTime": "", "endTime": ""}),
]


class Background:
    def __init__(self, org: Org, rng: random.Random, start: int, days: int, per_hour: int):
        self.org, self.rng, self.start, self.days, self.per_hour = org, rng, start, days, per_hour
        self.ids = Ids(rng)
        self.f = EventFactory(self.ids)
        self.events: list[dict] = []
        self.flows: list[Flow] = []
        self.sessions: dict[str, Session] = {}

    def run(self) -> tuple[list[dict], list[Flow]]:
        self._launch_instances()
        for h in range(self.days * 24):
            t = self.start + h * HOUR
            hour = utc(t).hour
            # Instances only exist ten minutes into the first hour.
            active_from = t + 600 if h == 0 else t
            if h % 6 == 0 and h > 0:
                self._rotate_credentials(t)
            self._management(t, _count(self.rng, self.per_hour * MGMT_SHARE * _diurnal(hour)))
            self._instance_reads(active_from, t + HOUR, _count(self.rng, self.per_hour * S3_SHARE * 0.9))
            self._etl(t, _count(self.rng, self.per_hour * S3_SHARE * 0.1))
            self._instance_flows(active_from, t + HOUR, _count(self.rng, self.per_hour * FLOW_SHARE))
            if hour in PARTNER_HOURS:
                self._partner(t + self.rng.randint(0, 50 * 60))
            if hour == 2:
                self._nightly_analytics(t)
            if hour == 3:
                self._nightly_backup(t + self.rng.randint(60, 300))
        return self.events, self.flows

    # -- identities ------------------------------------------------------

    def _issue(self, inst: Instance, ts: int) -> Session:
        session = Session(inst.role, inst.instance_id, self.ids.access_key("ASIA"), ts,
                          inst.private_ip, self.rng.choice([ct.JAVA_UA, ct.BOTO_UA]))
        self.events.append(self.f.assume_role(ts, ct.ec2_service_identity(), "ec2.amazonaws.com",
                                              "ec2.amazonaws.com", session, duration=21600))
        self.sessions[inst.instance_id] = session
        return session

    def _launch_instances(self) -> None:
        deployer = self.org.user(PROD, "ci-deploy")
        ts = self.start + 20
        by_role: dict[str, list[Instance]] = {}
        for inst in self.org.instances:
            by_role.setdefault(inst.role.name, []).append(inst)
        for group in by_role.values():
            ts += self.rng.randint(15, 50)
            self.events.append(self.f.run_instances(ts, user_identity(deployer), PROD, deployer.source_ip,
                                                    ct.TERRAFORM_UA, group))
            for inst in group:
                self._issue(inst, ts + self.rng.randint(40, 90))

    def _rotate_credentials(self, t: int) -> None:
        # Instance-profile credentials are refreshed well before they expire.
        for inst in self.org.instances:
            self._issue(inst, t - self.rng.randint(60, 600))

    # -- CloudTrail --------------------------------------------------------

    def _read_call(self, ts: int, identity: dict, account: str, ip: str, ua: str,
                   only: tuple[str, ...] | None = None) -> dict:
        calls = [c for c in _READ_CALLS if only is None or c[1] in only]
        source, name, params = self.rng.choice(calls)
        return self.f.event(ts, identity, account, source, name, ip, ua, params(self.rng), None, read_only=True)

    def _management(self, t: int, n: int) -> None:
        rng, org = self.rng, self.org
        users = org.prod_users + org.data_users
        weights = [4 if u.name in ("alice", "ci-deploy") else 1 for u in org.prod_users] + [1] * len(org.data_users)
        while n > 0:
            user = rng.choices(users, weights)[0]
            ts = t + rng.randint(0, HOUR - 1)
            roll = rng.random()
            if roll < 0.04:
                self.events.append(self.f.console_login(ts, user))
                n -= 1
            elif roll < 0.09 and user.account == PROD:
                n -= self._assume_same_account(ts, user)
            else:
                ua = ct.TERRAFORM_UA if user.name == "ci-deploy" else rng.choice([ct.CLI_UA, ct.CONSOLE_UA])
                self.events.append(self._read_call(ts, user_identity(user), user.account, user.source_ip, ua))
                n -= 1

    def _assume_same_account(self, ts: int, user: User) -> int:
        role = self.rng.choice(self.org.same_account_roles)
        session = Session(role, user.name, self.ids.access_key("ASIA"), ts, user.source_ip, ct.CLI_UA)
        self.events.append(self.f.assume_role(ts, user_identity(user), user.source_ip, ct.CLI_UA, session))
        calls = self.rng.randint(2, 5)
        for _ in range(calls):
            ts += self.rng.randint(5, 120)
            self.events.append(self._read_call(ts, session_identity(session), PROD, user.source_ip, ct.CLI_UA))
        return calls + 1

    def _s3_read(self, ts: int, session: Session, owner: str, bucket: str, *, vpce: str | None,
                 size: tuple[int, int] = (1024, 2_000_000), name: str | None = None) -> dict:
        rng = self.rng
        ident = session_identity(session)
        name = name or rng.choices(["GetObject", "ListObjects", "HeadObject"], [85, 10, 5])[0]
        day = utc(ts)
        prefix = f"{bucket.split('-')[-1]}/{day:%Y/%m/%d}/"
        if name == "ListObjects":
            return self.f.s3_list(ts, ident, owner, session.source_ip, session.user_agent, bucket, prefix,
                                  rng.randint(600, 40_000), vpce)
        key = f"{prefix}part-{rng.randint(0, 9999):05d}.{rng.choice(['parquet', 'json.gz', 'csv'])}"
        nbytes = _bytes(rng, *size) if name == "GetObject" else 0
        return self.f.s3_object(ts, ident, owner, session.source_ip, session.user_agent, name, bucket, key,
                                nbytes, vpce)

    def _instance_reads(self, t0: int, t1: int, n: int) -> None:
        insts = self.org.instances
        weights = [i.s3_weight for i in insts]
        for _ in range(n):
            inst = self.rng.choices(insts, weights)[0]
            ts = self.rng.randint(t0, t1 - 1)
            self.events.append(self._s3_read(ts, self.sessions[inst.instance_id], PROD,
                                             self.rng.choice(inst.buckets), vpce=VPCE))

    def _etl(self, t: int, n: int) -> None:
        # A managed ETL service in the data account; its calls come from AWS public addresses.
        session = Session(self.org.etl_role, "GlueJobRunnerSession", self.ids.access_key("ASIA"), t,
                          f"34.234.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}", ct.JAVA_UA)
        for _ in range(n):
            ts = t + self.rng.randint(60, HOUR - 1)
            self.events.append(self._s3_read(ts, session, DATA, self.rng.choice(self.org.data_buckets), vpce=None))

    def _nightly_analytics(self, t: int) -> None:
        inst = next(i for i in self.org.instances if i.role.name == "NightlyAnalytics")
        session = self.sessions[inst.instance_id]
        for _ in range(_count(self.rng, NIGHTLY_READS)):
            ts = t + self.rng.randint(0, 599)
            self.events.append(self._s3_read(ts, session, PROD, self.rng.choice(inst.buckets), vpce=VPCE,
                                             size=(1_000_000, 6_000_000), name="GetObject"))

    def _partner(self, ts: int) -> None:
        org, rng = self.org, self.rng
        ip = f"{PARTNER_NET}.{rng.choice([142, 143, 160])}"
        caller = Session(org.partner_automation, "partner-sync", self.ids.access_key("ASIA"),
                         ts - rng.randint(300, 3000), ip, ct.BOTO_UA)
        session = Session(org.partner_access, f"partner-sync-{ts}", self.ids.access_key("ASIA"), ts, ip, ct.BOTO_UA)
        self.events.append(self.f.assume_role(ts, session_identity(caller), ip, ct.BOTO_UA, session,
                                              cross_account=True))
        for _ in range(rng.randint(3, 6)):
            ts += rng.randint(2, 40)
            self.events.append(self._read_call(ts, session_identity(session), PROD, ip, ct.BOTO_UA,
                                               only=("DescribeInstances", "ListBuckets", "GetBucketPolicy")))

    # -- VPC flows ---------------------------------------------------------

    def _instance_flows(self, t0: int, t1: int, n: int) -> None:
        rng = self.rng
        kinds = ["internal", "dns", "office", "aws", "saas", "alb", "scan", "nodata"]
        weights = [30, 8, 8, 25, 8, 14, 5, 2]
        for _ in range(n):
            inst = rng.choice(self.org.instances)
            ts = rng.randint(t0, t1 - 61)
            kind = rng.choices(kinds, weights)[0]
            if kind == "internal":
                peer, port = rng.choice(INTERNAL_SERVICES)
                flow = instance_flow(rng, inst, ts, peer, port, _bytes(rng, 2_000, 5_000_000))
            elif kind == "dns":
                flow = instance_flow(rng, inst, ts, DNS_SERVER, 53, rng.randint(60, 900), protocol=UDP)
            elif kind == "office":
                flow = instance_flow(rng, inst, ts, f"{OFFICE_NET}.{rng.randint(10, 250)}", 443,
                                     _bytes(rng, 1_000, 800_000), kind=rng.choice(["egress", "reply"]))
            elif kind == "aws":
                flow = instance_flow(rng, inst, ts, f"52.94.{rng.randint(0, 255)}.{rng.randint(1, 254)}", 443,
                                     _bytes(rng, 500, 60_000), kind=rng.choice(["egress", "egress", "reply"]))
            elif kind == "saas":
                flow = instance_flow(rng, inst, ts, f"{BACKUP_SAAS_NET}.{rng.randint(1, 254)}", 443,
                                     _bytes(rng, 1_000, 3_000_000))
            elif kind == "alb":
                flow = instance_flow(rng, inst, ts, f"10.0.0.{rng.randint(10, 40)}", 8080,
                                     _bytes(rng, 500, 300_000), kind="ingress")
            elif kind == "scan":
                flow = instance_flow(rng, inst, ts, f"{rng.choice(SCANNER_NETS)}.{rng.randint(1, 254)}",
                                     rng.choice([22, 23, 3389, 445, 8443]), rng.randint(40, 120),
                                     kind="ingress", action="REJECT")
            else:
                flow = nodata(inst, ts - ts % 60)
            self.flows.append(flow)

    def _nightly_backup(self, t: int) -> None:
        inst = next(i for i in self.org.instances if i.role.name == "BackupAgent")
        peer = f"{BACKUP_SAAS_NET}.153"
        port = self.rng.randint(32768, 60999)
        sent, target = 0, 2_000_000_000
        while sent < target:
            nbytes = min(target - sent, self.rng.randint(60_000_000, 120_000_000))
            self.flows.append(instance_flow(self.rng, inst, t, peer, 443, nbytes, ephemeral=port))
            self.flows.append(instance_flow(self.rng, inst, t, peer, 443, nbytes // 40, kind="reply",
                                            ephemeral=port))
            sent += nbytes
            t += 60
