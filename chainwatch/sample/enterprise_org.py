"""Enterprise cardinality: more accounts, principals and instances around the core org.

The knobs (`python -m chainwatch.sample --accounts N --principals N --instances N`) give totals,
the core org included:

  accounts    org accounts that log CloudTrail and flows; prod and data are the first two (>= 2).
  principals  the org's IAM users and roles active in the background; the core org has 19 (its
              users, Admin, ReadOnly, PartnerAccess, EtlJob, five instance roles). The rest are
              Lambda execution roles, ECS task roles, EC2 instance-profile roles, human SSO
              permission-set roles, CI / integration service users and a few legacy IAM users.
  instances   EC2 instances; the core has 7. The others spread over the accounts, each running
              under an instance-profile role from its account's pool (a hot role runs a fleet).

Every principal has a Zipf weight (rank^-1.1 in a seeded random order): a few hot roles make
most of the calls and a long tail acts now and then. The core org, and so the attack actors in
prod and data, keep the ids they have without the knobs: this builds from its own rng.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from chainwatch.sample.attacks import EXTERNAL_ACCOUNT
from chainwatch.sample.ids import Ids
from chainwatch.sample.org import DATA, OFFICE_NET, PARTNER, PROD, REGION, Instance, Org, Role, User

CORE_ACCOUNTS = 2
CORE_INSTANCES = 7
ZIPF_EXPONENT = 1.1
# Shares of the added principals; instance roles are capped by the added instances (a pool role
# runs about five) and SSO roles by one per permission set and account.
KIND_SHARES = (("lambda", 0.38), ("ecs", 0.20), ("instance", 0.15), ("sso", 0.05),
               ("service_user", 0.17), ("human_user", 0.05))
PERMISSION_SETS = ("AdministratorAccess", "PowerUserAccess", "ReadOnlyAccess", "DataEngineer", "BillingAccess")
_APPS = ("orders", "payments", "catalog", "search", "checkout", "billing", "identity", "notify", "inventory",
         "shipping", "pricing", "reporting", "ledger", "fraud", "media", "analytics", "crm", "support",
         "gateway", "recommend", "loyalty", "returns", "tax", "audit")
_ENVS = ("prod", "staging", "dev", "sandbox")
_ACTIONS = ("Process", "Sync", "Export", "Ingest", "Notify", "Resize", "Validate", "Rollup", "Enrich", "Archive")
_OBJECTS = ("Orders", "Events", "Images", "Reports", "Records")
_PARAMETERS = ("endpoint", "feature-flags", "pool-size", "api-url")
_TOOLS = ("jenkins", "github-actions", "datadog", "terraform-cloud", "snowflake-loader", "splunk-addon",
          "pagerduty", "backup-vendor", "gitlab-runner", "looker")
PEOPLE = ("james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "david", "elizabeth",
           "william", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
           "priya", "wei", "fatima", "diego", "yuki", "olga", "kwame", "ana", "lars", "mei")
SURNAMES = ("smith", "johnson", "lee", "garcia", "miller", "davis", "martinez", "chen", "patel", "kim",
             "nguyen", "mueller", "rossi", "silva", "kowalski", "okafor", "tanaka", "novak", "larsen", "haddad")
_PURPOSES = ("artifacts", "data-lake", "exports", "uploads", "backups", "static-assets", "reports")


@dataclass(frozen=True)
class Scale:
    accounts: int = CORE_ACCOUNTS
    principals: int = 0   # 0: the core org's count
    instances: int = CORE_INSTANCES

    def minimum_principals(self, core_principals: int) -> int:
        # The core org's, one for each added account, and an instance-profile role for added instances.
        return core_principals + max(0, self.accounts - CORE_ACCOUNTS) + (self.instances > CORE_INSTANCES)

    def check(self, core_principals: int) -> "Scale":
        """These totals, principals=0 made the least that fits; ValueError when they cannot be built."""
        if self.accounts < CORE_ACCOUNTS:
            raise ValueError(f"--accounts counts prod and data, so at least {CORE_ACCOUNTS}")
        if self.instances < CORE_INSTANCES:
            raise ValueError(f"--instances counts the core org's {CORE_INSTANCES}, so at least that")
        need = self.minimum_principals(core_principals)
        if self.principals == 0:
            return Scale(self.accounts, need, self.instances)
        if self.principals < need:
            raise ValueError(f"--principals must be at least {need}: the core org's {core_principals}, one for "
                             "each added account and an instance-profile role for added instances")
        return self


@dataclass
class PathRole(Role):
    """A role under an IAM path, as IAM Identity Center creates them."""
    path: str = "/"

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"


@dataclass
class Principal:
    kind: str                       # one of KIND_SHARES
    account: str
    weight: float                   # share of the activity, before normalising
    role: Role | None = None        # roles
    user: User | None = None        # users
    app: str = ""                   # function name (lambda), service (ecs), tool (service users)
    buckets: list[str] = field(default_factory=list)
    kms_key: str = ""
    secret: str = ""
    parameter: str = ""
    fleet: list[Instance] = field(default_factory=list)   # instance roles

    @property
    def arn(self) -> str:
        return (self.role or self.user).arn


@dataclass
class Enterprise:
    accounts: list[str]             # prod, data, then the added ones
    principals: list[Principal]     # the added ones only; the core org stays in Org
    instances: list[Instance]       # the added ones only


def core_principal_count(org: Org) -> int:
    """The org's own users and roles the core background makes act (the partner's role is not the org's)."""
    roles = {i.role.arn for i in org.instances}
    return len(org.prod_users) + len(org.data_users) + len(org.same_account_roles) + 2 + len(roles)


