import gzip
import json
import re
from pathlib import Path

import geoip2.database
import geoip2.errors
import pytest

from chainwatch.sample import SAMPLE_NETWORKS, build_geoip, generate
from chainwatch.sample.__main__ import main
from chainwatch.sample.flows import HEADER

SMALL = dict(days=1, seed=7, background_per_hour=40)
CT_NAME = re.compile(r"cloudtrail/AWSLogs/(\d{12})/CloudTrail/us-east-1/(\d{4})/(\d\d)/(\d\d)/"
                     r"\1_CloudTrail_us-east-1_\2\3\4T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$")
FLOW_NAME = re.compile(r"vpcflow/AWSLogs/(\d{12})/vpcflowlogs/us-east-1/(\d{4})/(\d\d)/(\d\d)/"
                       r"\1_vpcflowlogs_us-east-1_fl-0a1b2c3d_\2\3\4T\d{4}Z_[0-9a-f]{8}\.log\.gz$")


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cloudtrail(root: Path) -> dict[str, dict]:
    events = {}
    for path in root.glob("cloudtrail/**/*.json.gz"):
        for record in json.loads(gzip.decompress(path.read_bytes()))["Records"]:
            events[record["eventID"]] = record
    return events


def _flows(root: Path) -> list[dict]:
    rows = []
    for path in root.glob("vpcflow/**/*.log.gz"):
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        keys = lines[0].split()
        rows += [dict(zip(keys, line.split())) for line in lines[1:]]
    return rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    return root, generate(root, **SMALL)


def test_same_arguments_give_identical_bytes(sample, tmp_path):
    root, summary = sample
    again = generate(tmp_path / "again", **SMALL)
    assert _files(root) == _files(tmp_path / "again")
    assert {k: v for k, v in again.items() if k != "out_dir"} == {k: v for k, v in summary.items() if k != "out_dir"}


def test_another_seed_gives_other_data(sample, tmp_path):
    root, _ = sample
    generate(tmp_path / "other", **{**SMALL, "seed": 8})
    assert _files(root) != _files(tmp_path / "other")


def test_cloudtrail_files_are_one_line_gzip_records(sample):
    root, summary = sample
    paths = sorted(root.glob("cloudtrail/**/*.json.gz"))
    assert len(paths) == summary["files"]["cloudtrail"]
    total, shuffled = 0, False
    for path in paths:
        assert CT_NAME.search(path.as_posix()), path
        text = gzip.decompress(path.read_bytes()).decode()
        assert "\n" not in text and text.startswith('{"Records":[')
        records = json.loads(text)["Records"]
        assert records, path
        account = CT_NAME.search(path.as_posix()).group(1)
        for r in records:
            assert r["recipientAccountId"] == account
            assert r["eventVersion"] in ("1.08", "1.09")
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["eventTime"])
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", r["eventID"])
            assert r["eventCategory"] in ("Management", "Data")
            assert r["managementEvent"] is (r["eventCategory"] == "Management")
        times = [r["eventTime"] for r in records]
        shuffled |= times != sorted(times)
        total += len(records)
    assert total == summary["records"]["cloudtrail"]
    assert shuffled, "records within a file should not be time-ordered"


def test_s3_data_events_have_the_data_event_shape(sample):
    events = _cloudtrail(sample[0])
    gets = [e for e in events.values() if e["eventName"] == "GetObject"]
    assert gets
    for e in gets:
        assert e["eventCategory"] == "Data" and e["managementEvent"] is False
        params = e["requestParameters"]
        assert {"bucketName", "key", "Host"} <= params.keys()
        assert e["resources"][0] == {"type": "AWS::S3::Object",
                                     "ARN": f"arn:aws:s3:::{params['bucketName']}/{params['key']}"}
        assert isinstance(e["additionalEventData"]["bytesTransferredOut"], int)
        assert e["additionalEventData"]["bytesTransferredIn"] == 0


def test_flow_files_start_with_the_header(sample):
    root, summary = sample
    paths = sorted(root.glob("vpcflow/**/*.log.gz"))
    assert len(paths) == summary["files"]["vpcflow"]
    statuses = set()
    for path in paths:
        assert FLOW_NAME.search(path.as_posix()), path
        lines = gzip.decompress(path.read_bytes()).decode().splitlines()
        assert lines[0] == HEADER
        for line in lines[1:]:
            fields = line.split(" ")
            assert len(fields) == 18 and fields[0] == "5", line
            statuses.add(fields[13])
    assert statuses == {"OK", "NODATA"}
    flows = _flows(root)
    assert len(flows) == summary["records"]["vpcflow"]
    assert any(f["instance-id"] == "-" and f["log-status"] == "OK" for f in flows)
    assert {"ACCEPT", "REJECT"} <= {f["action"] for f in flows}


