"""Files to raw records: finds files, unpacks gzip, and tells the record framing from content.

A raw record is (ref, payload, framing): ref names file and record number for the
dead-letter output; framing says how the payload was cut from the file:
  'json'      a decoded JSON value (CloudTrail S3 file entry, JSON array item, NDJSON line, one of
              a stream of concatenated, possibly pretty-printed, JSON values)
  'flowtext'  (header_fields, line) of a space-separated flow log
  'text'      (reason, raw) for what framing could not accept (a line that is neither JSON nor a
              flow log, JSON that breaks off): dead-lettered with that reason; raw is the text, or
              the decoded record
  'unicode'   (reason, raw) as 'text', for a record that is not valid Unicode
  'error'     (reason, bytes): the file, or the unreadable rest of a gzip file, could not be read;
              bytes are what could not be read (the dead letter carries them, capped, as base64)

Every byte of a file is accounted for: records (normalised or dead-lettered), or one 'error'
record for what could not be read; a file that is not read at all is reported by find_inputs
with its reason (Inputs.skipped).

Hostile input, and what becomes of it:
  * gzip: a corrupt or truncated stream gives what decompresses before the damage, then an
    'error' record for the rest (its compressed bytes from where inflating failed). gzip inside
    gzip is inflated again (up to 3 times); zip, bzip2, xz, zstd or 7-zip data is one 'error'.
  * Text with a UTF-16 byte-order mark is read as UTF-16 (Windows tools write it).
  * Bytes that are not UTF-8 are kept (decoded with surrogateescape, so the dead letter holds the
    bytes as read): the record (JSON value or line) that holds one is dead-lettered, nothing else.
  * Lone surrogates (a JSON "\\udc80" escape): the record holding one anywhere is dead-lettered,
    never altered (the same record always gives the same result). normalise.Normaliser checks
    the events once more, whatever their source.
  * Records are framed by JSON values and by lines split on \\n (\\r\\n) only: a raw U+2028, U+0085
    or form feed inside a JSON string does not cut a record.
  * JSON nested too deeply to read, holding an integer of more than 4300 digits, or that breaks
    off: the records before the break are read, the rest (to the next line that starts a JSON
    value in column 0) is one dead letter.
  * A flow-log header is a line of field names only: a line with values or other text in it is
    a record (a dead letter if nothing reads it), never silently taken for a header.
  * A document with two "Records" (or "Records" and "records") keys: both arrays are read, and
    one more record, a dead letter, says so (json.loads would silently keep only the last).
"""
from __future__ import annotations

import codecs
import json
import os
import re
import stat
import zlib
from json.decoder import JSONDecodeError, scanstring
from typing import NamedTuple

import orjson

from chainwatch.core.errors import ChainwatchError
from chainwatch.core.event import MAX_RAW_CHARS

# Header of the default VPC Flow Logs format (version 2), for files shipped without one.
VPC_FLOW_V2_FIELDS = ("version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
                      "protocol", "packets", "bytes", "start", "end", "action", "log-status")
_FLOW_HEADER_MARKERS = {"srcaddr", "dstaddr", "interface-id", "pkt-srcaddr", "log-status"}
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")
_SKIP_SUFFIXES = {".md": "documentation (.md), not telemetry",
                  ".zip": "a zip archive: not unpacked (unzip it, or gzip its files)",
                  ".txt.sig": "a signature file, not telemetry",
                  ".digest": "a CloudTrail digest, not telemetry"}
_SKIP_FOLDERS = {"CloudTrail-Digest": "CloudTrail digests, not telemetry"}
# Compressed or archived content that is not gzip: one dead letter, not a line of garbage each.
_OTHER_FORMATS = ((b"PK\x03\x04", "a zip archive"), (b"BZh", "bzip2 data"), (b"\xfd7zXZ\x00", "xz data"),
                  (b"\x28\xb5\x2f\xfd", "zstd data"), (b"7z\xbc\xaf\x27\x1c", "a 7-zip archive"))
RECORD_KEYS = ("Records", "records")
GZIP_MAGIC = b"\x1f\x8b"
_MAX_GZIP_LEVELS = 3      # gzip in gzip (a compressing Firehose) is inflated, up to 3 times; more is reported


class Inputs(NamedTuple):
    files: list          # data files to read, sorted
    skipped: list        # [{"path", "reason"}] for every file or folder not read, sorted by path


