"""What a run over files produced: findings, dead letters, counts, coverage. Shared by the Flink
replay (flink.replay_job, flink.case_job) and the plain-Python engine, which imports no PyFlink."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field

from chainwatch.core.units import format_size
from chainwatch.steps.coverage_watch import COVERAGE_ANALYTIC, merge as merge_coverage
from chainwatch.steps.notices import ALLOWLIST_USE, EGRESS_ATTRIBUTION, FIRST_PARTY_PROVIDER

_WHY = {"no_binding": "with no binding (an instance no RunInstances, role session or inventory names)",
        "nat_gateway": "through NAT gateways (unattributable by design)",
        "load_balancer": "through load balancers (unattributable by design)"}


def merge_attribution(total: dict, part: dict) -> None:
    for account, by in part.items():
        mine = total.setdefault(account, {})
        for attribution, n in by.items():
            mine[attribution] = mine.get(attribution, 0) + n

# tags of a job's collected outputs: findings, dead letters, read counts, unattributed egress, late-event
# dead letters (still processed: not losses), notices (steps.notices)
FINDING, DEAD, STATS, UNATTRIBUTED, LATE_NOTICE, NOTICE = "F", "D", "S", "U", "L", "N"


@dataclass
class ReplayResult:
    files: int = 0
    skipped: list = field(default_factory=list)      # [{"path", "reason"}]: files and folders not read
    counts: Counter = field(default_factory=Counter)
    allowlist_uses: Counter = field(default_factory=Counter)     # entry id -> sessions it let in
    first_party_providers: dict = field(default_factory=dict)    # provider -> how it was learned
    findings: list = field(default_factory=list)
    dead_letters: list = field(default_factory=list)
    unattributed_egress: int = 0
    coverage: dict = field(default_factory=dict)
    coverage_findings: list = field(default_factory=list)      # streams turned off, gaps (steps.coverage_watch)
    egress_attribution: dict = field(default_factory=dict)     # cloud:account -> {attribution: bytes}
    seconds: float = 0.0

    def findings_by_analytic(self) -> Counter:
        return Counter(f["finding_info"]["analytic"]["uid"] for f in self.findings)

    def finding_updates(self) -> int:
        """Records that update an earlier finding (a suppressed repeat: findings.suppression)."""
        return sum(1 for f in self.findings if f.get("activity_id") == 2)

    def absorb(self, kind: str, body: str) -> None:
        """One collected output of a job, by its tag."""
        if kind == FINDING:
            finding = json.loads(body)
            coverage = finding["finding_info"]["analytic"]["uid"] == COVERAGE_ANALYTIC
            (self.coverage_findings if coverage else self.findings).append(finding)
        elif kind == DEAD:
            self.dead_letters.append(json.loads(body))
        elif kind == LATE_NOTICE:     # a record already counted as normalised: a notice, not a loss
            self.dead_letters.append(json.loads(body))
            self.counts["late_arrivals"] += 1
        elif kind == NOTICE:
            self.take_notice(json.loads(body))
        elif kind == STATS:
            stats = json.loads(body)
            merge_coverage(self.coverage, stats.pop("coverage", {}))
            self.counts.update(stats)
        else:
            self.unattributed_egress += 1

    def take_notice(self, notice: dict) -> None:
        kind = notice["notice"]
        if kind == ALLOWLIST_USE:               # a session an allowlist entry let in
            self.allowlist_uses[notice["allowlist_use"]] += 1
        elif kind == EGRESS_ATTRIBUTION:        # a flush's egress bytes by account and attribution
            merge_attribution(self.egress_attribution, notice["egress_attribution"])
        elif kind == FIRST_PARTY_PROVIDER:      # a provider the telemetry showed is the org's
            self.first_party_providers[notice["first_party_provider"]] = f"{notice['how']} (event {notice['event_id']})"

    def attribution_lines(self) -> list[str]:
        """Per account: the share of egress bytes bound to an identity, and why the rest is not."""
        lines = []
        for account, by in sorted(self.egress_attribution.items()):
            total = sum(by.values())
            rest = ", ".join(f"{format_size(n)} {_WHY[a]}" for a, n in sorted(by.items()) if a != "identity" and n)
            lines.append(f"  {account}: {100 * by.get('identity', 0) / total if total else 100:.0f}% of "
                         f"{format_size(total)} attributed to an identity" + (f"; not: {rest}" if rest else ""))
        return lines

    def skipped_lines(self, limit: int = 20) -> list[str]:
        """For the summary: how many files and folders were not read, then each with its reason
        (the first `limit`, and how many more)."""
        lines = [f"files skipped:         {len(self.skipped)}"]
        lines += [f"  {s['path']}: {s['reason']}" for s in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"  ... and {len(self.skipped) - limit} more")
        return lines

    def sort_findings(self) -> None:
        self.findings.sort(key=lambda f: (f["finding_info"]["first_seen_time"], f["metadata"]["uid"]))
        self.coverage_findings.sort(key=lambda f: (f["time"], f["metadata"]["uid"], f["activity_id"]))
