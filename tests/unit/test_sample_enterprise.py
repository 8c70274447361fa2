"""The sample generator at enterprise cardinality (--accounts, --principals, --instances)."""
import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from chainwatch.config import load_config
from chainwatch.sample import generate
from chainwatch.sample.__main__ import main
from chainwatch.sample.enterprise_org import Scale
from chainwatch.sample.generator import background_rate_for, split_rate

SCALE = Scale(accounts=5, principals=300, instances=60)
DAYS = 2


def _records(root: Path) -> list[dict]:
    return [r for p in sorted(root.glob("cloudtrail/**/*.json.gz"))
            for r in json.loads(gzip.decompress(p.read_bytes()))["Records"]]


def _flows(root: Path) -> list[dict]:
    rows = []
    for path in sorted(root.glob("vpcflow/**/*.log.gz")):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        rows += [dict(zip(lines[0].split(), line.split())) for line in lines[1:]]
    return rows


def _principal(record: dict) -> str | None:
    """The IAM user or role a record's caller is (a role session counts as its role)."""
    ident = record["userIdentity"]
    if ident["type"] == "AssumedRole":
        arn = ident["sessionContext"]["sessionIssuer"]["arn"]
        return f"arn:aws:iam::{arn.split(':')[4]}:role/{arn.rsplit('/', 1)[-1]}"   # without the IAM path
    if ident["type"] == "IAMUser":
        return ident["arn"]
    return None


@pytest.fixture(scope="module")
def enterprise(tmp_path_factory):
    root = tmp_path_factory.mktemp("enterprise")
    core, added = split_rate(background_rate_for(30_000, DAYS), SCALE)
    hours = []
    summary = generate(root, days=DAYS, background_per_hour=core, scale=SCALE, enterprise_per_hour=added,
                       progress=lambda done, total, records: hours.append(done))
    assert hours == list(range(1, DAYS * 24 + 1))
    return root, summary, _records(root), _flows(root)


def _attack_principals(summary: dict) -> set[str]:
    return {summary["attacks"]["AN1328_flows"]["role_arn"], summary["attacks"]["AN1328_s3"]["user_arn"]}


def test_knobs_give_the_asked_numbers_of_accounts_principals_and_instances(enterprise):
    root, summary, records, flows = enterprise
    accounts = summary["scale"]["accounts"]
    assert len(accounts) == len(set(accounts)) == SCALE.accounts
    assert {r["recipientAccountId"] for r in records} == set(accounts)
    assert {p.name for p in (root / "cloudtrail" / "AWSLogs").iterdir()} == set(accounts)

    in_org = {p for p in map(_principal, records) if p and p.split(":")[4] in accounts}
    assert len(in_org - _attack_principals(summary)) == SCALE.principals

    attack_instance = summary["attacks"]["AN1328_flows"]["instance_id"]
    in_flows = {f["instance-id"] for f in flows} - {"-", attack_instance}
    sessions = {r["requestParameters"]["roleSessionName"] for r in records if r["eventName"] == "AssumeRole"
                and r["userIdentity"].get("invokedBy") == "ec2.amazonaws.com"} - {attack_instance}
    assert len(in_flows | sessions) == SCALE.instances
    # Instances spread over the accounts, each flowing in the account of its instance-profile role.
    role_account = {r["requestParameters"]["roleSessionName"]: r["recipientAccountId"] for r in records
                    if r["eventName"] == "AssumeRole" and r["userIdentity"].get("invokedBy") == "ec2.amazonaws.com"}
    assert len({f["account-id"] for f in flows}) == SCALE.accounts
    assert all(f["account-id"] == role_account[f["instance-id"]] for f in flows
               if f["instance-id"] in role_account)
    roles_per_instance = Counter(_principal(r) for r in records if r["userIdentity"]["type"] == "AssumedRole"
                                 and r["userIdentity"]["arn"].rsplit("/", 1)[-1].startswith("i-"))
    assert len(roles_per_instance) < len(sessions) / 2   # a pool: roles run several instances