def _special_kind(mode: int) -> str | None:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return kind
    return None if stat.S_ISREG(mode) else "not a regular file"


def printable_path(path: str) -> str:
    """A path as valid Unicode: bytes of a name that are not UTF-8 shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _skip_reason(path: str, name: str) -> str | None:
    """Why a file found in a folder is not read, None if it is."""
    if name.startswith("."):
        return "a hidden file (its name starts with '.')"
    for suffix, reason in _SKIP_SUFFIXES.items():
        if name.endswith(suffix):
            return reason
    if printable_path(path) != path:
        return "its name is not valid UTF-8 (rename it to read it)"
    try:
        kind = _special_kind(os.stat(path).st_mode)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or type(exc).__name__}"
    return f"{kind}, not a regular file" if kind else None


def find_inputs(paths) -> Inputs:
    """Every data file under the given files or folders, sorted for a deterministic replay, and
    every file or folder left out, with the reason. A file named on its own is read whatever its
    name; a FIFO, socket or device never is (a reader would hang on it)."""
    found, skipped = [], []

    def skip(path, reason):
        skipped.append({"path": printable_path(path), "reason": reason})

    for path in paths:
        path = os.fspath(path)
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path, onerror=lambda exc: skip(exc.filename or path, (
                    f"cannot list this folder: {exc.strerror or type(exc).__name__}"))):
                kept = []
                for name in dirs:
                    full = os.path.join(root, name)
                    if name.startswith("."):
                        skip(full, "a hidden folder (its name starts with '.'): not read")
                    elif name in _SKIP_FOLDERS:
                        skip(full, _SKIP_FOLDERS[name])
                    elif os.path.islink(full):
                        skip(full, "a link to a folder: not followed (name the folder itself to read it)")
                    else:
                        kept.append(name)
                dirs[:] = kept
                for name in files:
                    full = os.path.join(root, name)
                    reason = _skip_reason(full, name)
                    if reason:
                        skip(full, reason)
                    else:
                        found.append(full)
        elif os.path.lexists(path):
            try:
                kind = _special_kind(os.stat(path).st_mode)
            except OSError as exc:
                kind = f"unreadable ({exc.strerror or type(exc).__name__})"
            if kind:
                skip(path, f"{kind}, not a regular file")
            elif printable_path(path) != path:
                skip(path, "its name is not valid UTF-8 (rename it to read it)")
            else:
                found.append(str(path))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return Inputs(sorted(found), sorted(skipped, key=lambda s: s["path"]))


def discover(paths) -> list[str]:
    """The data files find_inputs finds (without what it skipped)."""
    return find_inputs(paths).files


class NotAFile(ChainwatchError, OSError):
    """A path that is not a regular file (FIFO, socket, device): never opened for a blocking read."""


def read_bytes(path: str, limit: int = -1) -> bytes:
    """A regular file's bytes (the first `limit` only, if given). Opened non-blocking and checked after opening (a FIFO swapped in
    after find_inputs looked is refused, not waited on)."""
    kind = _special_kind(os.stat(path).st_mode)
    if kind:
        raise NotAFile(f"{kind}, not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    with os.fdopen(fd, "rb") as handle:
        kind = _special_kind(os.fstat(handle.fileno()).st_mode)
        if kind:
            raise NotAFile(f"{kind}, not a regular file")
        return handle.read(limit)


class Damage(NamedTuple):
    """Where a gzip file stops being readable: why, the compressed offset, the bytes from there."""
    reason: str
    offset: int
    rest: bytes


_CHUNK = 64 * 1024


def _inflate_member(data: bytes, pos: int, out: list) -> tuple[int, Damage | None]:
    """Inflate the gzip member at pos into out: (the offset after it, None), or what inflated
    before the damage (in out) and the Damage."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while not inflater.eof:
        chunk = data[pos:pos + _CHUNK]
        if not chunk:
            return pos, Damage(f"gzip stream truncated at byte {pos} (the file ends inside a compressed block)",
                               pos, b"")
        before = inflater.copy()
        try:
            out.append(inflater.decompress(chunk))
            pos += len(chunk)
        except zlib.error as exc:
            # Again from the state before this chunk, a byte at a time: keep all that inflates.
            inflater = before
            for i in range(len(chunk)):
                try:
                    out.append(inflater.decompress(chunk[i:i + 1]))
                except zlib.error:
                    return pos + i, Damage(f"corrupt gzip data at byte {pos + i} ({exc})", pos + i, data[pos + i:])
                if inflater.eof:
                    pos += i + 1
                    break
            else:
                pos += len(chunk)
    return pos - len(inflater.unused_data), None


