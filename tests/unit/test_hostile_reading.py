"""Hostile files through the reader (chainwatch/sources/files.py), real files in tmp_path: what
can be read is read, what cannot is one dead letter that says so and carries the bytes; nothing
hangs or raises; every record read is accounted for, and every file not read is reported.
"""
from __future__ import annotations

import base64
import codecs
import gzip
import json
import os
import socket
import tempfile
import threading
import zlib
from pathlib import Path

import pytest

from chainwatch.core.event import MAX_RAW_BYTES
from chainwatch.engine import run
from chainwatch.enrich.normalise import Normaliser
from chainwatch.findings.run_result import ReplayResult
from chainwatch.sources.files import discover, find_inputs, records_from_file, records_from_line, records_from_text

ACCT = "111122223333"


def event(n: int, **overrides) -> dict:
    record = {"eventVersion": "1.09", "eventTime": f"2026-11-01T10:{n % 60:02d}:00Z", "eventSource": "iam.amazonaws.com",
              "eventName": "ListUsers", "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7",
              "eventID": f"e-{n}", "recipientAccountId": ACCT,
              "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/u{n}", "accountId": ACCT}}
    record.update(overrides)
    return record


def framings(records) -> list[str]:
    return [framing for _ref, _payload, framing in records]


def normalised(config, records):
    """(events, dead letters) of records, through the real Normaliser."""
    normaliser, events, letters = Normaliser(config), [], []
    for ref, payload, framing in records:
        parsed, letter = normaliser.normalise(ref, payload, framing)
        events += parsed
        if letter:
            letters.append(letter)
    return events, letters


# --- bytes that are not UTF-8 -----------------------------------------------------------------

def test_a_bad_utf8_byte_dead_letters_only_the_record_holding_it(tmp_path, config):
    document = json.dumps({"Records": [event(n) for n in range(10)]}).encode()
    path = tmp_path / "ct.json"
    path.write_bytes(document.replace(b"user/u7", b"user/u\x807"))       # CloudTrail: one line, one document
    records = list(records_from_file(str(path)))
    assert [ref for ref, _p, _f in records] == [f"{path}#{n}" for n in range(10)]
    assert framings(records) == ["json"] * 7 + ["unicode"] + ["json"] * 2
    events, (letter,) = normalised(config, records)
    assert len(events) == 9 and letter["ref"] == f"{path}#7" and letter["kind"] == "invalid_unicode"
    assert letter["reason"].startswith("not valid Unicode in userIdentity.arn: an invalid UTF-8 byte")
    assert json.loads(letter["raw"])["eventID"] == "e-7"


def test_a_bad_utf8_byte_in_ndjson_or_a_flow_log_dead_letters_only_its_line(tmp_path, config):
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_bytes(b"\n".join(json.dumps(event(n)).encode() for n in range(3)).replace(b"ListUsers", b"List\xffUsers", 1)
                       .replace(b"e-2", b"e-2\xc3"))   # line 1: in a field; line 3: a truncated sequence
    records = list(records_from_file(str(ndjson)))
    assert [(ref.rsplit(":", 1)[1], framing) for ref, _p, framing in records] == [("1", "unicode"), ("2", "json"),
                                                                                   ("3", "unicode")]
    flows = tmp_path / "flows.log"
    line = b"2 111122223333 eni-1 10.0.1.5 8.8.8.8 49152 443 6 12 5000 1793527200 1793527260 ACCEPT OK"
    flows.write_bytes(b"\n".join([line, line.replace(b"ACCEPT", b"ACC\xe9PT"), line]) + b"\n")
    records = list(records_from_file(str(flows)))
    assert framings(records) == ["flowtext", "unicode", "flowtext"]
    events, (letter,) = normalised(config, records)
    assert len(events) == 2 and letter["ref"] == f"{flows}:2"
    assert letter["raw_encoding"] == "base64" and base64.b64decode(letter["raw"]) == line.replace(b"ACCEPT", b"ACC\xe9PT")


