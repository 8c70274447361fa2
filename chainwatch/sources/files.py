"""Files to raw records: finds files, unpacks gzip, and tells the record framing from content.

A raw record is (ref, payload, framing): ref names file and record number for the
dead-letter output; framing says how the payload was cut from the file:
  'json'      a decoded JSON object (CloudTrail S3 file entry, JSON array item, NDJSON line)
  'flowtext'  (header_fields, line) of a space-separated flow log
  'text'      (reason, line) for a line that is neither: dead-lettered with that reason
  'error'     the file itself could not be read (payload is the reason)
"""
from __future__ import annotations

import gzip
import json
import os

# Header of the default VPC Flow Logs format (version 2), for files shipped without one.
VPC_FLOW_V2_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
                      "protocol", "packets", "bytes", "start", "end", "action", "log-status")
_FLOW_HEADER_MARKERS = {"srcaddr", "dstaddr", "interface-id", "pkt-srcaddr", "log-status"}
_SKIP_SUFFIXES = (".md", ".zip", ".txt.sig", ".digest")


def discover(paths) -> list[str]:
    """Every data file under the given files or folders, sorted for a deterministic replay."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = [d for d in dirs if not d.startswith(".") and d != "CloudTrail-Digest"]
                found.extend(os.path.join(root, f) for f in files
                             if not f.startswith(".") and not f.endswith(_SKIP_SUFFIXES))
        elif os.path.exists(path):
            found.append(str(path))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return sorted(found)


def read_text(path: str) -> str:
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data.decode("utf-8-sig")


def is_flow_header(line: str) -> bool:
    return len(_FLOW_HEADER_MARKERS.intersection(line.split())) >= 2


def looks_like_default_flow(line: str) -> bool:
    tokens = line.split()
    return len(tokens) == len(VPC_FLOW_V2_FIELDS) and tokens[0] == "2" and tokens[-1] in ("OK", "NODATA", "SKIPDATA")


def _document_records(document, ref: str):
    """A CloudTrail/Azure {"Records": [...]} document or a JSON array yields its items."""
    items = document.get("Records", document.get("records")) if isinstance(document, dict) else document
    if isinstance(items, list):
        for index, item in enumerate(items):
            yield f"{ref}#{index}", item, "json"
    else:
        yield ref, document, "json"


def records_from_text(text: str, ref: str):
    """Yield (ref, payload, framing) for every record in one file's text."""
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            document = json.loads(stripped)
        except json.JSONDecodeError:
            document = None  # not one document: NDJSON, handled line by line below
        if document is not None:
            yield from _document_records(document, ref)
            return
    yield from _records_from_lines(text.splitlines(), ref)


def _records_from_lines(lines, ref: str, header=None):
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line:
            continue
        line_ref = f"{ref}:{number}"
        if line.startswith(("{", "[")):
            try:
                document = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_ref, (f"invalid JSON at column {exc.colno}: {exc.msg}", line), "text"
                continue
            yield from _document_records(document, line_ref)
        elif is_flow_header(line):
            header = tuple(line.split())
        elif header is not None:
            yield line_ref, (header, line), "flowtext"
        elif looks_like_default_flow(line):
            yield line_ref, (VPC_FLOW_V2_FIELDS, line), "flowtext"
        else:
            yield line_ref, ("neither JSON nor a flow-log line (no flow header seen before it)", line), "text"


def records_from_file(path: str):
    try:
        text = read_text(path)
    except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        yield path, f"cannot read file: {exc}", "error"
        return
    yield from records_from_text(text, path)


def records_from_line(line: str, ref: str, header=None):
    """One line from a continuously watched file; `header` is the flow-log header seen before it."""
    yield from _records_from_lines([line], ref, header)