def gunzip(data: bytes) -> tuple[bytes, Damage | None]:
    """Every gzip member of `data` inflated; on damage (corrupt deflate data, a bad header, a
    truncated stream, junk after the last member) what inflated before it, and the Damage."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        pos, damage = _inflate_member(data, pos, out)
        if damage is not None:
            return b"".join(out), damage
        rest = data[pos:]
        if rest[:2] != b"\x1f\x8b" and rest:
            if not rest.strip(b"\x00"):     # zero padding after the last member, as gzip(1) accepts
                break
            return b"".join(out), Damage(f"{len(rest)} bytes after the end of the gzip stream (byte {pos}) are "
                                         "not gzip data", pos, rest)
    return b"".join(out), None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


_UTF16_BOMS = {codecs.BOM_UTF16_LE: "utf-16-le", codecs.BOM_UTF16_BE: "utf-16-be"}


def decode(data: bytes) -> tuple[str, bool]:
    """(text, suspect): UTF-8 with a BOM dropped, or UTF-16 with its BOM; bytes that are not UTF-8
    kept as lone surrogates (surrogateescape, so they can be written back as they were read).
    suspect: the text may hold lone surrogates, as such bytes or as JSON escapes, so its records
    must be checked."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data[:2] in _UTF16_BOMS:    # as Windows tools write text (PowerShell's Out-File)
        try:
            text = data[2:].decode(_UTF16_BOMS[data[:2]])
            return text, _SURROGATE_ESCAPE.search(text) is not None
        except UnicodeDecodeError:   # not UTF-16 after all: its bytes are read as UTF-8, below
            pass
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), True
    return text, _SURROGATE_ESCAPE.search(text) is not None


def read_text(path: str) -> str:
    """The readable text of a file (gzip inflated as far as it goes)."""
    data = read_bytes(path)
    damage, levels = None, 0
    while data[:2] == GZIP_MAGIC and levels < _MAX_GZIP_LEVELS and damage is None:
        (data, damage), levels = gunzip(data), levels + 1
    return decode(data)[0]


def is_flow_header(line: str) -> bool:
    """A flow-log header: field names only (no values), two of them ones every header names. A
    line that also holds values (a file with \\r line ends read as one line) or other text (an
    error message naming srcaddr and dstaddr) is a record, never silently taken for a header."""
    names = line.split()
    return len(_FLOW_HEADER_MARKERS.intersection(names)) >= 2 and all(_FIELD_NAME.fullmatch(n) for n in names)


def looks_like_default_flow(line: str) -> bool:
    tokens = line.split()
    return len(tokens) == len(VPC_FLOW_V2_FIELDS) and tokens[0] == "2" and tokens[-1] in ("OK", "NODATA", "SKIPDATA")


# --- JSON values --------------------------------------------------------------------------------

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_BLANK_TO_END = re.compile(r"\s*\Z")
_RECORDS_FIRST = re.compile(r'\{[ \t\n\r]*"(?:Records|records)"')
# Where framing picks up after JSON that breaks off (see _resync).
_NEXT_VALUE_LINE = re.compile(r"\n(?=[{\[])")                 # starts a JSON value in column 0
_NEVER_JSON_LINE = re.compile(r'\n(?=[^\s}\]",:{\[0-9tfn-])')   # cannot go on with any JSON text
_NOT_JSON_LINE = re.compile(r'\n(?=[^\s}\]",:])')              # goes on with none as JSON is written
_LINE_INDENT = re.compile(r"[^\S\n]*")
_LONG_NUMBER = re.compile(r"[0-9]{4301,}")     # past sys.get_int_max_str_digits(): json cannot convert it


class _Broken(ChainwatchError):
    """JSON that breaks off: the values read before the break, where the unread rest starts, why."""

    def __init__(self, values: list, rest: int, error: JSONDecodeError):
        super().__init__(error.msg)
        self.values, self.rest, self.error = values, rest, error


