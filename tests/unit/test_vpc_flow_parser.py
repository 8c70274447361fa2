"""VPC flow logs -> flow events (chainwatch/parsers/aws_vpc_flow.py) and file framing (sources/files.py)."""
from __future__ import annotations

import gzip
import json

import pytest

from chainwatch.core.event import ParseError
from chainwatch.parsers import parse_record
from chainwatch.sources.files import VPC_FLOW_V2_FIELDS, read_text, records_from_file, records_from_text

ACCT = "123456789012"
ENI = "eni-0a1b2c3d4e5f60718"
START = 1790856000  # 2026-10-01T12:00:00Z
V2_HEADER = " ".join(VPC_FLOW_V2_FIELDS)


def v2_line(src="10.0.1.5", dst="8.8.8.8", nbytes=5000, action="ACCEPT", start=START):
    return f"2 {ACCT} {ENI} {src} {dst} 49152 443 6 12 {nbytes} {start} {start + 60} {action} OK"


def frame(text, ref="flows.log"):
    return list(records_from_text(text, ref))


def parse_text(text):
    """Every record of a file's text, parsed (flow records need no reference lists)."""
    return [event for _ref, payload, framing in frame(text) for event in parse_record(payload, framing, None)]


# --- text flow logs -----------------------------------------------------------------------

def test_default_v2_header_line():
    records = frame(f"{V2_HEADER}\n{v2_line()}\n")
    assert records == [("flows.log:2", (VPC_FLOW_V2_FIELDS, v2_line()), "flowtext")]
    (event,) = parse_text(f"{V2_HEADER}\n{v2_line()}\n")
    assert event["id"].startswith("vpcflow-")
    assert (event["ts"], event["account"], event["kind"], event["source"]) == (START * 1000, ACCT, "flow", "vpcflow")
    assert event["src_ip"] == "10.0.1.5"
    assert event["flow"] == {"src": "10.0.1.5", "dst": "8.8.8.8", "dst_port": 443, "protocol": 6, "bytes": 5000,
                             "packets": 12, "action": "ACCEPT", "status": "OK", "direction": "", "instance": "",
                             "eni": ENI}


CUSTOM_HEADER = ("start end instance-id pkt-dstaddr flow-direction srcaddr version pkt-srcaddr account-id "
                 "interface-id dstaddr dstport protocol packets bytes action log-status")


def custom_line(pkt_src="10.0.1.5", pkt_dst="52.94.5.10"):
    # Behind a NAT gateway srcaddr/dstaddr are the gateway's; pkt-* are the workload's and the peer's.
    return (f"{START} {START + 60} i-0abc1234def567890 {pkt_dst} egress 10.0.0.99 5 {pkt_src} {ACCT} "
            f"{ENI} 10.0.200.1 443 6 40 900000 ACCEPT OK")


def test_custom_header_in_any_order_packet_addresses_win():
    (event,) = parse_text(f"{CUSTOM_HEADER}\n{custom_line()}\n")
    flow = event["flow"]
    assert (flow["src"], flow["dst"], event["src_ip"]) == ("10.0.1.5", "52.94.5.10", "10.0.1.5")
    assert (flow["instance"], flow["direction"], flow["eni"]) == ("i-0abc1234def567890", "egress", ENI)
    assert (flow["bytes"], flow["packets"], flow["dst_port"]) == (900000, 40, 443)


def test_custom_header_without_packet_addresses_falls_back_to_srcaddr():
    (event,) = parse_text(f"{CUSTOM_HEADER}\n{custom_line(pkt_src='-', pkt_dst='-')}\n")
    assert (event["flow"]["src"], event["flow"]["dst"]) == ("10.0.0.99", "10.0.200.1")


def test_headerless_v2_lines_use_the_default_fields():
    lines = [v2_line(), v2_line(dst="1.1.1.1")]
    records = frame("\n".join(lines))
    assert [(ref, framing) for ref, _p, framing in records] == [("flows.log:1", "flowtext"), ("flows.log:2", "flowtext")]
    assert [e["flow"]["dst"] for e in parse_text("\n".join(lines))] == ["8.8.8.8", "1.1.1.1"]


def test_headerless_line_in_another_format_is_dead_lettered():
    line = v2_line().replace("2 ", "5 ", 1)  # version 5 needs its header
    ((ref, (reason, raw), framing),) = frame(line)
    assert framing == "text" and raw == line and "no flow header" in reason


@pytest.mark.parametrize("with_header", [True, False])
def test_nodata_record(with_header):
    line = f"2 {ACCT} {ENI} - - - - - - - {START} {START + 60} - NODATA"
    (event,) = parse_text(f"{V2_HEADER}\n{line}" if with_header else line)
    assert event["ts"] == START * 1000
    assert event["flow"] == {"src": "", "dst": "", "dst_port": 0, "protocol": 0, "bytes": 0, "packets": 0,
                             "action": "", "status": "NODATA", "direction": "", "instance": "", "eni": ENI}