def test_every_attack_event_id_is_in_the_files(sample):
    root, summary = sample
    events = _cloudtrail(root)
    attacks = summary["attacks"]
    assert set(attacks) == {"AN1328_flows", "AN1328_s3", "AN1348"}
    for name, attack in attacks.items():
        assert attack["event_ids"], name
        missing = [i for i in attack["event_ids"] if i not in events]
        assert not missing, (name, missing[:3])


def test_external_assume_role_chain_is_linked_by_the_session_key(sample):
    root, summary = sample
    events = _cloudtrail(root)
    chain = summary["attacks"]["AN1348"]
    assume = events[chain["assume_role_event_id"]]
    key = assume["responseElements"]["credentials"]["accessKeyId"]
    assert assume["userIdentity"]["accountId"] == "999900001111"
    assert assume["requestParameters"]["roleArn"] == "arn:aws:iam::111122223333:role/PartnerAccess"
    privileged = [events[i] for i in chain["privileged_event_ids"]]
    assert [e["eventName"] for e in privileged] == [
        "CreateUser", "AttachUserPolicy", "CreateAccessKey", "PutBucketPolicy", "StopLogging"]
    for e in privileged:
        assert e["userIdentity"]["accessKeyId"] == key
        assert e["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == chain["role_arn"]
        assert e["sourceIPAddress"] == "91.219.236.15"


def test_flow_exfil_chain_reaches_the_outside_through_the_eni(sample):
    root, summary = sample
    chain = summary["attacks"]["AN1328_flows"]
    out = [f for f in _flows(root) if f["dstaddr"] == chain["exfil_destination"]]
    assert all(f["interface-id"] == chain["eni"] and f["srcaddr"] == chain["private_ip"] for f in out)
    assert sum(int(f["bytes"]) for f in out) >= 1_500_000_000
    assert any(f["instance-id"] == "-" for f in out)
    assert any(f["instance-id"] == chain["instance_id"] for f in out)


def test_background_only_run_has_no_attacks(tmp_path):
    summary = generate(tmp_path, days=1, background_per_hour=20, attacks=False)
    assert summary["attacks"] == {}
    events = _cloudtrail(tmp_path)
    assert not any("ext-ops" in json.dumps(e["userIdentity"]) for e in events.values())
    # The known false-positive sources are still there.
    nightly = [e for e in events.values() if "NightlyAnalytics" in e["userIdentity"].get("arn", "")
               and e["eventName"] == "GetObject" and e["eventTime"][11:15] == "02:0"]
    assert len(nightly) > 200
    partner = [e for e in events.values() if e["eventName"] == "AssumeRole"
               and e["userIdentity"].get("accountId") == "777788889999"]
    assert len(partner) == 3


def test_cli_sizes_the_run_from_events(tmp_path, capsys):
    assert main([str(tmp_path), "--days", "1", "--events", "6000"]) == 0
    totals = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 5000 < totals["records"]["total"] < 7000


def test_geoip_databases_read_back_for_every_sample_network(tmp_path):
    city_path, asn_path = build_geoip(tmp_path)
    assert (city_path.name, asn_path.name) == ("chainwatch-City.mmdb", "chainwatch-ASN.mmdb")
    with geoip2.database.Reader(str(city_path)) as city, geoip2.database.Reader(str(asn_path)) as asn:
        assert city.metadata().database_type == "GeoIP2-City"
        assert asn.metadata().database_type == "GeoLite2-ASN"
        for net in SAMPLE_NETWORKS:
            ip = net["cidr"].split("/")[0].rsplit(".", 1)[0] + ".17"
            c = city.city(ip)
            assert (c.country.iso_code, c.country.names["en"], c.city.names["en"]) == \
                (net["country"], net["country_name"], net["city"])
            assert (c.location.latitude, c.location.longitude) == pytest.approx((net["lat"], net["lon"]))
            a = asn.asn(ip)
            assert (a.autonomous_system_number, a.autonomous_system_organization) == (net["asn"], net["as_org"])
            assert str(a.network) == net["cidr"]
        with pytest.raises(geoip2.errors.AddressNotFoundError):
            city.city("10.0.9.9")


def test_geoip_accepts_custom_networks(tmp_path):
    net = {"cidr": "203.0.113.0/24", "asn": 64496, "as_org": "TEST-NET-3", "country": "AU",
           "country_name": "Australia", "city": "Sydney", "lat": -33.87, "lon": 151.21}
    city_path, asn_path = build_geoip(tmp_path, [net])
    with geoip2.database.Reader(str(city_path)) as city, geoip2.database.Reader(str(asn_path)) as asn:
        assert city.city("203.0.113.9").city.names["en"] == "Sydney"
        assert asn.asn("203.0.113.9").autonomous_system_number == 64496
        with pytest.raises(geoip2.errors.AddressNotFoundError):
            asn.asn("45.155.205.17")