def _value(text: str, pos: int):
    """(value, end) of the JSON value at pos; JSONDecodeError, also for nesting too deep to read
    and for an integer of more digits than Python converts (4300: a ValueError that is not a
    JSONDecodeError, and would otherwise escape the reader)."""
    try:
        return _DECODER.raw_decode(text, pos)
    except JSONDecodeError:
        raise
    except RecursionError:
        raise JSONDecodeError("nested too deeply to read", text, pos) from None
    except ValueError:
        digits = _LONG_NUMBER.search(text, pos)
        raise JSONDecodeError("a number with too many digits to read", text, digits.start() if digits else pos) \
            from None


def _array_items(text: str, pos: int) -> tuple[list, int]:
    """(items, end) of the array at pos, read item by item: _Broken keeps the items before a break."""
    items, rest = [], pos
    i = _WS.match(text, pos + 1).end()
    if text.startswith("]", i):
        return items, i + 1
    while True:
        try:
            item, end = _value(text, i)
        except JSONDecodeError as exc:
            raise _Broken(items, rest, exc) from None
        items.append(item)
        rest = end
        i = _WS.match(text, end).end()
        if text.startswith(",", i):
            i = _WS.match(text, i + 1).end()
        elif text.startswith("]", i):
            return items, i + 1
        else:
            raise _Broken(items, rest, JSONDecodeError("Expecting ',' delimiter", text, i))


def _array(text: str, pos: int) -> tuple[list, int]:
    try:
        return _value(text, pos)           # one call into the C scanner when it is well formed
    except JSONDecodeError:
        return _array_items(text, pos)     # raises _Broken with what it could read


class _Document(NamedTuple):
    values: list          # the records
    items: bool           # True: an array's (or a Records array's) items, False: one value
    notes: list           # (reason, raw) of dead letters about the document itself
    end: int


def _records_document(text: str, pos: int) -> _Document:
    """An object read member by member, so a second "Records" key is seen, not silently kept alone."""
    pairs, read, rest = [], [], pos       # read: items of the record arrays so far; rest: after them
    i = _WS.match(text, pos + 1).end()
    try:
        if text.startswith("}", i):
            return _Document([{}], False, [], i + 1)
        while True:
            if not text.startswith('"', i):
                raise JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
            key, i = scanstring(text, i + 1)
            i = _WS.match(text, i).end()
            if not text.startswith(":", i):
                raise JSONDecodeError("Expecting ':' delimiter", text, i)
            i = _WS.match(text, i + 1).end()
            if key in RECORD_KEYS and text.startswith("[", i):
                try:
                    value, i = _array(text, i)
                except _Broken as broken:
                    raise _Broken(read + broken.values, broken.rest if broken.values else rest,
                                  broken.error) from None
                read += value
                rest = i
            else:
                value, i = _value(text, i)
            pairs.append((key, value))
            i = _WS.match(text, i).end()
            if text.startswith(",", i):
                i = _WS.match(text, i + 1).end()
            elif text.startswith("}", i):
                break
            else:
                raise JSONDecodeError("Expecting ',' delimiter", text, i)
    except JSONDecodeError as exc:
        raise _Broken(read, rest, exc) from None
    end = i + 1
    arrays = [(key, value) for key, value in pairs if key in RECORD_KEYS]
    if len(arrays) == 1:
        value = arrays[0][1]
        return _Document(value, True, [], end) if isinstance(value, list) else _Document([dict(pairs)], False, [], end)
    if not arrays:
        return _Document([dict(pairs)], False, [], end)
    values, spans = [], []
    for key, value in arrays:
        items = value if isinstance(value, list) else [value]
        spans.append(f'"{key}": #{len(values)}-#{len(values) + len(items) - 1}' if items else f'"{key}": empty')
        values += items
    note = (f"the document has {len(arrays)} record arrays ({'; '.join(spans)}): all were read, as a JSON "
            "reader keeping only the last would lose the others; a CloudTrail or Azure document has one",
            json.dumps([key for key, _ in pairs]))
    return _Document(values, True, [note], end)


def _document(text: str, pos: int) -> _Document:
    """The records of the JSON value at pos (`{` or `[`): a {"Records": [...]} document's items,
    an array's items, or the value itself. Raises _Broken with the records before a break."""
    if text.startswith("[", pos):
        values, end = _array(text, pos)
        return _Document(values, True, [], end)
    if _RECORDS_FIRST.match(text, pos):
        return _records_document(text, pos)
    try:
        value, end = _value(text, pos)
    except JSONDecodeError as exc:
        raise _Broken([], pos, exc) from None
    if isinstance(value, dict) and any(key in value for key in RECORD_KEYS):
        return _records_document(text, pos)     # a Records key not first: read again, member by member
    return _Document([value], False, [], end)