def test_activity_is_zipf_skewed(enterprise):
    _, summary, records, _ = enterprise
    calls = Counter(p for p in map(_principal, records) if p)
    counts = sorted(calls.values(), reverse=True)
    total = sum(counts)
    top = counts[:max(1, len(counts) // 100)]
    assert sum(top) / total > 0.25, "the top 1% of principals should make a large share of the calls"
    assert sum(counts[len(counts) // 2:]) / total < 0.12, "the long tail should act rarely"
    assert counts[len(counts) // 2] * 20 < counts[0]


def test_cloudtrail_records_have_a_realistic_size(enterprise):
    _, summary, records, _ = enterprise
    sizes = [len(json.dumps(r, separators=(",", ":"))) for r in records]
    average = sum(sizes) / len(sizes)
    assert 1200 <= average <= 2000
    assert summary["average_record_bytes"]["cloudtrail"] == pytest.approx(average, abs=0.1)
    workload = next(r for r in records if r["eventSource"] == "kms.amazonaws.com")
    assert {"userAgent", "requestParameters", "resources", "tlsDetails"} <= workload.keys()
    assert "sessionContext" in workload["userIdentity"]


def test_attacks_are_planted_exactly_as_at_core_scale(enterprise, tmp_path):
    _, summary, records, flows = enterprise
    core = generate(tmp_path, days=DAYS, background_per_hour=20)
    assert summary["attacks"] == core["attacks"]
    ids = {r["eventID"] for r in records}
    for name, attack in summary["attacks"].items():
        assert set(attack["event_ids"]) <= ids, name
    assert summary["attacks"]["AN1328_flows"]["account"] == summary["scale"]["accounts"][0]
    assert summary["attacks"]["AN1328_s3"]["account"] == summary["scale"]["accounts"][1]
    exfil = summary["attacks"]["AN1328_flows"]["exfil_destination"]
    assert sum(int(f["bytes"]) for f in flows if f["dstaddr"] == exfil) >= 1_500_000_000


def test_added_principals_cannot_pass_for_new_identities_or_outside_entries(enterprise):
    """What keeps the findings those of the planted chains: every principal is seen on the first
    (learning) day, no role is entered from outside and nothing creates an identity."""
    _, summary, records, _ = enterprise
    first_day = summary["start"][:10]
    first_seen: dict[str, str] = {}
    for r in records:
        p = _principal(r)
        if p and (p not in first_seen or r["eventTime"] < first_seen[p]):
            first_seen[p] = r["eventTime"]
    late = {p for p, t in first_seen.items() if t[:10] != first_day}
    assert late <= _attack_principals(summary) | {"arn:aws:iam::999900001111:user/ext-ops"}
    attack_ids = {i for a in summary["attacks"].values() for i in a["event_ids"]}
    reference = load_config(None).reference
    partner = summary["accounts"]["partner"]
    for r in records:
        if r["eventID"] in attack_ids:
            continue
        assert not reference.creation_rule("aws", r["eventSource"], r["eventName"]), r["eventName"]
        assert not r["eventName"].startswith("AssumeRoleWith"), r["eventName"]
        if r["eventName"] == "AssumeRole":
            caller = r["userIdentity"]
            assert caller["type"] == "AWSService" or caller["accountId"] in (r["recipientAccountId"], partner)


def test_core_numbers_give_the_core_sample(tmp_path):
    small = dict(days=1, background_per_hour=30)
    generate(tmp_path / "core", **small)
    generate(tmp_path / "same", **small, scale=Scale(2, 19, 7), enterprise_per_hour=500)
    files = sorted(p.relative_to(tmp_path / "core") for p in (tmp_path / "core").rglob("*.gz"))
    assert files == sorted(p.relative_to(tmp_path / "same") for p in (tmp_path / "same").rglob("*.gz"))
    assert all((tmp_path / "core" / f).read_bytes() == (tmp_path / "same" / f).read_bytes() for f in files)


def test_enterprise_output_is_deterministic(tmp_path):
    args = dict(days=1, background_per_hour=10, scale=Scale(3, 40, 12), enterprise_per_hour=150)
    generate(tmp_path / "a", **args)
    generate(tmp_path / "b", **args)
    a = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.gz")}
    assert a == {p.relative_to(tmp_path / "b"): p.read_bytes() for p in (tmp_path / "b").rglob("*.gz")}


def test_cli_scales_the_org_and_prints_the_record_size(tmp_path, capsys):
    assert main([str(tmp_path), "--days", "1", "--events", "8000",
                 "--accounts", "3", "--principals", "60", "--instances", "20"]) == 0
    out = capsys.readouterr().out
    assert "org: 3 accounts, 60 principals" in out and "bytes/record raw" in out
    totals = json.loads(out.strip().splitlines()[-1])
    assert 7000 < totals["records"]["total"] < 9000
    assert 1200 <= totals["average_record_bytes"]["cloudtrail"] <= 2000


@pytest.mark.parametrize("argv", [["--accounts", "1"], ["--instances", "3"],
                                  ["--accounts", "30", "--principals", "25"]])
def test_cli_rejects_numbers_it_cannot_build(tmp_path, argv, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path), *argv])
    assert "--" in capsys.readouterr().err