def test_wrong_field_count():
    with pytest.raises(ParseError, match="13 fields where the header names 14"):
        parse_text(f"{V2_HEADER}\n{v2_line().rsplit(' ', 1)[0]}")


@pytest.mark.parametrize("field, line", [("srcaddr", v2_line(src="AWS")), ("dstaddr", v2_line(dst="10.0.0.300"))])
def test_non_ip_address_names_the_field(field, line):
    with pytest.raises(ParseError) as info:
        parse_text(f"{V2_HEADER}\n{line}")
    assert info.value.field == field
    assert "not an IP address" in info.value.problem


def test_non_integer_bytes_names_the_field():
    with pytest.raises(ParseError) as info:
        parse_text(f"{V2_HEADER}\n{v2_line(nbytes='lots')}")
    assert info.value.field == "bytes"


def test_header_without_required_field():
    with pytest.raises(ParseError) as info:
        parse_text("version srcaddr dstaddr log-status\n2 10.0.0.1 8.8.8.8 OK")
    assert info.value.field == "start"


def test_ids_are_stable_and_distinct():
    text = f"{V2_HEADER}\n{v2_line()}\n{v2_line(nbytes=5001)}\n"
    first, second = parse_text(text)
    assert [e["id"] for e in parse_text(text)] == [first["id"], second["id"]]
    assert first["id"] != second["id"]


# --- JSON flow records --------------------------------------------------------------------

def json_flow(**overrides):
    rec = {"version": 2, "accountId": ACCT, "interfaceId": ENI, "srcAddr": "10.0.1.5", "dstAddr": "8.8.8.8",
           "srcPort": 49152, "dstPort": 443, "protocol": 6, "packets": 12, "bytes": 5000, "start": START,
           "end": START + 60, "action": "ACCEPT", "logStatus": "OK", "flowDirection": "egress",
           "instanceId": "i-0abc1234def567890", "pktSrcAddr": "10.0.1.5", "pktDstAddr": "8.8.8.8"}
    rec.update(overrides)
    return rec


def test_json_camel_case_flow_record():
    (event,) = parse_record(json_flow(), "json", None)
    assert event["ts"] == START * 1000
    assert event["account"] == ACCT
    assert event["flow"] == {"src": "10.0.1.5", "dst": "8.8.8.8", "dst_port": 443, "protocol": 6, "bytes": 5000,
                             "packets": 12, "action": "ACCEPT", "status": "OK", "direction": "egress",
                             "instance": "i-0abc1234def567890", "eni": ENI}


def test_json_snake_case_record_and_millisecond_start():
    rec = {"src_addr": "10.0.1.5", "dst_addr": "8.8.8.8", "start": START * 1000, "bytes": "42"}
    (event,) = parse_record(rec, "json", None)
    assert (event["ts"], event["flow"]["bytes"]) == (START * 1000, 42)


def test_json_flow_id_does_not_depend_on_key_order():
    rec = json_flow()
    reordered = dict(reversed(list(rec.items())))
    assert parse_record(rec, "json", None)[0]["id"] == parse_record(reordered, "json", None)[0]["id"]
    assert parse_record(json_flow(bytes=1), "json", None)[0]["id"] != parse_record(rec, "json", None)[0]["id"]


def test_json_flow_bad_address_names_the_field():
    with pytest.raises(ParseError) as info:
        parse_record(json_flow(dstAddr="somewhere", pktDstAddr="-"), "json", None)
    assert info.value.field == "dstaddr"


# --- framing of whole files ---------------------------------------------------------------

def test_records_envelope():
    text = json.dumps({"Records": [{"eventName": "A"}, {"eventName": "B"}]})
    assert frame(text, "ct.json") == [("ct.json#0", {"eventName": "A"}, "json"), ("ct.json#1", {"eventName": "B"}, "json")]
    assert [p for _r, p, _f in frame(json.dumps({"records": [{"x": 1}]}))] == [{"x": 1}]


def test_pretty_printed_json_array_is_one_document():
    items = [json_flow(), json_flow(bytes=7)]
    records = frame(json.dumps(items, indent=2))
    assert [(ref, framing) for ref, _p, framing in records] == [("flows.log#0", "json"), ("flows.log#1", "json")]
    assert [p for _r, p, _f in records] == items


def test_single_json_object_document():
    ((ref, payload, framing),) = frame('{\n  "a": 1\n}\n')
    assert (payload, framing) == ({"a": 1}, "json") and ref.startswith("flows.log")


def test_ndjson_with_a_broken_line():
    lines = [json.dumps({"n": 1}), '{"n": 2,', "", json.dumps({"n": 3})]
    records = frame("\n".join(lines))
    assert [(ref, framing) for ref, _p, framing in records] == [
        ("flows.log:1", "json"), ("flows.log:2", "text"), ("flows.log:4", "json")]
    reason, raw = records[1][1]
    assert reason.startswith("invalid JSON") and raw == '{"n": 2,'
    assert [records[0][1], records[2][1]] == [{"n": 1}, {"n": 3}]
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_record(records[1][1], "text", None)


