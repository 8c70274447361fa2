"""The enterprise principals' and instances' activity, one hour at a time.

Hour by hour, so that the generator writes files as it goes: each hour's budget is split into
flows and CloudTrail records; the records are the instance credential refreshes due, the first
calls due, then calls by principals drawn by their Zipf weight. Records a draw brings along
(a Lambda's credential fetch before its call) are paid for by the next hour.

Every added principal makes its first call on the first day. The detector learns who exists
during its learning period (a day), as a real deployment learns from months of history; a long
tail first seen on day 3 would be thousands of "new identities" no real trail would show.

Sessions: instance-profile credentials are refreshed every 5-6 h (AssumeRole by ec2); Lambda
and ECS fetch new ones when they next run after expiry (AssumeRole by the service); an SSO
sign-in lasts 8 h. The sign-in itself (AssumeRoleWithSAML) is not written: it is a federated
entry, and the only outside entries in the sample are the planted chain and the trusted partner.
"""
from __future__ import annotations

import math
import random
from collections import defaultdict
from itertools import accumulate

from chainwatch.sample import cloudtrail_events as ct
from chainwatch.sample.background import FLOW_SHARE, MGMT_SHARE, SCANNER_NETS
from chainwatch.sample.cloudtrail_events import session_identity, user_identity
from chainwatch.sample.enterprise_calls import ECS_UA, LAMBDA_UAS, Calls
from chainwatch.sample.enterprise_org import PEOPLE, SURNAMES, Enterprise, Principal
from chainwatch.sample.flows import UDP, Flow, instance_flow, nodata
from chainwatch.sample.ids import utc
from chainwatch.sample.org import OFFICE_NET, Instance, Session

HOUR, DAY = 3600, 86400
LIFETIME = {"lambda": 2 * HOUR, "ecs": 6 * HOUR, "sso": 8 * HOUR}
SERVICE = {"lambda": "lambda.amazonaws.com", "ecs": "ecs-tasks.amazonaws.com"}
S3_SHARE = {"instance": 0.45, "ecs": 0.35, "lambda": 0.3}   # of their calls; the rest: keys, secrets, config
_FLOW_KINDS = ("internal", "dns", "office", "aws", "alb", "scan", "nodata")
_FLOW_CUM = list(accumulate((30, 8, 8, 25, 14, 5, 2)))
_INTERNAL_PORTS = ((10, 5432), (20, 6379), (31, 9200))


def _load(hour: int) -> float:
    # Services follow their users loosely: the management share follows office hours
    # (13:00-23:00 UTC), the rest is flat. Averages 1 over the day.
    office = 1.8 if 13 <= hour < 23 else 6 / 14
    return 1 - MGMT_SHARE + MGMT_SHARE * office


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return int(math.exp(rng.uniform(math.log(low), math.log(high))))


