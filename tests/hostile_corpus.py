"""A corpus of hostile input for the fuzz acceptance test (issue 10): every kind of bad, odd and
malicious file and record a feed can send, planted secrets, and one real attack chain among them.

write_corpus(folder) writes it and returns a Corpus that says, kind by kind, what the reader must
make of it: how many records (each then normalised or dead-lettered), how many of them are dead
letters (None where a record may reasonably go either way: a wrong type the parser may ignore),
how many files are read and how many files or folders must be reported as skipped. Counts come
from how each file was built (lines written, array items, gzip blocks), not from running the
reader. The chain is the `p2-s3-download` AN1328 scenario of tests/scenarios.py, its 251 records
spread over four files of hostile framing (a BOM, CRLF and pretty-printing; gzip; NDJSON with junk
lines between; EventBridge envelopes in a gzip file with junk after it). Every other record that
is normalised belongs to bystanders at DAY 01:00-02:00, so nothing else can complete a chain and
no record arrives behind the event time of the files read before it (a second chain, at 05:00,
has ids too long to be events).
"""
from __future__ import annotations

import bz2
import codecs
import copy
import gzip
import json
import lzma
import os
import random
import socket
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests import builders_azure as az
from tests import builders_gcp as gcp
from tests.builders import FLOW_HEADER, at, call, create_user, event_id, get_object, role_session, session_key, user
from tests.scenarios import DAY, ORG, Scenario, an1328

MB3 = 3 * 1024 * 1024
BYSTANDER = user(ORG, "fuzz-bystander")
# Planted secrets: none may reach a finding, a dead letter's reason or the job's log.
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYFUZZSECRET01"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEFUZZSESSIONTOKEN02Q0hJTUVSQQ=="
PASSWORD = "Fuzz-Pa55word!planted-03"
CHAIN_TOKEN = "FwoGZXIvYXdzEFUZZCHAINTOKEN04bXlzZWNyZXQ="
AZURE_SECRET = "azFUZZclientSECRET05~Qx8Q~"
GCP_KEY = "-----BEGIN PRIVATE KEY-----FUZZGCPKEY06-----END PRIVATE KEY-----"
CONN_STRING = "DefaultEndpointsProtocol=https;AccountKey=FUZZACCOUNTKEY07=="
SECRETS = (SECRET_KEY, SESSION_TOKEN, PASSWORD, CHAIN_TOKEN, AZURE_SECRET, GCP_KEY, CONN_STRING)


@dataclass
class Kind:
    name: str
    records: int                 # records the reader must produce from its files
    dead: int | None             # of which dead letters; None: either is right
    files: int = 1               # files read
    skipped: int = 0             # files or folders reported as not read
    paths: list = field(default_factory=list)


@dataclass
class Corpus:
    root: Path
    scenario: Scenario
    kinds: list = field(default_factory=list)
    secrets: tuple = SECRETS

    @property
    def records(self) -> int:
        return sum(k.records for k in self.kinds)

    @property
    def files(self) -> int:
        return sum(k.files for k in self.kinds)

    @property
    def skipped(self) -> int:
        return sum(k.skipped for k in self.kinds)

    @property
    def dead_at_least(self) -> int:
        return sum(k.dead for k in self.kinds if k.dead is not None)

    @property
    def dead_at_most(self) -> int:
        return sum(k.records if k.dead is None else k.dead for k in self.kinds)


# --- valid records of bystanders (normalised, never part of a chain) -------------------------------

def ct(n: int, **overrides) -> dict:
    """A bystander's ListUsers at DAY 01:00 + n/2 seconds (n < 7200: times grow with n, within the hour)."""
    record = call(at(DAY, hours=1, seconds=n / 2), BYSTANDER, "iam.amazonaws.com", "ListUsers", "198.51.100.7",
                  seed=f"fuzz-{n}")
    record.update(overrides)
    return record


def gcp_audit(n: int) -> dict:
    return gcp.call_as(at(DAY, hours=1, seconds=n), "fuzz-ops@acme.example", "acme-prod",
                       "compute.googleapis.com", "v1.compute.instances.list", "198.51.100.20", seed=f"fuzz-gcp-{n}")


def gcp_flow(n: int) -> dict:
    return gcp.vpc_flow(at(DAY, hours=1, seconds=n), "acme-prod", "us-central1-a", "fuzz-vm", "10.128.0.9",
                        "10.128.0.10", 5000, seed=f"fuzz-gflow-{n}")


AZ_USER = az.user("fuzz-bystander")


def az_activity(n: int) -> dict:
    return az.activity(az.at(DAY, hours=1, seconds=n), AZ_USER, "Microsoft.Compute/virtualMachines/read",
                       az.resource("Microsoft.Compute/virtualMachines", "vm-fuzz"), "198.51.100.30",
                       seed=f"fuzz-az-{n}")


def az_signin(n: int) -> dict:
    return az.signin(az.at(DAY, hours=1, seconds=n), AZ_USER, "198.51.100.30", seed=f"fuzz-signin-{n}")


def az_blob(n: int) -> dict:
    return az.blob_read(az.at(DAY, hours=1, seconds=n), AZ_USER, "fuzzstore", "c", f"k{n}", 100, "198.51.100.30",
                        seed=f"fuzz-blob-{n}")


def az_nsg(n: int, tuples: list | None = None) -> dict:
    when = az.at(DAY, hours=1, seconds=n)
    return az.nsg_record(when, "nsg-fuzz", "000D3AF1FUZZ",
                         tuples if tuples is not None else [az.nsg_tuple(when, "10.0.0.4", "10.0.0.5", 900)])


def flow(n: int, **fields) -> str:
    """A flow-log line for FLOW_HEADER: workload to workload (no egress), DAY 01:00 + n seconds."""
    values = dict(zip(FLOW_HEADER.split(), (
        "5", ORG, "eni-0fuzz", "10.1.9.7", "10.1.9.8", "49152", "443", "6", "4", "5600",
        str(int(at(DAY, hours=1, seconds=n).timestamp())), str(int(at(DAY, hours=1, seconds=n + 60).timestamp())),
        "ACCEPT", "OK", "i-0fuzz", "egress")))
    values.update(fields)
    return " ".join(values.values())


V2_HEADER = ("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end "
             "action log-status")