def test_a_lone_surrogate_escape_dead_letters_its_record_not_its_neighbours(tmp_path, config):
    path = tmp_path / "events.ndjson"
    evil = json.dumps(event(1, userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::{ACCT}:user/ev\udc80il"}))
    assert "\\udc80" in evil
    path.write_text(evil + "\n" + json.dumps(event(2)) + "\n")
    events, (letter,) = normalised(config, records_from_file(str(path)))
    assert [e["id"] for e in events] == ["e-2"] and letter["ref"] == f"{path}:1"
    assert letter["reason"].startswith("not valid Unicode in userIdentity.arn")
    # A Kafka record value or a watched line takes the same way.
    ((ref, (reason, _raw), framing),) = list(records_from_line(evil, "kafka:cloudtrail"))
    assert (ref, framing) == ("kafka:cloudtrail:1", "unicode") and reason.startswith("not valid Unicode")
    # Paired surrogate escapes are a valid character.
    ((_ref, payload, framing),) = list(records_from_line(json.dumps(event(3, eventName="\U0001F600")), "k"))
    assert framing == "json" and payload["eventName"] == "\U0001F600"


# --- gzip that breaks off -------------------------------------------------------------------------

def gzip_until(parts: list[bytes], cut: int) -> tuple[bytes, int]:
    """gzip of parts, flushed after parts[:cut] (a block boundary): (bytes, offset of that boundary)."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = deflate.compress(b"".join(parts[:cut])) + deflate.flush(zlib.Z_FULL_FLUSH)
    return head + deflate.compress(b"".join(parts[cut:])) + deflate.flush(), len(head)


def test_corrupt_deflate_data_salvages_what_inflates_before_it(tmp_path, config):
    lines = [json.dumps(event(n)).encode() + b"\n" for n in range(40)]
    whole, boundary = gzip_until(lines, 25)
    path = tmp_path / "events.ndjson.gz"
    path.write_bytes(whole[:boundary] + b"\xff" * 64 + whole[boundary:])   # 0xff: a reserved block type
    with pytest.raises(zlib.error):
        gzip.decompress(path.read_bytes())
    records = list(records_from_file(str(path)))
    assert framings(records) == ["json"] * 25 + ["error"]
    ref, (reason, unread), _ = records[-1]
    assert ref == f"{path}@{boundary}" and unread == path.read_bytes()[boundary:]
    assert reason.startswith(f"corrupt gzip data at byte {boundary} (Error -3 while decompressing data: invalid "
                             f"block type): the {sum(map(len, lines[:25]))} bytes inflated before it were read")
    events, (letter,) = normalised(config, records)
    assert len(events) == 25 and letter["raw_encoding"] == "base64"
    assert base64.b64decode(letter["raw"]) == unread and letter["raw_truncated"] is False


def test_a_truncated_gzip_document_salvages_its_complete_records(tmp_path, config):
    items = [json.dumps(event(n)).encode() for n in range(30)]
    parts = [b'{"Records":[' + items[0]] + [b"," + item for item in items[1:]] + [b"]}"]
    whole, boundary = gzip_until(parts, 12)
    path = tmp_path / "ct.json.gz"
    path.write_bytes(whole[:boundary + 5])                # cut inside the block after the boundary
    with pytest.raises(EOFError):
        gzip.decompress(path.read_bytes())
    records = list(records_from_file(str(path)))
    assert [ref for ref, _p, _f in records] == [f"{path}#{n}" for n in range(13)] + [f"{path}@{boundary + 5}"]
    assert framings(records) == ["json"] * 12 + ["text", "error"]
    assert records[12][1][0].startswith("invalid JSON at line 1, column ") and \
        records[12][1][0].endswith("(the 12 records before it were read)")
    assert records[13][1] == (f"gzip stream truncated at byte {boundary + 5} (the file ends inside a compressed "
                              f"block): the {sum(map(len, parts[:12]))} bytes inflated before it were read as "
                              "records, the rest of the file could not be read", b"")
    events, letters = normalised(config, records)
    assert len(events) == 12 and len(letters) == 2


def test_an_unreadable_file_is_one_dead_letter_carrying_its_bytes_capped(tmp_path, config):
    path = tmp_path / "broken.json.gz"
    junk = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)) * 800    # a header, then no deflate
    path.write_bytes(junk)
    ((ref, (reason, unread), framing),) = records = list(records_from_file(str(path)))
    assert (ref, framing) == (str(path), "error") and reason.startswith("cannot read file: corrupt gzip data at byte")
    assert unread == junk
    _events, (letter,) = normalised(config, records)
    assert base64.b64decode(letter["raw"]) == junk[:MAX_RAW_BYTES] and letter["raw_truncated"] is True
    header_only = tmp_path / "empty.json.gz"
    header_only.write_bytes(junk[:10])
    ((_r, (reason, unread), framing),) = list(records_from_file(str(header_only)))
    assert framing == "error" and reason.startswith("cannot read file: gzip stream truncated") and unread == junk[:10]


def test_gzip_members_and_zero_padding_are_read_other_compressions_named(tmp_path):
    path = tmp_path / "two.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"a": 1}\n') + gzip.compress(b'{"a": 2}\n') + b"\x00" * 512)
    assert [p for _r, p, _f in records_from_file(str(path))] == [{"a": 1}, {"a": 2}]
    path.write_bytes(gzip.compress(b'{"a": 1}\n') + b"trailing junk")
    assert framings(records_from_file(str(path))) == ["json", "error"]
    zipped = tmp_path / "logs.zip"
    zipped.write_bytes(b"PK\x03\x04" + b"\x00" * 100)      # named on its own: read, and said to be a zip
    ((_r, (reason, unread), framing),) = list(records_from_file(str(zipped)))
    assert framing == "error" and reason == "cannot read file: a zip archive, not text or gzip"
    assert unread == zipped.read_bytes()


def test_gzip_inside_gzip_is_inflated_and_deeper_or_other_compressions_are_named(tmp_path, config):
    """A compressing Firehose gzips data that is gzip already: read, not lines of binary junk."""
    body = b"".join(json.dumps(event(n)).encode() + b"\n" for n in range(3))
    twice = tmp_path / "twice.ndjson.gz"
    twice.write_bytes(gzip.compress(gzip.compress(body)))
    assert [p["eventID"] for _r, p, _f in records_from_file(str(twice))] == ["e-0", "e-1", "e-2"]
    cut = tmp_path / "cut.ndjson.gz"
    cut.write_bytes(gzip.compress(gzip.compress(body)[:-9]))          # the inner stream breaks off
    records = list(records_from_file(str(cut)))
    assert framings(records) == ["json"] * 3 + ["error"]
    assert records[-1][1][0].startswith("in the gzip data inside the gzip file (compressed 2 times): gzip stream "
                                        "truncated at byte")
    deep = tmp_path / "deep.json.gz"
    deep.write_bytes(gzip.compress(gzip.compress(gzip.compress(gzip.compress(body)))))
    ((_r, (reason, _raw), framing),) = list(records_from_file(str(deep)))
    assert (framing, reason) == ("error", "cannot read file: gzip data compressed more than 3 times")
    bz = tmp_path / "bz.json.gz"
    bz.write_bytes(gzip.compress(b"BZh91AY&SY" + b"\x00" * 40))
    ((_r, (reason, _raw), framing),) = list(records_from_file(str(bz)))
    assert (framing, reason) == ("error", "cannot read file: bzip2 data inside gzip, not text")


def test_utf16_text_with_its_byte_order_mark_is_read(tmp_path):
    """As PowerShell's Out-File writes it; without the mark, or with bytes UTF-16 cannot decode,
    the bytes are read as UTF-8 (dead letters that carry them)."""
    text = json.dumps(event(1)) + "\r\n" + json.dumps(event(2)) + "\r\n"
    for encoding in ("utf-16", "utf-16-be"):
        path = tmp_path / f"{encoding}.ndjson"
        path.write_bytes((codecs.BOM_UTF16_BE if encoding == "utf-16-be" else b"") + text.encode(encoding))
        assert [p["eventID"] for _r, p, _f in records_from_file(str(path))] == ["e-1", "e-2"]
    broken = tmp_path / "broken.ndjson"
    broken.write_bytes(codecs.BOM_UTF16_LE + json.dumps(event(1)).encode("utf-16-le") + b"\x00\xdc")  # lone surrogate
    assert framings(records_from_file(str(broken))) == ["unicode"]


# --- JSON framing ---------------------------------------------------------------------------------

def test_json_nested_10000_deep_is_a_dead_letter_and_its_neighbours_are_read(tmp_path, config):
    path = tmp_path / "deep.ndjson"
    path.write_text("\n".join([json.dumps(event(1)), "[" * 10_000 + "]" * 10_000,
                               '{"a":' * 10_000 + "1" + "}" * 10_000, json.dumps(event(2))]) + "\n")
    records = list(records_from_file(str(path)))
    assert framings(records) == ["json", "text", "text", "json"]
    events, letters = normalised(config, records)
    assert [e["id"] for e in events] == ["e-1", "e-2"]
    assert [letter["reason"] for letter in letters] == [
        "invalid JSON at line 2, column 2: nested too deeply to read",
        "invalid JSON at line 3, column 1: nested too deeply to read"]
    alone = tmp_path / "deep.json"
    alone.write_text("[" * 10_000 + "]" * 10_000)
    ((ref, (reason, raw), framing),) = list(records_from_file(str(alone)))
    assert (ref, framing) == (str(alone), "text") and "nested too deeply" in reason and len(raw) == 20_000


def test_an_integer_of_more_digits_than_python_converts_is_a_dead_letter_not_a_crash(tmp_path, config):
    """json raises a plain ValueError (not a JSONDecodeError) past 4300 digits: it escaped the
    reader and stopped the job."""
    path = tmp_path / "digits.ndjson"
    path.write_text('{"eventVersion": "1.09", "n": ' + "9" * 5000 + "}\n" + json.dumps(event(1)) + "\n"
                    + json.dumps({"Records": [event(2), {"n": int("7" * 4000)}]}) + "\n")
    records = list(records_from_file(str(path)))
    assert framings(records) == ["text", "json", "json", "json"]
    assert records[0][1][0] == "invalid JSON at line 1, column 31: a number with too many digits to read"
    events, letters = normalised(config, records)
    assert [e["id"] for e in events] == ["e-1", "e-2"] and len(letters) == 2
    # In an envelope's JSON string, or an Azure column holding JSON: a dead letter naming no parser bug.
    for record in ({"message": '{"eventName": ' + "9" * 5000 + "}"},
                   {"category": "Administrative", "operationName": "X/Y", "time": "2026-11-01T10:00:00Z",
                    "resourceId": "/subscriptions/s", "identity": '{"claims": {"oid": ' + "7" * 5000 + "}}"}):
        parsed, letter = Normaliser(config).normalise("r", record, "json")
        assert letter is None or not letter["reason"].startswith("parser error"), letter


def test_a_line_with_values_or_other_text_is_never_taken_for_a_flow_header(tmp_path, config):
    """A flow log with \\r line ends is one line: it was taken for a header, and all its records
    vanished without a dead letter; so did an error line naming srcaddr and dstaddr."""
    header = " ".join(("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
                       "protocol", "packets", "bytes", "start", "end", "action", "log-status"))
    line = "2 111122223333 eni-1 10.0.1.5 8.8.8.8 49152 443 6 12 5000 1793527200 1793527260 ACCEPT OK"
    cr_only = tmp_path / "cr.log"
    cr_only.write_text(header + "\r" + line + "\r" + line + "\r")
    ((_ref, (reason, _raw), framing),) = list(records_from_file(str(cr_only)))
    assert (framing, reason) == ("text", "neither JSON nor a flow-log line (no flow header seen before it)")
    mention = tmp_path / "mention.log"
    mention.write_text("error: srcaddr and dstaddr are missing\n" + line + "\n")
    assert framings(records_from_file(str(mention))) == ["text", "flowtext"]
    custom = tmp_path / "custom.log"
    custom.write_text("start srcaddr dstaddr bytes pkt-srcaddr log_status\n1793527200 10.0.1.5 8.8.8.8 9 - OK\n")
    ((_ref, (fields, _line), framing),) = list(records_from_file(str(custom)))
    assert framing == "flowtext" and fields[-1] == "log_status"
    events, letters = normalised(config, records_from_file(str(custom)))
    assert len(events) == 1 and not letters


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_unicode_line_separators_inside_a_string_do_not_split_a_record(tmp_path, separator):
    path = tmp_path / "events.ndjson"
    first = event(1, userAgent=f"agent{separator}with a break")
    path.write_text(json.dumps(first, ensure_ascii=False) + "\r\n" + json.dumps(event(2)) + "\r\n", encoding="utf-8")
    records = list(records_from_file(str(path)))
    assert [(ref, framing) for ref, _p, framing in records] == [(f"{path}:1", "json"), (f"{path}:2", "json")]
    assert records[0][1] == first


def test_a_pretty_printed_document_and_a_stream_of_them_are_read_as_records(tmp_path):
    document = tmp_path / "ct.json"
    document.write_text(json.dumps({"Records": [event(1), event(2)]}, indent=2))
    assert [(ref, p["eventID"]) for ref, p, _f in records_from_file(str(document))] == [
        (f"{document}#0", "e-1"), (f"{document}#1", "e-2")]
    stream = tmp_path / "stream.json"
    parts = [json.dumps(event(1), indent=2), json.dumps(event(2), indent=4), json.dumps(event(3)),
             json.dumps({"Records": [event(4), event(5)]}, indent=1)]
    stream.write_text("\n".join(parts) + "\n")
    starts = [1, 1 + parts[0].count("\n") + 1]
    starts += [starts[1] + parts[1].count("\n") + 1, starts[1] + parts[1].count("\n") + 2]
    records = list(records_from_file(str(stream)))
    assert [(ref, p["eventID"]) for ref, p, _f in records] == [
        (f"{stream}:{starts[0]}", "e-1"), (f"{stream}:{starts[1]}", "e-2"), (f"{stream}:{starts[2]}", "e-3"),
        (f"{stream}:{starts[3]}#0", "e-4"), (f"{stream}:{starts[3]}#1", "e-5")]
    concatenated = tmp_path / "concatenated.json"      # no newline between values at all
    concatenated.write_text(json.dumps(event(1)) + json.dumps(event(2)) + " " + json.dumps(event(3)))
    assert [ref.rsplit("/", 1)[1] for ref, _p, _f in records_from_file(str(concatenated))] == [
        "concatenated.json:1", f"concatenated.json:1:{len(json.dumps(event(1))) + 1}",
        f"concatenated.json:1:{2 * len(json.dumps(event(1))) + 2}"]


def test_a_broken_pretty_printed_value_is_one_dead_letter_and_the_stream_goes_on(tmp_path):
    broken = json.dumps(event(2), indent=2).replace('"eventName": "ListUsers",', '"eventName": "ListUsers"')
    path = tmp_path / "stream.json"
    path.write_text("\n".join([json.dumps(event(1), indent=2), broken, json.dumps(event(3), indent=2)]) + "\n")
    records = list(records_from_file(str(path)))
    assert framings(records) == ["json", "text", "json"]
    reason, raw = records[1][1]
    assert reason.startswith("invalid JSON at line ") and "Expecting ',' delimiter" in reason and raw == broken
    assert [p["eventID"] for _r, p, f in records if f == "json"] == ["e-1", "e-3"]


def test_lines_of_another_kind_after_broken_json_are_read_as_they_are():
    flow = "2 111122223333 eni-1 10.0.1.5 8.8.8.8 49152 443 6 12 5000 1793527200 1793527260 ACCEPT OK"
    records = list(records_from_text(f"[broken\n{flow}\n{{\"n\": 2,\nnot json\n{flow}\n", "f"))
    assert [(ref, framing) for ref, _p, framing in records] == [
        ("f:1", "text"), ("f:2", "flowtext"), ("f:3", "text"), ("f:4", "text"), ("f:5", "flowtext")]
    assert [payload[0].split(":")[0] for _r, payload, framing in records if framing == "text"] == [
        "invalid JSON at line 1, column 2", "invalid JSON at line 4, column 1", "neither JSON nor a flow-log line (no flow header seen before it)"]


def test_a_second_records_key_is_not_silently_dropped(tmp_path):
    path = tmp_path / "ct.json"
    path.write_text('{"Records": [%s, %s], "Records": [%s]}' % (json.dumps(event(1)), json.dumps(event(2)),
                                                               json.dumps(event(3))))
    records = list(records_from_file(str(path)))
    assert [(ref, framing) for ref, _p, framing in records] == [
        (f"{path}#0", "json"), (f"{path}#1", "json"), (f"{path}#2", "json"), (str(path), "text")]
    assert [p["eventID"] for _r, p, f in records if f == "json"] == ["e-1", "e-2", "e-3"]
    reason, raw = records[-1][1]
    assert reason.startswith('the document has 2 record arrays ("Records": #0-#1; "Records": #2-#2): all were read')
    assert json.loads(raw) == ["Records", "Records"]
    # Not first, spelled with an escape, or both spellings: the same.
    for text in ('{"x": 1, "Records": [%s], "Re\\u0063ords": [%s]}', '{"records": [%s], "Records": [%s]}'):
        path.write_text(text % (json.dumps(event(1)), json.dumps(event(2))))
        assert framings(records_from_file(str(path))) == ["json", "json", "text"]


def test_ndjson_refs_and_a_broken_line_as_before():
    records = list(records_from_text('{"n": 1}\n{"n": 2,\n\n{"n": 3}\n', "f"))
    assert [(ref, framing) for ref, _p, framing in records] == [("f:1", "json"), ("f:2", "text"), ("f:4", "json")]
    assert records[1][1] == ("invalid JSON at line 4, column 1: Expecting property name enclosed in double quotes",
                             '{"n": 2,')


def test_a_kafka_value_holding_a_pretty_printed_document():
    value = json.dumps({"Records": [event(1), event(2)]}, indent=2)
    assert [(ref, p["eventID"]) for ref, p, _f in records_from_line(value, "kafka:ct")] == [
        ("kafka:ct:1#0", "e-1"), ("kafka:ct:1#1", "e-2")]


# --- files that are not read ----------------------------------------------------------------------

def returns_within(seconds, function, *args):
    """function(*args), failing (not hanging) if it takes longer than `seconds`."""
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", function(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{function.__name__} hung"
    return result["value"]


def test_fifos_sockets_and_devices_are_skipped_with_a_reason_never_opened(tmp_path):
    folder = Path(tempfile.mkdtemp(prefix="cw-", dir="/tmp"))     # a short path: sockets allow ~100 bytes
    try:
        (folder / "events.ndjson").write_text(json.dumps(event(1)) + "\n")
        os.mkfifo(folder / "pipe")
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(folder / "sock"))
        os.symlink("/dev/null", folder / "null")
        inputs = returns_within(10, find_inputs, [folder])
        assert inputs.files == [str(folder / "events.ndjson")]
        assert inputs.skipped == [{"path": str(folder / "null"), "reason": "a character device, not a regular file"},
                                  {"path": str(folder / "pipe"), "reason": "a FIFO, not a regular file"},
                                  {"path": str(folder / "sock"), "reason": "a socket, not a regular file"}]
        named = returns_within(10, find_inputs, [folder / "pipe"])      # named on its own: still not opened
        assert named.files == [] and named.skipped[0]["reason"] == "a FIFO, not a regular file"
        ((ref, (reason, unread), framing),) = returns_within(10, lambda p: list(records_from_file(p)),
                                                              str(folder / "pipe"))
        assert (framing, reason, unread) == ("error", "not read: a FIFO, not a regular file", b"")
        server.close()
    finally:
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()


def test_zip_markdown_hidden_and_digest_files_are_reported_as_skipped(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(event(1)))
    for name in ("notes.md", "logs.zip", ".hidden.json", "x.json.digest"):
        (tmp_path / name).write_bytes(b"x")
    for folder in (".git", "CloudTrail-Digest"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "inside.json").write_text("{}")
    (tmp_path / "linked").symlink_to(tmp_path / "CloudTrail-Digest")
    odd = os.fsdecode(b"caf\xe9.json")
    (tmp_path / odd).write_text("{}")
    inputs = find_inputs([tmp_path])
    assert inputs.files == [str(tmp_path / "a.json")] == discover([tmp_path])
    assert [(Path(s["path"]).name, s["reason"]) for s in inputs.skipped] == [
        (".git", "a hidden folder (its name starts with '.'): not read"),
        (".hidden.json", "a hidden file (its name starts with '.')"),
        ("CloudTrail-Digest", "CloudTrail digests, not telemetry"),
        ("caf\\xe9.json", "its name is not valid UTF-8 (rename it to read it)"),
        ("linked", "a link to a folder: not followed (name the folder itself to read it)"),
        ("logs.zip", "a zip archive: not unpacked (unzip it, or gzip its files)"),
        ("notes.md", "documentation (.md), not telemetry"),
        ("x.json.digest", "a CloudTrail digest, not telemetry")]
    result = ReplayResult(files=1, skipped=inputs.skipped)
    assert result.skipped_lines(limit=2) == ["files skipped:         8",
                                             f"  {tmp_path}/.git: a hidden folder (its name starts with '.'): not read",
                                             f"  {tmp_path}/.hidden.json: a hidden file (its name starts with '.')",
                                             "  ... and 6 more"]


# --- accounting -----------------------------------------------------------------------------------

def test_every_record_read_is_accounted_for_and_every_file_skipped_is_reported(tmp_path, config, patterns):
    lines = [json.dumps(event(n)).encode() + b"\n" for n in range(20)]
    whole, boundary = gzip_until(lines, 10)
    (tmp_path / "corrupt.ndjson.gz").write_bytes(whole[:boundary] + b"\xff" * 8)
    (tmp_path / "bad-byte.json").write_bytes(json.dumps({"Records": [event(1), event(2)]}).encode()
                                             .replace(b"u2", b"u\xff2"))
    (tmp_path / "dup.json").write_text('{"Records": [%s], "Records": [%s]}' % (json.dumps(event(3)),
                                                                              json.dumps(event(4))))
    (tmp_path / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (tmp_path / "pretty.json").write_text(json.dumps(event(5), indent=2) + json.dumps(event(6), indent=2))
    (tmp_path / "u2028.ndjson").write_text(json.dumps(event(7, userAgent="a\u2028b"), ensure_ascii=False) + "\n")
    (tmp_path / "times.ndjson").write_text("\n".join(json.dumps(event(8, eventTime=t)) for t in (
        "1970-01-01T00:00:00Z", "2026-11-01", "9999-12-31T23:59:59-23:59", "2026-W44-1")) + "\n")
    (tmp_path / "README.md").write_text("# notes")
    os.mkfifo(tmp_path / "pipe")
    result = returns_within(60, run, config, patterns, [tmp_path])
    counts = result.counts
    expected = {"corrupt.ndjson.gz": 11, "bad-byte.json": 2, "dup.json": 3, "deep.json": 1, "pretty.json": 2,
                "u2028.ndjson": 1, "times.ndjson": 4}
    assert result.files == len(expected)
    assert counts["read"] == sum(expected.values()) == counts["normalised"] + counts["dead_lettered"]
    assert (counts["normalised"], counts["dead_lettered"]) == (10 + 1 + 2 + 2 + 1, 1 + 1 + 1 + 1 + 4)
    assert len(result.dead_letters) == counts["dead_lettered"]
    assert all(len(d["reason"]) <= 500 for d in result.dead_letters)
    assert sorted(Path(s["path"]).name for s in result.skipped) == ["README.md", "pipe"]


def test_a_whole_records_document_read_at_once_gives_what_the_careful_reader_gives(tmp_path, monkeypatch):
    """records_from_file decodes a file that is one {"Records": [...]} document in one orjson call;
    on documents made to sit on both sides of each of its fallbacks, it yields what the member by
    member reader yields."""
    from chainwatch.sources import files
    record = {"eventVersion": "1.09", "eventTime": "2026-11-01T10:00:00Z", "eventID": "e-1",
              "requestParameters": {"n": 1.5, "big": 123456789012345678, "neg": -0.0, "t": True, "z": None}}
    bodies = [
        json.dumps({"Records": [record, dict(record, eventID="e-2")]}),
        json.dumps({"Records": []}), json.dumps({"Records": [record]}, indent=2) + "\n\n",
        json.dumps({"Records": [record], "digest": {"x": 1}}),
        '{"Records": [' + json.dumps(record) + '], "records": [' + json.dumps(record) + ']}',
        '{"Records": [' + json.dumps(record) + '], "Records": [' + json.dumps(record) + ']}',
        '{"Records": [{"a": 12345678901234567890123}]}', '{"Records": [{"a": NaN}]}', '{"Records": [{"a": 1e400}]}',
        '{"Records": [{"Records": 1}]}', '{"Record\\u0073": [{"a": 1}], "Records": [{"b": 2}]}',
        '{"Records": [{"a": "caf\\u00e9", "b": "é"}]}', '{"Records": {"a": 1}}', '{"Records": [1, "x", [2]]}',
        '{"Records": [{"a": 1}]} trailing', '{"Records": [{"a": 1}]}\n{"Records": [{"b": 2}]}',
        '{"Records": [{"a": 1}, {"b": }]}', '{"Records": [{"a": {"a": 1, "a": 2}}]}', ' \t{"records": [{"a": 1}]}\r\n',
        '{"Records": [{"a": 1}]}\x0c', '\ufeff{"Records": [{"a": 1}]}', '{"Records": [{"a": "\\udc80"}]}',
        '{"Records": [{"a": 1234567890123456789}]}', '{"Records": [{"a": 123456789012345678}]}',
    ]
    for n, body in enumerate(bodies):
        for compress in (False, True):
            path = tmp_path / (f"{n}.json" + (".gz" if compress else ""))
            path.write_bytes(gzip.compress(body.encode()) if compress else body.encode())
            fast = list(records_from_file(str(path)))
            with monkeypatch.context() as careful:
                careful.setattr(files, "_records_at_once", lambda data: None)
                assert fast == list(records_from_file(str(path))), body
