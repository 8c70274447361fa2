"""The fictional organisation the sample telemetry describes.

Two org accounts (prod and data), one trusted partner account, long-lived
users, instance roles and the EC2 instances that use them. Ids come from a
seeded rng of their own so they do not shift when background volume changes.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from chainwatch.sample.ids import Ids

PROD = "111122223333"
DATA = "444455556666"
PARTNER = "777788889999"
REGION = "us-east-1"
FLOW_LOG_ID = "fl-0a1b2c3d"
VPC_ID = "vpc-0c0ffee1234567890"
TRAIL_ARN = f"arn:aws:cloudtrail:{REGION}:{PROD}:trail/org-trail"

OFFICE_NET = "198.51.100"   # org office/NAT egress, a /24
PARTNER_NET = "81.2.69"     # partner office, a /24
BACKUP_SAAS_NET = "185.199.108"
DNS_SERVER = "10.0.0.2"
INTERNAL_SERVICES = [("10.0.3.10", 5432), ("10.0.3.20", 6379), ("10.0.3.31", 9200), ("10.0.1.200", 8080)]


@dataclass
class User:
    account: str
    name: str
    principal_id: str
    access_key: str
    source_ip: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


@dataclass
class Role:
    account: str
    name: str
    role_id: str

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.name}"


@dataclass
class Session:
    """One set of temporary credentials for a role."""
    role: Role
    name: str
    access_key: str
    issued_at: int
    source_ip: str
    user_agent: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.role.account}:assumed-role/{self.role.name}/{self.name}"

    @property
    def principal_id(self) -> str:
        return f"{self.role.role_id}:{self.name}"


@dataclass
class Instance:
    instance_id: str
    role: Role
    profile_id: str
    private_ip: str
    eni: str
    subnet_id: str
    buckets: list[str]
    s3_weight: float
    # Some ENIs are logged with instance-id "-", so flows must be attributed via the ENI.
    hides_instance_id: bool = False

    @property
    def profile_arn(self) -> str:
        return f"arn:aws:iam::{self.role.account}:instance-profile/{self.role.name}"


@dataclass
class Org:
    prod_users: list[User]
    data_users: list[User]
    same_account_roles: list[Role]
    partner_access: Role
    partner_automation: Role
    etl_role: Role
    instances: list[Instance]
    data_buckets: list[str]

    def user(self, account: str, name: str) -> User:
        users = self.prod_users if account == PROD else self.data_users
        return next(u for u in users if u.name == name)


_PROD_USERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "ci-deploy"]
_DATA_USERS = ["alice", "bob"]
# (role, instance count, subnet, buckets it reads, relative S3 read rate)
_INSTANCE_ROLES = [
    ("AppServer", 2, 1, ["example-corp-app-assets", "example-corp-app-data"], 3.0),
    ("Worker", 2, 2, ["example-corp-app-data", "example-corp-customer-exports"], 2.0),
    ("LogShipper", 1, 2, ["example-corp-logs"], 2.0),
    ("BackupAgent", 1, 3, ["example-corp-billing-archive", "example-corp-hr-records"], 0.7),
    ("NightlyAnalytics", 1, 3, ["example-corp-analytics-lake", "example-corp-customer-exports"], 0.3),
]
SUBNETS = {1: "subnet-0aa11bb22cc33dd01", 2: "subnet-0aa11bb22cc33dd02", 3: "subnet-0aa11bb22cc33dd03",
           9: "subnet-0aa11bb22cc33dd09"}


def build_org(seed: int) -> Org:
    ids = Ids(random.Random(f"{seed}:org"))
    rng = ids.rng

    def user(account: str, name: str) -> User:
        return User(account, name, ids.unique_id("AIDA"), ids.access_key("AKIA"),
                    f"{OFFICE_NET}.{rng.randint(10, 250)}")

    def role(account: str, name: str) -> Role:
        return Role(account, name, ids.unique_id("AROA"))

    taken = {ip for ip, _ in INTERNAL_SERVICES}

    def private_ip(subnet: int) -> str:
        while (ip := f"10.0.{subnet}.{rng.randint(10, 250)}") in taken:
            pass
        taken.add(ip)
        return ip

    instances = []
    for name, count, subnet, buckets, weight in _INSTANCE_ROLES:
        r = role(PROD, name)
        profile_id = ids.unique_id("AIPA")
        for _ in range(count):
            instances.append(Instance(
                instance_id="i-0" + ids.hex(16), role=r, profile_id=profile_id,
                private_ip=private_ip(subnet), eni="eni-0" + ids.hex(16),
                subnet_id=SUBNETS[subnet], buckets=buckets, s3_weight=weight))
    for inst in (instances[3], instances[4]):  # one Worker and the LogShipper
        inst.hides_instance_id = True

    return Org(
        prod_users=[user(PROD, n) for n in _PROD_USERS],
        data_users=[user(DATA, n) for n in _DATA_USERS],
        same_account_roles=[role(PROD, "Admin"), role(PROD, "ReadOnly")],
        partner_access=role(PROD, "PartnerAccess"),
        partner_automation=role(PARTNER, "PartnerAutomation"),
        etl_role=role(DATA, "EtlJob"),
        instances=instances,
        data_buckets=["example-data-warehouse-exports", "example-data-pii-archive", "example-data-staging"],
    )