class EnterpriseActivity:
    def __init__(self, ent: Enterprise, rng: random.Random, start: int, per_hour: int):
        self.ent, self.rng, self.start, self.per_hour = ent, rng, start, per_hour
        self.calls = Calls(rng)
        self.ids = self.calls.ids
        self.flow_share = FLOW_SHARE if ent.instances else 0.0
        self.cum = list(accumulate(p.weight for p in ent.principals))
        owner = {p.role.arn: p for p in ent.principals if p.kind == "instance"}
        # An instance role's activity is split over its fleet; so are its instances' flows.
        self.instance_cum = list(accumulate(owner[i.role.arn].weight / len(owner[i.role.arn].fleet)
                                            for i in ent.instances))
        self.octet = {a: n % 256 for n, a in enumerate(ent.accounts)}   # 10.<octet>/16 per account
        self.vpce = {a: "vpce-0" + self.ids.hex(16) for a in ent.accounts}
        self.people = [f"{a}.{b}@example.com" for a in PEOPLE for b in SURNAMES]
        self.sessions: dict[str, tuple[Session, dict]] = {}     # principal or instance -> session
        self.user_identities: dict[str, dict] = {}
        # First credentials (and check-ins) within the first 10 minutes, before any flow.
        self.next_refresh = {i.instance_id: start + rng.randint(0, 539) for i in ent.instances}
        self.debuts: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for n in range(len(ent.principals)):
            ts = rng.randint(start + 600, start + DAY - 1)
            self.debuts[(ts - start) // HOUR].append((ts, n))
        self.debt = 0

    def hour(self, h: int) -> tuple[list[dict], list[Flow]]:
        rng, t = self.rng, self.start + h * HOUR
        end = t + HOUR
        first = t + 600 if h == 0 else t   # instances hold credentials ten minutes in
        n = max(0, round(self.per_hour * _load(utc(t).hour) * rng.uniform(0.85, 1.15)))
        n_flows = round(n * self.flow_share)
        budget = n - n_flows

        actions: list[tuple[int, str, object]] = []
        for inst in self.ent.instances:
            while (due := self.next_refresh[inst.instance_id]) < end:
                actions.append((due, "refresh", inst))
                # The first refresh comes anywhere in the credentials' 6 h, so that refreshes spread out.
                first_issue = due < self.start + 600
                self.next_refresh[inst.instance_id] += rng.randint(600, 6 * HOUR) if first_issue else \
                    rng.randint(5 * HOUR, 6 * HOUR)
        actions += [(ts, "call", n) for ts, n in self.debuts.pop(h, ())]
        # debt: records made beyond the budgets so far (or short of them, if negative).
        draws = max(0, budget - len(actions) - self.debt)
        picks = rng.choices(range(len(self.ent.principals)), cum_weights=self.cum, k=draws)
        actions += [(rng.randint(first, end - 1), "call", p) for p in picks]
        actions.sort(key=lambda a: a[0])   # stable: equal times keep their order

        events: list[dict] = []
        for ts, what, target in actions:
            if what == "refresh":
                events += self._refresh(target, ts)
            else:
                self._act(self.ent.principals[target], ts, events)
        self.debt += len(events) - budget

        flows = [self._flow(inst, rng.randint(first, end - 61))
                 for inst in (rng.choices(self.ent.instances, cum_weights=self.instance_cum, k=n_flows)
                              if n_flows else ())]
        return events, flows

    # -- CloudTrail --------------------------------------------------------

    def _refresh(self, inst: Instance, ts: int) -> list[dict]:
        """New instance-profile credentials, and the SSM agent's check-in with them. The check-in
        is the instance's first call as its role, which is what tells the detector whose
        credentials the instance holds, and so whose its flows are."""
        session = Session(inst.role, inst.instance_id, self.ids.access_key("ASIA"), ts, inst.private_ip,
                          self.rng.choice([ct.JAVA_UA, ct.BOTO_UA]))
        ident = session_identity(session)
        ident["sessionContext"]["ec2RoleDelivery"] = "2.0"   # IMDSv2, as instance credentials show
        self.sessions[inst.instance_id] = (session, ident)
        return [self.calls.service_assume(ts, "ec2.amazonaws.com", session, 21600),
                self.calls.agent_check_in(ts + self.rng.randint(5, 55), inst, ident)]

    def _session(self, p: Principal, ts: int, events: list[dict]) -> tuple[Session, dict]:
        """A Lambda, ECS or SSO role's live session, or a new one (fetched by the service) once expired."""
        held = self.sessions.get(p.arn)
        if held and ts - held[0].issued_at < LIFETIME[p.kind]:
            return held
        rng, octet = self.rng, self.octet[p.account]
        if p.kind == "lambda":
            name, ip, ua = p.app, f"10.{octet}.14.{rng.randint(10, 250)}", rng.choice(LAMBDA_UAS)
        elif p.kind == "ecs":
            name, ip, ua = self.ids.hex(32), f"10.{octet}.13.{rng.randint(10, 250)}", ECS_UA
        else:
            name, ip = rng.choice(self.people), f"{OFFICE_NET}.{rng.randint(10, 250)}"
            ua = rng.choice([ct.CONSOLE_UA, ct.CONSOLE_UA, ct.CLI_UA])
        issued = ts - rng.randint(1, 5) if p.kind in SERVICE else ts
        session = Session(p.role, name, self.ids.access_key("ASIA"), issued, ip, ua)
        if p.kind in SERVICE:
            events.append(self.calls.service_assume(issued, SERVICE[p.kind], session, LIFETIME[p.kind]))
        held = self.sessions[p.arn] = (session, session_identity(session))
        return held

    def _act(self, p: Principal, ts: int, events: list[dict]) -> None:
        calls = self.calls
        if p.kind == "instance":
            inst = self.rng.choice(p.fleet)
            session, ident = self.sessions[inst.instance_id]
            events.append(calls.workload(ts, p, ident, inst.private_ip, session.user_agent, self.vpce[p.account],
                                         S3_SHARE["instance"]))
        elif p.kind in SERVICE:
            session, ident = self._session(p, ts, events)
            events.append(calls.workload(ts, p, ident, session.source_ip, session.user_agent, self.vpce[p.account],
                                         S3_SHARE[p.kind]))
        elif p.kind == "sso":
            session, ident = self._session(p, ts, events)
            events.append(calls.human(ts, p, ident, session.source_ip, session.user_agent,
                                      console=session.user_agent == ct.CONSOLE_UA))
        else:
            ident = self.user_identities.get(p.arn) or self.user_identities.setdefault(p.arn, user_identity(p.user))
            if p.kind == "service_user":
                events.append(calls.service_user(ts, p, ident))
            else:
                ua = self.rng.choice([ct.CLI_UA, ct.CONSOLE_UA])
                events.append(calls.human(ts, p, ident, p.user.source_ip, ua, console=ua == ct.CONSOLE_UA))

    # -- VPC flows ---------------------------------------------------------

    def _flow(self, inst: Instance, ts: int) -> Flow:
        rng, octet = self.rng, self.octet[inst.role.account]
        kind = rng.choices(_FLOW_KINDS, cum_weights=_FLOW_CUM)[0]
        if kind == "internal":
            host, port = rng.choice(_INTERNAL_PORTS)
            return instance_flow(rng, inst, ts, f"10.{octet}.15.{host}", port, _log_uniform(rng, 2_000, 5_000_000))
        if kind == "dns":
            return instance_flow(rng, inst, ts, f"10.{octet}.0.2", 53, rng.randint(60, 900), protocol=UDP)
        if kind == "office":
            return instance_flow(rng, inst, ts, f"{OFFICE_NET}.{rng.randint(10, 250)}", 443,
                                 _log_uniform(rng, 1_000, 800_000), kind=rng.choice(["egress", "reply"]))
        if kind == "aws":
            return instance_flow(rng, inst, ts, f"52.94.{rng.randint(0, 255)}.{rng.randint(1, 254)}", 443,
                                 _log_uniform(rng, 500, 60_000), kind=rng.choice(["egress", "egress", "reply"]))
        if kind == "alb":
            return instance_flow(rng, inst, ts, f"10.{octet}.1.{rng.randint(10, 40)}", 8080,
                                 _log_uniform(rng, 500, 300_000), kind="ingress")
        if kind == "scan":
            return instance_flow(rng, inst, ts, f"{rng.choice(SCANNER_NETS)}.{rng.randint(1, 254)}",
                                 rng.choice([22, 23, 3389, 445, 8443]), rng.randint(40, 120),
                                 kind="ingress", action="REJECT")
        return nodata(inst, ts - ts % 60)