def v2(n: int, status="OK", **fields) -> str:
    start = int(at(DAY, hours=1, seconds=n).timestamp())
    values = dict(zip(V2_HEADER.split(), ("2", ORG, "eni-0fuzz", "10.1.9.7", "10.1.9.8", "49152", "443", "6", "4",
                                          "5600", str(start), str(start + 60), "ACCEPT", status)))
    values.update(fields)
    return " ".join(values.values())


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def lines(*items) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def gzip_blocks(parts: list[bytes], cut: int) -> tuple[bytes, int]:
    """gzip of parts, flushed after parts[:cut] (a block boundary): (bytes, offset of that boundary)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = deflate.compress(b"".join(parts[:cut])) + deflate.flush(zlib.Z_FULL_FLUSH)
    return head + deflate.compress(b"".join(parts[cut:])) + deflate.flush(), len(head)


def deep(n: int, opening: str = "[", closing: str = "]") -> str:
    return opening * n + closing * n


def _set(record: dict, dotted: str, value) -> dict:
    """A deep copy of record with record[a][b] = value for 'a.b' (intermediate objects created)."""
    record = copy.deepcopy(record)
    target = record
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            target[part] = {}
        target = target[part]
    target[parts[-1]] = value
    return record


# Wrong types for a field: a number, a number as a string, an array, an object, null, a boolean, an
# empty string, and the value an array wrapped around what was there.
def _odd_values(original):
    return [12345, "12345", ["x", 1], {"value": "x", "0": 1}, None, True, "", [original]]


# --- the writer ------------------------------------------------------------------------------------

class _Writer:
    def __init__(self, root: Path):
        self.root, self.kinds, self.n = root, [], 0

    def path(self, name: str) -> Path:
        self.n += 1
        return self.root / f"k{self.n:03d}-{name}"

    def add(self, name: str, data, *, records: int, dead: int | None, suffix: str = ".json") -> Path:
        path = self.path(name + suffix)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        self.kinds.append(Kind(name, records, dead, paths=[path]))
        return path

    def skip(self, name: str, make, count: int = 1) -> None:
        """Something find_inputs must report as skipped: make(path) creates it."""
        path = self.path(name)
        make(path)
        self.kinds.append(Kind(name, 0, 0, files=0, skipped=count, paths=[path]))


def write_corpus(root: Path) -> Corpus:
    """Write the corpus into `root` (created) and return what it holds."""
    root.mkdir(parents=True, exist_ok=True)
    w = _Writer(root)
    scenario = next(s for s in an1328() if s.name == "p2-s3-download")
    _chain(w, scenario)
    _issue_items(w)
    _times(w)
    _framing(w)
    _compression(w)
    _flow_logs(w)
    _wrong_types(w)
    _other_families(w)
    _secrets(w)
    _volume(w)
    _skipped(w)
    return Corpus(root, scenario, w.kinds)


# --- the planted chain -----------------------------------------------------------------------------

def _chain(w: _Writer, scenario: Scenario) -> None:
    create, reads = scenario.records[0], [copy.deepcopy(r) for r in scenario.records[1:]]
    for read in reads[::25]:                      # a session token in what the parser never reads
        read["requestParameters"]["x-amz-security-token"] = CHAIN_TOKEN
    # 1. the creation, pretty-printed, with a BOM and CRLF, beside two bystander records
    text = json.dumps({"Records": [ct(1), create, ct(2)]}, indent=2).replace("\n", "\r\n")
    w.add("chain-create-bom-crlf-pretty", "\ufeff" + text, records=3, dead=0)
    # 2. reads 0-99: a CloudTrail S3 object, as AWS delivers it
    w.add("chain-reads-cloudtrail", gz(json.dumps({"Records": reads[:100]}).encode()),
          records=100, dead=0, suffix=".json.gz")
    # 3. reads 100-179 as NDJSON, junk lines between them, U+2028 and U+0085 in user agents
    out, junk = [], 0
    for i, read in enumerate(reads[100:180]):
        if i % 10 == 3:
            read["userAgent"] = "aws-cli/2.15.0\u2028 md/\u0085x"
        out.append(json.dumps(read, ensure_ascii=False))
        if i % 16 == 5:
            out += ["ERROR 2026-10-11 03:17:00 shipper: connection reset",
                    json.dumps(ct(900 + i, eventTime="1970-01-01T00:00:00Z")),
                    '{"eventVersion": "1.09", "eventTime": "2026-10-11T03:17:00Z", "eventName": ']
            junk += 3
    w.add("chain-reads-ndjson-with-junk", "\n".join(out) + "\n", records=80 + junk, dead=junk, suffix=".ndjson")
    # 4. reads 180-249 in EventBridge envelopes, gzip with junk after the stream
    envelopes = [{"version": "0", "id": event_id(f"eb-{i}"), "detail-type": "AWS API Call via CloudTrail",
                  "source": "aws.s3", "account": ORG, "time": r["eventTime"], "region": "us-east-1",
                  "resources": [], "detail": r} for i, r in enumerate(reads[180:])]
    w.add("chain-reads-eventbridge", gz(json.dumps(envelopes).encode()) + b"\x00trailing junk\x01",
          records=70 + 1, dead=1, suffix=".json.gz")


# --- what issue 10 lists ---------------------------------------------------------------------------

def _issue_items(w: _Writer) -> None:
    w.add("3mb-event-time", lines(ct(3, eventTime="2026-10-11T01:00:00Z" + "9" * MB3), ct(4)),
          records=2, dead=1, suffix=".ndjson")
    w.add("3mb-principal-arn", lines(ct(5, userIdentity=dict(BYSTANDER, arn="arn:aws:iam::" + ORG + ":user/"
                                                               + "a" * MB3)), ct(6)),
          records=2, dead=1, suffix=".ndjson")
    w.add("3mb-line-no-json", "x" * MB3 + "\n" + json.dumps(ct(7)) + "\n", records=2, dead=1, suffix=".log")
    evil = json.dumps(ct(8, userIdentity=dict(BYSTANDER, arn=f"arn:aws:iam::{ORG}:user/ev\udc80il")))
    assert "\\udc80" in evil
    w.add("lone-surrogate-escape", evil + "\n" + json.dumps(ct(9)) + "\n", records=2, dead=1, suffix=".ndjson")
    raw_surrogate = json.dumps(ct(10, userAgent="SURROGATE")).encode().replace(b"SURROGATE", b"ev\xed\xb2\x80il")
    w.add("lone-surrogate-utf8-bytes", raw_surrogate + b"\n" + json.dumps(ct(11)).encode() + b"\n",
          records=2, dead=1, suffix=".ndjson")
    w.add("json-10000-deep-array", deep(10_000) + "\n" + json.dumps(ct(12)) + "\n", records=2, dead=1)
    w.add("json-10000-deep-object", '{"a":' * 10_000 + "1" + "}" * 10_000 + "\n" + json.dumps(ct(13)) + "\n",
          records=2, dead=1)
    w.add("json-10000-deep-in-records", '{"Records": [' + json.dumps(ct(14)) + ", " + deep(10_000) + "]}",
          records=2, dead=1)
    deep_field = json.dumps(ct(15)).replace('"ListUsers"', '"ListUsers", "requestParameters": ' + deep(10_000), 1)
    w.add("json-10000-deep-in-a-field", deep_field + "\n", records=1, dead=1, suffix=".ndjson")
    body = [json.dumps(ct(20 + n)).encode() + b"\n" for n in range(30)]
    whole, boundary = gzip_blocks(body, 20)
    w.add("gzip-corrupt-deflate", whole[:boundary] + b"\xff" * 64 + whole[boundary:], records=20 + 1, dead=1,
          suffix=".ndjson.gz")
    w.add("gzip-truncated", whole[:boundary], records=20 + 1, dead=1, suffix=".ndjson.gz")
    w.add("gzip-header-only", gz(b"")[:10], records=1, dead=1, suffix=".json.gz")
    w.add("gzip-bad-header", b"\x1f\x8b\x08\xff" + random.Random(1).randbytes(40).replace(b"\n", b" "), records=1, dead=1,
          suffix=".json.gz")
    w.add("stoplogging-year-10000", lines(call(at(DAY, hours=1), BYSTANDER, "cloudtrail.amazonaws.com", "StopLogging",
                                               "198.51.100.7", seed="fuzz-stop") | {
                                                   "eventTime": "9999-12-31T23:59:59-23:59"}), records=1, dead=1,
          suffix=".ndjson")
    w.add("event-1970", lines(ct(30, eventTime="1970-01-01T00:00:00Z"), ct(31)), records=2, dead=1, suffix=".ndjson")
    w.add("event-year-0", lines(ct(32, eventTime="0000-01-01T00:00:00Z")), records=1, dead=1, suffix=".ndjson")
    w.add("event-iso-week", lines(ct(33, eventTime="2026-W41-6"), ct(34, eventTime="2026-W41-6T01:00:00Z")),
          records=2, dead=2, suffix=".ndjson")
    w.add("event-date-only", lines(ct(35, eventTime="2026-10-11")), records=1, dead=1, suffix=".ndjson")
    w.add("flow-start-past-a-java-long", "\n".join([V2_HEADER, v2(36, start="99999999999999999999"),
                                                    v2(37, bytes="99999999999999999999"),
                                                    v2(38, packets="9" * 400), v2(39)]) + "\n",
          records=4, dead=3, suffix=".log")
    w.add("json-flow-huge-numbers", lines({"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8", "start": 10**30, "bytes": 1},
                                          {"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8",
                                           "start": int(at(DAY, hours=1).timestamp()), "bytes": 1e308}),
          records=2, dead=2, suffix=".ndjson")
    w.add("second-records-key", '{"Records": [%s, %s], "Records": [%s]}' % (
        json.dumps(ct(40)), json.dumps(ct(41)), json.dumps(ct(42))), records=3 + 1, dead=1)
    w.add("records-and-lowercase-records", '{"records": [%s], "Records": [%s]}' % (
        json.dumps(az_activity(43)), json.dumps(ct(44))), records=2 + 1, dead=1)
    w.add("u2028-in-string", json.dumps(ct(45, userAgent="a\u2028b"), ensure_ascii=False) + "\n", records=1, dead=0,
          suffix=".ndjson")
    w.add("u0085-and-form-feed-in-string", json.dumps(ct(46, userAgent="a\u0085b\u000c\u2029c"),
                                                      ensure_ascii=False) + "\n", records=1, dead=0, suffix=".ndjson")
    w.add("pretty-printed-document", json.dumps({"Records": [ct(47), ct(48)]}, indent=4), records=2, dead=0)
    w.add("pretty-printed-stream", json.dumps(ct(49), indent=2) + "\n" + json.dumps(ct(50), indent=1)
          + json.dumps(gcp_audit(51), indent=3), records=3, dead=0)
    w.add("bad-utf8-bytes", json.dumps({"Records": [ct(52), ct(53, userAgent="MARK"), ct(54)]}).encode()
          .replace(b"MARK", b"caf\xe9\xff\xfe"), records=3, dead=1)
    w.add("bad-utf8-in-flow-log", (V2_HEADER + "\n" + v2(55) + "\n").encode() + v2(56).encode().replace(
        b"ACCEPT", b"ACC\xe9PT") + b"\n", records=2, dead=1, suffix=".log")
    # Unreadable: a read that fails with EIO (what a bad disk gives), whoever runs the test.
    link = w.path("unreadable-eio.json")
    link.symlink_to("/proc/self/mem")
    w.kinds.append(Kind("unreadable-eio", 1, 1, paths=[link]))
    unreadable = w.add("unreadable-mode-000", lines(ct(57)), records=1, dead=0 if os.geteuid() == 0 else 1,
                       suffix=".ndjson")
    unreadable.chmod(0)           # root reads it all the same: then it is one good record


# --- event times -----------------------------------------------------------------------------------

def _times(w: _Writer) -> None:
    ahead = (datetime.now(timezone.utc) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    w.add("times-out-of-range-or-malformed", lines(*(ct(60 + i, eventTime=t) for i, t in enumerate([
        ahead, "1999-12-31T23:59:59Z", "2026-02-30T01:00:00Z", "2026-10-11T24:00:00Z", "2026-10-11T01:00:60Z",
        "2026-13-01T01:00:00Z", "20261011T010000Z", "2026-284T01:00:00Z", "11/10/2026 01:00", "Oct 11, 2026",
        "1760144400", "2026-10-11T01:00:00+25:00", "  ", "now", "2026-10-11T01:00:00Z\u0000",
        "\uff12\uff10\uff12\uff16-10-11T01:00:00Z"]))), records=16, dead=16, suffix=".ndjson")
    w.add("times-of-odd-type", lines(ct(80, eventTime=1760144400), ct(81, eventTime=1760144400000.5),
                                     ct(82, eventTime=["2026-10-11T01:00:00Z"]),
                                     ct(83, eventTime={"value": "2026-10-11T01:00:00Z"}), ct(84, eventTime=True)),
          records=5, dead=5, suffix=".ndjson")
    record = ct(85)
    del record["eventTime"]
    w.add("times-missing-or-fallback", lines(record, dict(record, eventTime=None), dict(record, eventTime=""),
                                             dict(record, **{"@timestamp": "2026-10-11T01:01:00Z"}),
                                             dict(record, eventTime="", **{"@timestamp": "2026-10-11T01:01:01Z"})),
          records=5, dead=3, suffix=".ndjson")
    w.add("times-odd-but-valid", lines(*(ct(90 + i, eventTime=t) for i, t in enumerate([
        "2026-10-11T01:00:00.123456789Z", "2026-10-11T15:00:00+14:00", "2026-10-10T15:00:00-10:00",
        "2026-10-11 01:00:00", "2026-10-11t01:00:00z", "2026-10-11T01:00Z", "2026-10-11T01:00:00,5Z",
        "2026-10-11T03:00:00+0200", "2026-10-11T01:00:00"]))), records=9, dead=0, suffix=".ndjson")


# --- framing ---------------------------------------------------------------------------------------

def _framing(w: _Writer) -> None:
    w.add("empty-file", b"", records=0, dead=0)
    w.add("whitespace-only", " \n\t\r\n\n   \n", records=0, dead=0)
    w.add("bom-only", "\ufeff", records=0, dead=0)
    w.add("bom-then-ndjson", "\ufeff" + lines(ct(100), ct(101)), records=2, dead=0, suffix=".ndjson")
    w.add("crlf-ndjson", lines(ct(102), ct(103)).replace("\n", "\r\n"), records=2, dead=0, suffix=".ndjson")
    w.add("cr-only-ndjson", lines(ct(104), ct(105), ct(106)).replace("\n", "\r"), records=3, dead=0,
          suffix=".ndjson")
    w.add("utf16-ndjson", lines(ct(107), ct(108)).encode("utf-16"), records=2, dead=0, suffix=".ndjson")
    w.add("utf16-be-bad-surrogate", codecs.BOM_UTF16_BE + lines(ct(141)).encode("utf-16-be") + b"\xdc\x80",
          records=2, dead=2, suffix=".ndjson")      # not UTF-16 after all: read as UTF-8 bytes
    w.add("nul-bytes-only", b"\x00" * 4096, records=1, dead=1, suffix=".log")
    w.add("nul-padding-after-json", json.dumps({"Records": [ct(109)]}).encode() + b"\x00" * 512, records=2, dead=1)
    w.add("nul-inside-a-string", lines(json.dumps(ct(110)).replace("ListUsers", "List\\u0000Users"),
                                       json.dumps(ct(111)).replace("ListUsers", "List\x00Users")),
          records=2, dead=1, suffix=".ndjson")
    w.add("control-chars-in-string", json.dumps(ct(112)).replace("aws-cli", "aws\x01\x1b[31mcli") + "\n",
          records=1, dead=1, suffix=".ndjson")
    w.add("trailing-garbage", json.dumps(ct(113)) + " garbage\n" + json.dumps(ct(114)) + "}\n", records=4, dead=2,
          suffix=".ndjson")
    w.add("trailing-commas", json.dumps(ct(115)) + ",\n" + json.dumps(ct(116)) + ",\n", records=4, dead=2,
          suffix=".ndjson")
    w.add("two-records-on-a-line", json.dumps(ct(117)) + json.dumps(ct(118)) + " " + json.dumps(ct(119)) + "\n",
          records=3, dead=0, suffix=".ndjson")
    w.add("unterminated-string-at-eof", json.dumps(ct(120)) + '\n{"eventName": "ListUsers", "eventTime": "2026',
          records=2, dead=1, suffix=".ndjson")
    w.add("broken-array-midway", "[" + json.dumps(ct(121)) + ", " + json.dumps(ct(122)) + ', {"eventName": ]',
          records=3, dead=1)
    w.add("broken-pretty-document-then-lines",
          json.dumps({"Records": [ct(123)]}, indent=2)[:-3] + "\n" + json.dumps(ct(124)) + "\n",
          records=3, dead=1)
    w.add("json-scalars-per-line", "null\n42\n\"a string\"\ntrue\n-1.5e999\n", records=5, dead=5, suffix=".ndjson")
    w.add("json-scalars-in-array", "[null, 42, \"s\", true, [], [[]], {}]", records=7, dead=7)
    w.add("records-not-an-array", lines({"Records": {"0": ct(125)}}, {"Records": None}, {"Records": "x"},
                                        {"Records": 5}), records=4, dead=4, suffix=".ndjson")
    w.add("records-empty-and-of-odd-items", lines({"Records": []}, {"Records": [[ct(126)], None, 7, "x", {}]}),
          records=5, dead=5, suffix=".ndjson")
    w.add("duplicate-keys", '{"eventName": "DeleteUser", ' + json.dumps(ct(127))[1:] + "\n"
          + json.dumps(ct(128))[:-1] + ', "eventTime": "1970-01-01T00:00:00Z"}\n', records=2, dead=1,
          suffix=".ndjson")
    w.add("not-json-text", "<html><body>503 Service Unavailable</body></html>\n"
          "2026-10-11T01:00:00Z INFO shipper started\n"
          "eventTime,eventName,userIdentity\n2026-10-11T01:00:00Z,ListUsers,alice\n"
          "#Version: 1.0\n", records=5, dead=5, suffix=".log")
    w.add("bracket-log-lines", "[INFO] shipper started\n[WARN] 3 records dropped\n{not json}\n" + json.dumps(ct(129))
          + "\n", records=4, dead=3, suffix=".log")
    w.add("big-integer-digits", '{"eventVersion": "1.09", "n": ' + "9" * 5000 + "}\n" + json.dumps(ct(130)) + "\n"
          + json.dumps(ct(131, additionalEventData={"bytesTransferredOut": int("7" * 4000)})) + "\n",
          records=3, dead=1, suffix=".ndjson")
    w.add("nan-and-infinity", json.dumps(ct(132, additionalEventData={"bytesTransferredOut": float("nan")})) + "\n"
          + json.dumps(ct(133, additionalEventData={"bytesTransferredOut": float("-inf")})) + "\n",
          records=2, dead=0, suffix=".ndjson")
    w.add("huge-key-names", lines({"k" * 100_000: 1, "\udc80bad": 2}, ct(134) | {"x" * 50_000: "y"}),
          records=2, dead=1, suffix=".ndjson")
    w.add("wide-object", json.dumps({f"field{i}": i for i in range(50_000)}) + "\n", records=1, dead=1,
          suffix=".ndjson")
    w.add("envelopes-odd", lines({"detail": "not json", "detail-type": "x"}, {"message": "{" * 5000},
                                 {"message": json.dumps(ct(135))}, {"log": {"message": {"detail": ct(136)}}},
                                 {"_source": ct(137)}, {"detail": {"detail": {"detail": {"detail": ct(138)}}}},
                                 {"message": '{"eventName": ' + "9" * 5000 + "}"},
                                 {"log": json.dumps(ct(142)).replace('"1.09"', "1" * 5000)},
                                 {**az_activity(143), "identity": '{"claims": {"oid": ' + "7" * 5000 + "}}"}),
          records=9, dead=None, suffix=".ndjson")
    w.add("unicode-file-name-\u00e9v\u00e9nements-\u2603", lines(ct(139)), records=1, dead=0, suffix=".ndjson")
    w.add("newline-in-file-name\nx", lines(ct(140)), records=1, dead=0, suffix=".ndjson")


# --- other compressions and archives ----------------------------------------------------------------

def _compression(w: _Writer) -> None:
    body = lines(ct(150), ct(151)).encode()
    w.add("gzip-trailing-junk", gz(body) + b"junk after the stream", records=2 + 1, dead=1,
          suffix=".ndjson.gz")
    w.add("gzip-zero-padding", gz(body) + b"\x00" * 1024, records=2, dead=0, suffix=".ndjson.gz")
    w.add("gzip-members", gz(body) + gz(lines(ct(152)).encode()), records=3, dead=0,
          suffix=".ndjson.gz")
    w.add("gzip-of-gzip", gz(gz(body)), records=2, dead=0, suffix=".json.gz")
    w.add("gzip-of-gzip-truncated", gz(gz(body)[:-9]), records=2 + 1, dead=1, suffix=".json.gz")
    w.add("gzip-five-times", gz(gz(gz(gz(gz(body))))), records=1, dead=1, suffix=".json.gz")
    w.add("gzip-of-bzip2", gz(bz2.compress(body)), records=1, dead=1, suffix=".json.gz")
    w.add("gzip-empty", gz(b""), records=0, dead=0, suffix=".json.gz")
    w.add("bzip2", bz2.compress(body), records=1, dead=1, suffix=".json.bz2")
    w.add("xz", lzma.compress(body), records=1, dead=1, suffix=".json.xz")
    w.add("zstd-magic", b"\x28\xb5\x2f\xfd" + b"\x00" * 64, records=1, dead=1, suffix=".json.zst")
    w.add("zip-named-json", b"PK\x03\x04" + b"\x14\x00" * 20, records=1, dead=1, suffix=".json")
    w.add("binary-junk", bytes(b for b in random.Random(2).randbytes(4096) if b not in b"\n{[\x1f\r\t\x0b\x0c\x1c\x1d\x1e\x85 ")
          .lstrip(b"\x1fBPK7\xfd(") or b"x", records=1, dead=1, suffix=".bin")


# --- flow logs -------------------------------------------------------------------------------------

def _flow_logs(w: _Writer) -> None:
    w.add("flow-wrong-column-counts", "\n".join([FLOW_HEADER, flow(200), flow(201) + " extra", " ".join(
        flow(202).split()[:-3]), "5", flow(203)]) + "\n", records=5, dead=3, suffix=".log")
    custom = "start srcaddr dstaddr bytes packets action log-status account-id interface-id"
    values = lambda n, **kw: " ".join(dict(zip(custom.split(), (  # noqa: E731
        str(int(at(DAY, hours=1, seconds=n).timestamp())), "10.1.9.7", "10.1.9.8", "100", "1", "ACCEPT", "OK", ORG,
        "eni-0fuzz")), **kw).values())
    w.add("flow-custom-header", "\n".join([custom, values(204), values(205, srcaddr="not-an-ip"),
                                           values(206, bytes="-")]) + "\n", records=3, dead=1, suffix=".log")
    w.add("flow-header-without-start", "version srcaddr dstaddr bytes\n2 10.1.9.7 10.1.9.8 100\n", records=1, dead=1,
          suffix=".log")
    w.add("flow-header-only", V2_HEADER + "\n", records=0, dead=0, suffix=".log")
    nothing = dict(srcaddr="-", dstaddr="-", srcport="-", dstport="-", protocol="-", packets="-", bytes="-",
                   action="-")
    w.add("flow-nodata-skipdata", "\n".join([V2_HEADER, v2(207, "NODATA", **nothing),      # as AWS writes them
                                             v2(208, "SKIPDATA", **nothing), v2(209, "NODATA", **nothing,
                                                                                start="-", end="-"),
                                             v2(210, "NODATA"), v2(211, "WEIRD")]) + "\n",
          records=5, dead=1, suffix=".log")
    w.add("flow-headerless-default-and-odd", "\n".join([v2(212), v2(213, version="3"), v2(214, protocol="tcp"),
                                                        v2(215, srcaddr="2001:db8::1", dstaddr="2001:db8::2")])
          + "\n", records=4, dead=2, suffix=".log")
    w.add("flow-values-odd", "\n".join([V2_HEADER, v2(216, bytes="-5"), v2(217, bytes="1e3"), v2(218, bytes="0x10"),
                                        v2(219, dstport="99999999"), v2(220, start="+1760144400"),
                                        v2(221, srcaddr="999.1.1.1"), v2(230, bytes="\u0661\u0662")]) + "\n",
          records=7, dead=None, suffix=".log")
    w.add("flow-tabs-and-crlf", (V2_HEADER + "\n" + v2(222).replace(" ", "\t") + "\n" + v2(223) + "\n")
          .replace("\n", "\r\n"), records=2, dead=0, suffix=".log")
    w.add("flow-cr-only-lines", (V2_HEADER + "\r" + v2(224) + "\r" + v2(225) + "\r"), records=1, dead=1,
          suffix=".log")
    w.add("flow-header-in-the-middle", "\n".join([V2_HEADER, v2(226), FLOW_HEADER, flow(227), v2(228)]) + "\n",
          records=3, dead=1, suffix=".log")
    w.add("flow-text-mentioning-fields", "error: srcaddr and dstaddr are missing\n" + v2(229) + "\n", records=2,
          dead=1, suffix=".log")
    w.add("flow-json-records", lines({"version": 2, "account_id": ORG, "interface_id": "eni-0fuzz",
                                      "srcaddr": "10.1.9.7", "dstaddr": "10.1.9.8", "start": "1760144400",
                                      "bytes": "12"},
                                     {"srcAddr": "10.1.9.7", "dstAddr": ["10.1.9.8"], "start": 1760144400},
                                     {"srcAddr": {"ip": "10.1.9.7"}, "dstAddr": "10.1.9.8", "start": 1760144400},
                                     {"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8"},
                                     {"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8", "start": True, "bytes": "x"}),
          records=5, dead=None, suffix=".ndjson")


# --- wrong types for every field the parsers read ----------------------------------------------------

_CLOUDTRAIL_FIELDS = (
    "eventTime", "eventName", "eventSource", "eventID", "awsRegion", "sourceIPAddress", "userAgent", "errorCode",
    "recipientAccountId", "userIdentity", "userIdentity.type", "userIdentity.arn", "userIdentity.accessKeyId",
    "userIdentity.accountId", "userIdentity.userName", "userIdentity.principalId", "userIdentity.invokedBy",
    "userIdentity.identityProvider", "userIdentity.sessionContext", "userIdentity.sessionContext.sessionIssuer",
    "userIdentity.sessionContext.sessionIssuer.arn", "requestParameters", "requestParameters.bucketName",
    "requestParameters.key", "requestParameters.roleArn", "requestParameters.roleSessionName",
    "requestParameters.externalId", "requestParameters.principalArn", "requestParameters.userName",
    "responseElements", "responseElements.credentials", "responseElements.credentials.accessKeyId",
    "responseElements.assumedRoleUser", "responseElements.assumedRoleUser.arn", "responseElements.user",
    "responseElements.user.arn", "responseElements.instancesSet", "responseElements.instancesSet.items",
    "additionalEventData", "additionalEventData.bytesTransferredOut")


def _cloudtrail_kinds() -> list[dict]:
    """One record of each kind of call whose fields the parser reads."""
    role = role_session(ORG, "fuzz-role", "i-0123456789abcdef0", session_key("fuzz-role"))
    assume = call(at(DAY, hours=1, minutes=30), BYSTANDER, "sts.amazonaws.com", "AssumeRole", "198.51.100.7",
                  seed="fuzz-assume", params={"roleArn": f"arn:aws:iam::{ORG}:role/fuzz-role",
                                              "roleSessionName": "s", "externalId": "e",
                                              "principalArn": "arn:aws:iam::1:saml-provider/x"},
                  response={"credentials": {"accessKeyId": session_key("fuzz-assume")},
                            "assumedRoleUser": {"arn": f"arn:aws:sts::{ORG}:assumed-role/fuzz-role/s"}})
    run = call(at(DAY, hours=1, minutes=31), role, "ec2.amazonaws.com", "RunInstances", "10.1.9.7", seed="fuzz-run",
               response={"instancesSet": {"items": [{"instanceId": "i-0fuzz", "privateIpAddress": "10.1.9.7",
                                                     "networkInterfaceSet": {"items": [
                                                         {"networkInterfaceId": "eni-0fuzz"}]}}]}})
    read = get_object(at(DAY, hours=1, minutes=32), BYSTANDER, "fuzz-bucket", "k", 10, "198.51.100.7",
                      seed="fuzz-read")
    created = create_user(at(DAY, hours=1, minutes=33), BYSTANDER, ORG, "fuzz-new", seed="fuzz-create")
    return [assume, run, read, created]


def _mutations(records: list[dict], fields) -> list[dict]:
    out = []
    for record in records:
        for path in fields:
            current = record
            for part in path.split("."):
                current = current.get(part) if isinstance(current, dict) else None
            for value in _odd_values(current):
                out.append(_set(record, path, value))
    return out


_GCP_AUDIT_FIELDS = (
    "protoPayload", "protoPayload.methodName", "protoPayload.serviceName", "protoPayload.@type",
    "protoPayload.authenticationInfo", "protoPayload.authenticationInfo.principalEmail",
    "protoPayload.authenticationInfo.principalSubject", "protoPayload.authenticationInfo.serviceAccountDelegationInfo",
    "protoPayload.requestMetadata", "protoPayload.requestMetadata.callerIp",
    "protoPayload.requestMetadata.requestAttributes", "protoPayload.requestMetadata.callerSuppliedUserAgent",
    "protoPayload.status", "protoPayload.status.code", "protoPayload.authorizationInfo", "protoPayload.resourceName",
    "protoPayload.resourceLocation", "protoPayload.request", "protoPayload.metadata", "resource", "resource.labels",
    "resource.labels.project_id", "timestamp", "receiveTimestamp", "insertId", "logName", "httpRequest",
    "httpRequest.responseSize")
_GCP_FLOW_FIELDS = (
    "jsonPayload.connection", "jsonPayload.connection.src_ip", "jsonPayload.connection.dest_ip",
    "jsonPayload.connection.dest_port", "jsonPayload.connection.protocol", "jsonPayload.bytes_sent",
    "jsonPayload.packets_sent", "jsonPayload.start_time", "jsonPayload.reporter", "jsonPayload.src_instance",
    "jsonPayload.src_instance.vm_name", "jsonPayload.src_instance.zone", "resource.labels")
_AZURE_ACTIVITY_FIELDS = (
    "time", "operationName", "resourceId", "category", "resultType", "callerIpAddress", "correlationId", "identity",
    "identity.claims", "identity.authorization", "identity.authorization.evidence", "location", "properties",
    "properties.requestbody", "properties.responseBody")
_AZURE_SIGNIN_FIELDS = (
    "time", "category", "tenantId", "properties", "properties.userId", "properties.status",
    "properties.status.errorCode", "properties.ipAddress", "properties.homeTenantId", "properties.userType",
    "properties.createdDateTime", "properties.appId", "properties.userPrincipalName", "properties.id")
_AZURE_STORAGE_FIELDS = (
    "time", "category", "operationName", "statusCode", "callerIpAddress", "uri", "identity", "identity.requester",
    "identity.requester.objectId", "properties", "properties.objectKey", "properties.responseBodySize",
    "properties.accountName")
_AZURE_FLOW_FIELDS = ("properties", "properties.flows", "resourceId", "macAddress")


def _wrong_types(w: _Writer) -> None:
    groups = (("cloudtrail", _mutations(_cloudtrail_kinds(), _CLOUDTRAIL_FIELDS)),
              ("gcp-audit", _mutations([gcp_audit(300)], _GCP_AUDIT_FIELDS)),
              ("gcp-flow", _mutations([gcp_flow(301)], _GCP_FLOW_FIELDS)),
              ("azure-activity", _mutations([az_activity(302)], _AZURE_ACTIVITY_FIELDS)),
              ("azure-signin", _mutations([az_signin(303)], _AZURE_SIGNIN_FIELDS)),
              ("azure-storage", _mutations([az_blob(304)], _AZURE_STORAGE_FIELDS)),
              ("azure-flow", _mutations([az_nsg(305)], _AZURE_FLOW_FIELDS)))
    for name, records in groups:
        w.add(f"wrong-types-{name}", lines(*records), records=len(records), dead=None, suffix=".ndjson")
    # Numbers as strings where logs may write them either way: all readable.
    w.add("numbers-as-strings", lines(
        ct(310, additionalEventData={"bytesTransferredOut": "1234"}),
        az_blob(311) | {"statusCode": "200"}, {**gcp_flow(312), "jsonPayload": {
            **gcp_flow(312)["jsonPayload"], "bytes_sent": "100", "packets_sent": "1"}}),
          records=3, dead=0, suffix=".ndjson")


# --- other log families with missing or odd fields ----------------------------------------------------

def _other_families(w: _Writer) -> None:
    valid = [gcp_audit(400), gcp_flow(401), az_activity(402), az_signin(403), az_blob(404), az_nsg(405)]
    w.add("other-families-valid", lines(*valid), records=6, dead=0, suffix=".ndjson")
    w.add("azure-records-document", json.dumps({"records": [az_activity(406), az_signin(407)]}), records=2, dead=0)
    bare_signin = {k: v for k, v in az_signin(408).items() if k not in ("time",)}
    bare_signin["properties"] = {k: v for k, v in bare_signin["properties"].items() if k != "createdDateTime"}
    missing = [
        {k: v for k, v in gcp_audit(409).items() if k not in ("resource", "logName")},       # no project anywhere
        {"protoPayload": {"methodName": "x"}},                                                 # nothing else
        {"jsonPayload": {"connection": {}, "reporter": "SRC"}},                                # no addresses
        {"operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE", "category": "Administrative"},   # no time
        bare_signin,
        {"category": "StorageRead", "time": "2026-10-11T01:00:00Z"},                          # bare storage record
        {"category": "NetworkSecurityGroupFlowEvent", "time": "2026-10-11T01:00:00Z",
         "properties": {"flows": [{"flows": [{"flowTuples": ["1760144400,10.0.0.4"]}]}]}},  # short tuple
        az_nsg(410, ["1760144400,10.0.0.4,10.0.0.5,1,2,T,O,X,C,1,1,1,1"]),                    # decision X
        az_nsg(411, [12345]),                                                                  # tuple not a string
        {"flowRecords": {"flows": [{"flowGroups": [{"flowTuples": ["99999999999999999999,10.0.0.4,10.0.0.5,1,2,6,O,"
                                                                  "C,NX,1,1,1,1"]}]}]}},    # vnet: time past a long
        {"flowRecords": "x"},
        {"Type": "StorageBlobLogs", "TimeGenerated": "2026-10-11T01:00:00Z", "StatusCode": "abc",
         "ResponseBodySize": "1e400", "OperationName": "GetBlob", "ObjectKey": 5},
    ]
    w.add("other-families-missing-fields", lines(*missing), records=len(missing), dead=None, suffix=".ndjson")


# --- planted secrets --------------------------------------------------------------------------------

def _secrets(w: _Writer) -> None:
    creds = call(at(DAY, hours=1, minutes=40), BYSTANDER, "iam.amazonaws.com", "CreateAccessKey", "198.51.100.7",
                 seed="fuzz-key", params={"userName": "fuzz-bystander"},
                 response={"accessKey": {"accessKeyId": "AKIAFUZZ0000000000001", "secretAccessKey": SECRET_KEY,
                                         "status": "Active", "userName": "fuzz-bystander"}})
    token = call(at(DAY, hours=1, minutes=41), BYSTANDER, "sts.amazonaws.com", "GetSessionToken", "198.51.100.7",
                 seed="fuzz-token", response={"credentials": {"accessKeyId": session_key("fuzz-token"),
                                                             "secretAccessKey": SECRET_KEY,
                                                             "sessionToken": SESSION_TOKEN}})
    password = call(at(DAY, hours=1, minutes=42), BYSTANDER, "iam.amazonaws.com", "CreateLoginProfile",
                    "198.51.100.7", seed="fuzz-password",
                    params={"userName": "fuzz-bystander", "password": PASSWORD, "passwordResetRequired": False})
    w.add("secrets-in-valid-records", lines(creds, token, password), records=3, dead=0, suffix=".ndjson")
    dead_ones = [
        ct(500, eventTime=SECRET_KEY),                                  # a secret where a time must be
        ct(501, eventTime=(PASSWORD + " ") * 100_000),                  # ... 2.5 MB of it
        ct(502, eventName={"secret": SECRET_KEY}),
        ct(503, eventSource=[SESSION_TOKEN]),
        ct(504, userIdentity={"type": PASSWORD}),                       # no principal to resolve
        ct(505, userIdentity=SESSION_TOKEN),
        ct(506, requestParameters={"password": PASSWORD}, eventTime="1970-01-01T00:00:00Z"),
        ct(507, requestParameters={"password": PASSWORD}, userIdentity=dict(BYSTANDER, arn="x" * 9000)),
        ct(508, requestParameters={"password": PASSWORD},
           userIdentity=dict(BYSTANDER, arn=f"arn:aws:iam::{ORG}:user/\udc80{SECRET_KEY}")),
        {"password": PASSWORD, "secret": SECRET_KEY, "token": SESSION_TOKEN},   # an unrecognised record
        {"srcAddr": SECRET_KEY, "dstAddr": "10.1.9.8", "start": 1760144400},
        {"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8", "start": 1760144400, "bytes": SESSION_TOKEN},
        {"srcAddr": "10.1.9.7", "dstAddr": "10.1.9.8", "start": PASSWORD},
        {**gcp_audit(509), "timestamp": GCP_KEY, "receiveTimestamp": GCP_KEY},
        {**gcp_audit(510), "protoPayload": {**gcp_audit(510)["protoPayload"], "methodName": 7,
                                            "request": {"privateKeyData": GCP_KEY}}},
        {**gcp_flow(511), "jsonPayload": {**gcp_flow(511)["jsonPayload"], "bytes_sent": GCP_KEY}},
        {**gcp_flow(512), "jsonPayload": {**gcp_flow(512)["jsonPayload"],
                                          "connection": {"src_ip": CONN_STRING, "dest_ip": "10.0.0.1"}}},
        {**az_activity(513), "time": AZURE_SECRET},
        {**az_signin(514), "time": AZURE_SECRET, "properties": {**az_signin(514)["properties"],
                                                                "createdDateTime": AZURE_SECRET}},
        {**az_blob(515), "time": CONN_STRING},
        az_nsg(516, [f"{AZURE_SECRET},10.0.0.4,10.0.0.5,1,2,T,O,A,C,1,1,1,1"]),
        az_nsg(517, [f"1760144400,{AZURE_SECRET},10.0.0.5,1,2,T,O,A,C,1,1,1,1"]),
        az_nsg(518, [f"1760144400,10.0.0.4,10.0.0.5,1,2,T,O,A,C,1,{CONN_STRING},1,1"]),
    ]
    w.add("secrets-in-dead-records", lines(*dead_ones), records=len(dead_ones), dead=len(dead_ones),
          suffix=".ndjson")
    w.add("secrets-in-flow-text", "\n".join([V2_HEADER, v2(519, bytes=SESSION_TOKEN), v2(520, srcaddr=PASSWORD),
                                             v2(521, start=SECRET_KEY.replace("/", "")), f"password={PASSWORD}",
                                             v2(522) + " " + SECRET_KEY]) + "\n",
          records=5, dead=5, suffix=".log")
    w.add("secrets-in-broken-json", '{"password": "%s", "eventTime": \n' % PASSWORD
          + '{"Records": [{"secretAccessKey": "%s"}' % SECRET_KEY, records=3, dead=3, suffix=".ndjson")
    w.add("secrets-in-text-lines", f"export AWS_SECRET_ACCESS_KEY={SECRET_KEY}\nAWS_SESSION_TOKEN={SESSION_TOKEN}\n"
          f"<password>{PASSWORD}</password>\n", records=3, dead=3, suffix=".log")
    w.add("secrets-in-bad-bytes", (f'{{"password": "{PASSWORD}", "x": "BAD"}}\n'.encode().replace(b"BAD", b"\xff")),
          records=1, dead=1, suffix=".ndjson")
    w.add("secrets-in-a-gzip-tail", gz(lines(ct(523)).encode()) + SECRET_KEY.encode(),
          records=2, dead=1, suffix=".ndjson.gz")


# --- volume ----------------------------------------------------------------------------------------

def _volume(w: _Writer) -> None:
    # A whole chain (a new user, a burst of downloads from outside) whose event ids are 8000
    # characters: as events, one finding of 3.7 MB, past the 2 MB a replay collects (the job
    # stopped); the normaliser keeps ids to 256 characters, so they are dead letters instead.
    long_user = user(ORG, "fuzz-long-ids")
    records = [create_user(at(DAY, hours=5), BYSTANDER, ORG, "fuzz-long-ids", seed="fuzz-long-create")]
    records += [get_object(at(DAY, hours=5, minutes=10, seconds=2 * i), long_user, f"fuzz-bucket-{i % 3}",
                           f"k{i}", 6_000_000, "45.155.205.41", seed=f"fuzz-long-{i}") for i in range(250)]
    for i, record in enumerate(records):
        record["eventID"] = f"{i:04d}-" + "e" * 8000
    w.add("chain-with-8000-character-event-ids", gz(json.dumps({"Records": records}).encode()),
          records=251, dead=251, suffix=".json.gz")

    w.add("huge-array-of-numbers", "[" + ",".join("0" for _ in range(10_000)) + "]", records=10_000, dead=10_000)
    w.add("huge-records-array", json.dumps({"Records": [ct(1000 + n) for n in range(3000)]}), records=3000, dead=0)
    w.add("many-blank-lines", "\n" * 200_000 + json.dumps(ct(4000)) + "\n", records=1, dead=0, suffix=".ndjson")
    w.add("folder/nested/deep/file", lines(ct(4001)), records=1, dead=0, suffix=".ndjson")


# --- what is never read: reported as skipped ---------------------------------------------------------

def _skipped(w: _Writer) -> None:
    w.skip("fifo", os.mkfifo)
    w.skip("notes.md", lambda p: p.write_text("# " + SECRET_KEY))
    w.skip("logs.zip", lambda p: p.write_bytes(b"PK\x03\x04" + b"\x00" * 30))
    w.skip("x.json.digest", lambda p: p.write_text("{}"))
    w.skip("x.json.txt.sig", lambda p: p.write_text("sig"))
    hidden = w.root / ".hidden.json"
    hidden.write_text(lines(ct(4100)))
    w.kinds.append(Kind(".hidden-file", 0, 0, files=0, skipped=1, paths=[hidden]))
    hidden_dir = w.root / ".git"
    hidden_dir.mkdir()
    (hidden_dir / "x.json").write_text(lines(ct(4101)))
    w.kinds.append(Kind(".hidden-folder", 0, 0, files=0, skipped=1, paths=[hidden_dir]))
    digest = w.root / "CloudTrail-Digest"
    digest.mkdir()
    (digest / "d.json.gz").write_bytes(gz(b"{}"))
    w.kinds.append(Kind("cloudtrail-digest-folder", 0, 0, files=0, skipped=1, paths=[digest]))
    w.skip("link-to-a-folder", lambda p: p.symlink_to(digest))
    w.skip("dangling-link.json", lambda p: p.symlink_to(w.root / "no-such-file"))
    w.skip("link-loop.json", lambda p: p.symlink_to(p))
    w.skip("device.json", lambda p: p.symlink_to("/dev/null"))
    name = os.fsdecode(b"k-not-utf8-\xff.json")
    (w.root / name).write_text(lines(ct(4102)))
    w.kinds.append(Kind("non-utf8-name", 0, 0, files=0, skipped=1, paths=[w.root / name]))
    w.skip("socket", _socket)


def _socket(path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(path))
    except OSError:          # the path is too long for a socket: a FIFO takes its place
        os.mkfifo(path)
    finally:
        server.close()