def _resync(text: str, rest: int, error_at: int) -> int:
    """Where framing picks up after JSON that breaks off at `rest` (the decoder failing at
    `error_at`): the start of the first later line that starts a JSON value in column 0, or that
    cannot go on with a JSON text (a flow-log or text line), or, from the line of the error on,
    that is neither indented nor a closing bracket, quote, comma or colon; else the end of the
    text. So a broken NDJSON line is one dead letter, a broken pretty-printed document is one,
    and the lines of another kind after either are read as they are."""
    error_line = text.rfind("\n", rest, error_at)      # the newline before the error's line
    found = (_NEXT_VALUE_LINE.search(text, rest), _NEVER_JSON_LINE.search(text, rest),
             _NOT_JSON_LINE.search(text, error_line if error_line >= 0 else rest))
    return min((match.start() + 1 for match in found if match), default=len(text))


def invalid_unicode_at(value) -> str | None:
    """The path of the first string or key in a decoded JSON value holding a lone surrogate (an
    invalid UTF-8 byte as read, or a \\uD800-\\uDFFF escape), '' for the value itself; None if none."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return path
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = _SURROGATE.sub("?", key)[:40]
                where = f"{path}.{name}" if path else name
                if _SURROGATE.search(key):
                    return where
                stack.append((inner, where))
        elif isinstance(item, list):
            stack.extend((inner, f"{path}[{n}]") for n, inner in enumerate(item))
    return None


def _unicode_reason(path: str) -> str:
    where = f" in {path[:200]}" if path else ""
    return (f"not valid Unicode{where}: an invalid UTF-8 byte or a lone \\uD800-\\uDFFF surrogate escape "
            "(the record is dead-lettered, not altered)")


def _json_error(exc: JSONDecodeError, read: int) -> str:
    return (f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
            + (f" (the {read} records before it were read)" if read else ""))


# --- framing ------------------------------------------------------------------------------------

def _frame(text: str, ref: str, header=None, *, suspect: bool = True, line_refs: bool = False):
    """Yield (ref, payload, framing) for every record in `text`.

    Lines are split on \\n only (a \\r before it is blank space). A line starting with { or [
    starts a JSON value, which may span lines; after it the same line may hold more. Refs:
    `file` and `file#n` when the whole text is one JSON document (unless line_refs), else
    `file:line` (`file:line:column` for a second record on a line) and `file:line#n`."""
    n = len(text)
    first = -1 if line_refs else _WS.match(text).end()
    pos, line_no, line_start, line_has_record = 0, 1, 0, False
    while pos < n:
        start = _LINE_INDENT.match(text, pos).end()
        if start >= n:
            break
        if text[start] == "\n":
            pos, line_no, line_start, line_has_record = start + 1, line_no + 1, start + 1, False
            continue
        line_ref = f"{ref}:{line_no}" + (f":{start - line_start + 1}" if line_has_record else "")
        if text[start] in "{[":
            try:
                document = _document(text, start)
                values, items, notes, end, broken = document.values, document.items, document.notes, document.end, None
            except _Broken as exc:
                values, items, notes, broken = exc.values, True, [], exc
                rest = exc.rest if exc.values else start
                end = _resync(text, rest, exc.error.pos)     # the start of a line, or the end
            single = start == first and (end == n or _BLANK_TO_END.match(text, end) is not None)
            doc_ref = ref if single else line_ref
            for index, value in enumerate(values):
                value_ref = f"{doc_ref}#{index}" if items else doc_ref
                where = invalid_unicode_at(value) if suspect else None
                if where is not None:
                    yield value_ref, (_unicode_reason(where), value), "unicode"
                else:
                    yield value_ref, value, "json"
            for reason, raw in notes:
                yield doc_ref, (reason, raw), "text"
            if broken is not None:
                rest = _WS.match(text, rest).end()
                raw = text[rest:min(end, rest + MAX_RAW_CHARS + 1)].rstrip()
                yield ((f"{doc_ref}#{len(values)}" if values else doc_ref),
                       (_json_error(broken.error, len(values)), raw), "text")
            newlines = text.count("\n", start, end)
            if newlines:
                line_no, line_start = line_no + newlines, text.rfind("\n", start, end) + 1
            pos, line_has_record = end, end != line_start
            continue
        eol = text.find("\n", start)
        eol = n if eol < 0 else eol
        line = text[start:eol].strip()
        if not line:
            pass
        elif is_flow_header(line):
            header = tuple(line.split())
        elif suspect and _SURROGATE.search(line):
            yield line_ref, (_unicode_reason(""), line), "unicode"
        elif header is not None:
            yield line_ref, (header, line), "flowtext"
        elif looks_like_default_flow(line):
            yield line_ref, (VPC_FLOW_V2_FIELDS, line), "flowtext"
        else:
            yield line_ref, ("neither JSON nor a flow-log line (no flow header seen before it)", line), "text"
        pos = eol


# Bytes -> b"0" for a digit, b" " for anything else: a run of 19 digits is then one `in` away.
_DIGIT_MASK = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_RECORDS_FIRST_BYTES = re.compile(rb'[ \t\n\r]*\{[ \t\n\r]*"(?:Records|records)"')


def _records_at_once(data: bytes) -> list | None:
    """The records of a file that is one {"Records": [...]} document (CloudTrail as delivered to
    S3), decoded in one orjson call: what _frame gives it, without reading it member by member.
    None, and the careful path, wherever the two could differ: a second record array, any
    backslash (an escaped key could be a second one; an escape could be a lone surrogate), a
    number of 19 digits or more (orjson reads one past 64 bits as a float), NaN or Infinity, a
    byte order mark, bytes that are not UTF-8, anything but one JSON document."""
    first = _RECORDS_FIRST_BYTES.match(data)
    if (first is None or data.find(b'ecords"', first.end()) >= 0 or b"\\" in data
            or b"0" * 19 in data.translate(_DIGIT_MASK)):
        return None
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    records = document.get("Records", document.get("records")) if isinstance(document, dict) else None
    return records if isinstance(records, list) else None


def records_from_text(text: str, ref: str):
    """Yield (ref, payload, framing) for every record in one file's text."""
    suspect = _SURROGATE_ESCAPE.search(text) is not None or (not text.isascii() and _SURROGATE.search(text) is not None)
    yield from _frame(text, ref, suspect=suspect)


def _nested(levels: int) -> str:
    return "" if levels < 2 else f"in the gzip data inside the gzip file (compressed {levels} times): "


def records_from_file(path: str):
    """Yield (ref, payload, framing) for every record of one file, and an 'error' record for
    what could not be read (the whole file, or the damaged rest of a gzip file)."""
    ref = printable_path(path)
    try:
        data = read_bytes(path)
    except NotAFile as exc:
        yield ref, (f"not read: {exc}", b""), "error"
        return
    except OSError as exc:
        yield ref, (f"cannot read file: {exc.strerror or type(exc).__name__}", b""), "error"
        return
    damage, levels = None, 0
    while data[:2] == GZIP_MAGIC and levels < _MAX_GZIP_LEVELS and damage is None:
        raw, (data, damage) = data, gunzip(data)
        levels += 1
        if damage is not None and not data:
            yield ref, (f"cannot read file: {_nested(levels)}{damage.reason}", raw), "error"
            return
    if damage is None:
        for magic, what in _OTHER_FORMATS:
            if data.startswith(magic):
                yield ref, (f"cannot read file: {what}" + (" inside gzip, not text" if levels else ", not text or gzip"),
                            data), "error"
                return
        if data[:2] == GZIP_MAGIC:          # still gzip after _MAX_GZIP_LEVELS inflations
            yield ref, (f"cannot read file: gzip data compressed more than {levels} times", data), "error"
            return
    records = _records_at_once(data) if damage is None else None
    if records is not None:
        yield from ((f"{ref}#{index}", record, "json") for index, record in enumerate(records))
    else:
        text, suspect = decode(data)
        yield from _frame(text, ref, suspect=suspect)
    if damage is not None:
        yield f"{ref}@{damage.offset}", (f"{_nested(levels)}{damage.reason}: the {len(data)} bytes inflated before it "
                                         "were read as records, the rest of the file could not be read", damage.rest), \
            "error"


def records_from_line(line: str, ref: str, header=None):
    """One line from a continuously watched file, or one Kafka record value (which may be a
    pretty-printed JSON document); `header` is the flow-log header seen before it."""
    suspect = _SURROGATE_ESCAPE.search(line) is not None or (not line.isascii() and _SURROGATE.search(line) is not None)
    yield from _frame(line, ref, header, suspect=suspect, line_refs=True)