def _allocate(total: int, caps: dict[str, int]) -> dict[str, int]:
    """Split `total` over the kinds by KIND_SHARES within `caps`; Lambda roles take what is left."""
    counts = {kind: min(round(total * share), caps.get(kind, total)) for kind, share in KIND_SHARES if kind != "lambda"}
    if caps["instance"]:
        counts["instance"] = max(1, counts["instance"])   # added instances need a pool role
    counts["lambda"] = total - sum(counts.values())
    assert counts["lambda"] >= 0, counts   # the shares sum to 1 and Scale.check leaves room
    return counts


def build_enterprise(org: Org, scale: Scale, seed: int) -> Enterprise:
    rng = random.Random(f"{seed}:enterprise-org")
    ids = Ids(rng)
    accounts = [PROD, DATA]
    taken = {PROD, DATA, PARTNER, EXTERNAL_ACCOUNT}
    while len(accounts) < scale.accounts:
        account = str(rng.randint(10 ** 11, 10 ** 12 - 1))
        if account not in taken:
            taken.add(account)
            accounts.append(account)
    alias = {PROD: "prod", DATA: "data"}
    for n, account in enumerate(accounts[2:]):
        alias[account] = f"{_APPS[n % len(_APPS)]}-{_ENVS[n // len(_APPS) % len(_ENVS)]}"
    buckets = {a: [f"example-{alias[a]}-{p}-{a[-4:]}" for p in _PURPOSES] for a in accounts}
    kms_keys = {a: [f"arn:aws:kms:{REGION}:{a}:key/{ids.uuid()}" for _ in range(3)] for a in accounts}
    # A few big accounts, many small ones.
    account_weights = [1 / (n + 1) ** 0.8 for n in range(len(accounts))]

    added = scale.principals - core_principal_count(org)
    added_instances = scale.instances - CORE_INSTANCES
    # Fleets share roles: about one instance-profile role per five instances.
    pool = (added_instances + 4) // 5
    counts = _allocate(added, {"instance": pool, "sso": len(PERMISSION_SETS) * len(accounts)})
    # SSO roles round-robin over the accounts, added ones first so they help cover them.
    rr = accounts[2:] + accounts[:2]
    sso_slots = [(rr[n % len(rr)], PERMISSION_SETS[n // len(rr)]) for n in range(counts["sso"])]
    others = [kind for kind, _ in KIND_SHARES if kind != "sso" for _ in range(counts[kind])]
    rng.shuffle(others)
    covered = {a for a, _ in sso_slots}
    uncovered = [a for a in accounts[2:] if a not in covered]   # each added account gets one principal

    principals: list[Principal] = []
    names: set[str] = set()

    def unique(name: str) -> str:
        while name in names:
            name = f"{name}-{ids.hex(4)}"
        names.add(name)
        return name

    for account, pset in sso_slots:
        role = PathRole(account, f"AWSReservedSSO_{pset}_{ids.hex(16)}", ids.unique_id("AROA"),
                        path="/aws-reserved/sso.amazonaws.com/")
        principals.append(Principal("sso", account, 0, role=role, app=pset))
    for n, kind in enumerate(others):
        account = uncovered[n] if n < len(uncovered) else rng.choices(accounts, account_weights)[0]
        app = rng.choice(_APPS)
        env = alias[account].rsplit("-", 1)[-1]
        secret = f"{app}/{env}/db-credentials-{ids.alnum(6)}"
        p = Principal(kind, account, 0, buckets=rng.sample(buckets[account], 2),
                      kms_key=rng.choice(kms_keys[account]),
                      secret=f"arn:aws:secretsmanager:{REGION}:{account}:secret:{secret}",
                      parameter=f"/{app}/{env}/config/{rng.choice(_PARAMETERS)}")
        if kind == "lambda":
            p.app = unique(f"{app}-{env}-{rng.choice(_ACTIONS)}{rng.choice(_OBJECTS)}")
            p.role = Role(account, f"{p.app}-role-{ids.alnum(8).lower()}", ids.unique_id("AROA"))
        elif kind == "ecs":
            p.app = unique(f"{app}-{rng.choice(['api', 'worker', 'consumer', 'scheduler'])}-{env}")
            p.role = Role(account, f"{p.app}-task-role", ids.unique_id("AROA"))
        elif kind == "instance":
            p.app = unique(f"{app}-{rng.choice(['web', 'batch', 'queue', 'cache', 'ml'])}-{env}")
            p.role = Role(account, f"{p.app}-ec2-role", ids.unique_id("AROA"))
        elif kind == "service_user":
            p.app = rng.choice(_TOOLS)
            p.user = User(account, unique(f"svc-{p.app}-{env}"), ids.unique_id("AIDA"), ids.access_key("AKIA"),
                          f"34.234.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        else:
            person = f"{rng.choice(PEOPLE)}.{rng.choice(SURNAMES)}"
            p.user = User(account, unique(person), ids.unique_id("AIDA"), ids.access_key("AKIA"),
                          f"{OFFICE_NET}.{rng.randint(10, 250)}")
        principals.append(p)

    order = list(range(len(principals)))
    rng.shuffle(order)
    for rank, n in enumerate(order, start=1):
        principals[n].weight = rank ** -ZIPF_EXPONENT
    return Enterprise(accounts, principals, _fleets(ids, accounts, principals, added_instances))


def _fleets(ids: Ids, accounts: list[str], principals: list[Principal], count: int) -> list[Instance]:
    """Every pool role gets an instance, the rest go to roles by weight (hot roles run big fleets)."""
    rng = ids.rng
    pool = [p for p in principals if p.kind == "instance"]
    owners = pool[:count] + (rng.choices(pool, [p.weight for p in pool], k=count - len(pool)) if pool else [])
    hosts: dict[str, int] = {}
    subnets: dict[tuple[str, int], str] = {}
    instances = []
    for p in owners:
        # One /16 per account (10.<account index>); third octets from 16 up stay clear of the
        # core org's 10.0.0-9 subnets, so no address is ever shared within an account.
        index = accounts.index(p.account)
        n = hosts.get(p.account, 0)
        hosts[p.account] = n + 1
        octet = 16 + n // 240
        if octet > 255:
            raise ValueError(f"too many instances for account {p.account}'s /16: add accounts")
        subnet = subnets.setdefault((p.account, octet), "subnet-0" + ids.hex(16))
        profile_id = p.fleet[0].profile_id if p.fleet else ids.unique_id("AIPA")
        inst = Instance("i-0" + ids.hex(16), p.role, profile_id, f"10.{index % 256}.{octet}.{10 + n % 240}",
                        "eni-0" + ids.hex(16), subnet, p.buckets, 1.0)
        p.fleet.append(inst)
        instances.append(inst)
    return instances