def test_gzipped_file_is_read_transparently(tmp_path):
    path = tmp_path / "123456789012_CloudTrail_us-east-1_20261001T1200Z_abc.json.gz"
    path.write_bytes(gzip.compress(json.dumps({"Records": [{"eventName": "A"}]}).encode()))
    assert json.loads(read_text(str(path))) == {"Records": [{"eventName": "A"}]}
    assert list(records_from_file(str(path))) == [(f"{path}#0", {"eventName": "A"}, "json")]


def test_gzipped_flow_log_with_bom(tmp_path):
    path = tmp_path / "flows.log.gz"
    path.write_bytes(gzip.compress(("\ufeff" + V2_HEADER + "\n" + v2_line() + "\n").encode()))
    assert [framing for _r, _p, framing in records_from_file(str(path))] == ["flowtext"]


def test_corrupt_gzip_is_a_file_error(tmp_path):
    path = tmp_path / "broken.json.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    ((ref, (reason, unread), framing),) = list(records_from_file(str(path)))
    assert (ref, framing) == (str(path), "error") and reason.startswith("cannot read file")
    assert unread == path.read_bytes()      # nothing inflated: the dead letter carries the whole file


def test_a_flow_has_one_id_however_it_is_delivered():
    """A line of an S3 flow-log file, and the same record as a JSON object (as Firehose or Kafka
    deliver it: keys in another order, numbers as numbers): one id, so a duplicate across the two
    counts once and a replay of the files names the same evidence as a live run of the topic."""
    (from_file,) = parse_text(f"{V2_HEADER}\n{v2_line()}\n")
    values = dict(zip(VPC_FLOW_V2_FIELDS, v2_line().split()))
    as_json = {name: int(value) if value.isdigit() and name != "account-id" else value
               for name, value in reversed(list(values.items()))}
    (from_json,) = parse_record(as_json, "json", None)
    assert from_json["id"] == from_file["id"]
    (other,) = parse_text(f"{V2_HEADER}\n{v2_line(nbytes=5001)}\n")
    assert other["id"] != from_file["id"]


def test_flow_ids_cannot_be_forged_by_a_value_holding_separators():
    """Values of a JSON flow record are arbitrary strings: one field whose value spells out a
    separator and a second field must not give the id of the record with both fields."""
    one = parse_record(json_flow(zz="1\x1fzzz=2"), "json", None)[0]
    two = parse_record(json_flow(zz="1", zzz="2"), "json", None)[0]
    assert one["id"] != two["id"]


def test_the_fast_path_gives_what_the_careful_path_gives():
    """parse_line's fast path (printable ASCII lines, numbers and addresses as AWS writes them)
    against the careful one, on lines made to sit on both sides of every fallback."""
    import random
    from chainwatch.parsers.aws_vpc_flow import parse_line, parse_line_carefully
    headers = [tuple(VPC_FLOW_V2_FIELDS),
               tuple("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes "
                     "start end action log-status instance-id flow-direction pkt-srcaddr pkt-dstaddr".split()),
               ("srcaddr", "dstaddr", "start", "bytes", "srcaddr")]          # a name twice: the last counts
    choices = {"addr": ["10.0.1.5", "8.8.8.8", "255.255.255.255", "010.0.0.1", "::1", "2001:db8::1", "-", "1.2.3",
                        "300.1.1.1", "0.0.0.0"],
               "num": ["0", "7", "0012", "443", "-", "+5", "99999999999999999999", "123456789012345678", "1e3", "x"],
               "start": ["1793527200", "0", "-", "99999999999", "1793527200000", "4102444800000000", "+1793527200"],
               "text": ["ACCEPT", "REJECT", "OK", "NODATA", "-", "eni-1a2b", "i-0abc", "egress", "111122223333",
                        "ab\x7fc", "é", 'q"uote', "back\\slash"]}
    kinds = {"srcaddr": "addr", "dstaddr": "addr", "pkt-srcaddr": "addr", "pkt-dstaddr": "addr", "start": "start",
             "end": "start", "srcport": "num", "dstport": "num", "protocol": "num", "packets": "num", "bytes": "num",
             "version": "num"}
    good = {"addr": ["10.0.1.5", "8.8.8.8", "-"], "num": ["0", "443", "0012", "-"], "start": ["1793527200"],
            "text": ["ACCEPT", "OK", "-", "i-0abc", "egress"]}       # lines the fast path takes
    rnd = random.Random(7)
    for n in range(6000):
        header, values = rnd.choice(headers), good if n % 2 else choices
        line = " ".join(rnd.choice(values[kinds.get(name, "text")]) for name in header)

        def outcome(parse):
            try:
                return parse(header, line)
            except ParseError as exc:
                return ("error", exc.kind, str(exc))
        assert outcome(parse_line) == outcome(parse_line_carefully), line
