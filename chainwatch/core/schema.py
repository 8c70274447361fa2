"""A small strict reader for YAML mappings: typed getters that collect problems.

Every getter records a Problem naming file, dotted key and line instead of
raising, so `chainwatch validate` can report every mistake at once.
"""
from __future__ import annotations

import ipaddress

from chainwatch.core.errors import Problem
from chainwatch.core.units import parse_duration_ms, parse_size_bytes

_MISSING = object()


class Section:
    def __init__(self, data, file: str, path: str, problems: list[Problem], line: int | None = None,
                 files: dict | None = None):
        self.file, self.path, self.problems, self.line = file, path, problems, line
        self.files = files or {}   # key -> the file it came from, when a config includes another
        if data is None:
            data = {}
        if not isinstance(data, dict):
            self._problem("", f"expected a mapping, got {type(data).__name__}")
            data = {}
        self.data = data
        self.used: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path and key else (self.path or key)

    def _line(self, key: str):
        line_of = getattr(self.data, "line_of", None)
        return (line_of(key) if line_of else None) or self.line

    def _file(self, key) -> str:
        return self.files.get(key, self.file)

    def _problem(self, key: str, message: str) -> None:
        self.problems.append(Problem(self._file(key), self._key(key), message, self._line(key)))

    def raw(self, key: str, default=_MISSING):
        self.used.add(key)
        if key not in self.data:
            if default is _MISSING:
                self._problem(key, "required key is missing")
                return None
            return default
        return self.data[key]

    def _typed(self, key, default, convert, kind):
        # Defaults are written the way a user would write them and converted the same way.
        value = self.raw(key, default)
        if value is None:
            return None
        try:
            return convert(value)
        except (ValueError, TypeError) as exc:
            self._problem(key, str(exc) or f"expected {kind}")
            return None

    def str(self, key, default=_MISSING, choices=None):
        def convert(v):
            if not isinstance(v, str):
                raise ValueError(f"expected a string, got {v!r}")
            if choices and v not in choices:
                raise ValueError(f"must be one of {', '.join(choices)}, got {v!r}")
            return v
        return self._typed(key, default, convert, "a string")

    def int(self, key, default=_MISSING, minimum=None):
        def convert(v):
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"expected an integer, got {v!r}")
            if minimum is not None and v < minimum:
                raise ValueError(f"must be at least {minimum}, got {v}")
            return v
        return self._typed(key, default, convert, "an integer")

    def float(self, key, default=_MISSING, minimum=None):
        def convert(v):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValueError(f"expected a number, got {v!r}")
            if minimum is not None and v < minimum:
                raise ValueError(f"must be at least {minimum}, got {v}")
            return float(v)
        return self._typed(key, default, convert, "a number")

    def bool(self, key, default=_MISSING):
        def convert(v):
            if not isinstance(v, bool):
                raise ValueError(f"expected true or false, got {v!r}")
            return v
        return self._typed(key, default, convert, "a boolean")

    def duration(self, key, default=_MISSING):
        return self._typed(key, default, parse_duration_ms, "a duration")

    def size(self, key, default=_MISSING):
        return self._typed(key, default, parse_size_bytes, "a size")

    def str_list(self, key, default=()):
        value = self.raw(key, default)
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            self._problem(key, f"expected a list of strings, got {value!r}")
            return tuple(default)
        if not all(isinstance(v, str) for v in value):
            # YAML turns 001122334455 into an octal number: account ids must be quoted.
            self._problem(key, f"expected strings; quote numbers such as account ids: {value!r}")
            return tuple(default)
        return tuple(str(v) for v in value)

    def cidr_list(self, key, default=()):
        networks = []
        for text in self.str_list(key, default):
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                self._problem(key, f"not an IP network: {text!r}")
        return tuple(networks)

    def section(self, key, required=False):
        value = self.raw(key, _MISSING if required else None)
        return Section(value, self._file(key), self._key(key), self.problems, self._line(key))

    def sections(self, key, required=False):
        value = self.raw(key, _MISSING if required else [])
        if value is None:
            return []
        if not isinstance(value, list):
            self._problem(key, "expected a list")
            return []
        return [Section(item, self._file(key), f"{self._key(key)}[{i}]", self.problems, self._line(key))
                for i, item in enumerate(value)]

    def reject_unknown(self) -> None:
        for key in self.data:
            if key not in self.used:
                self._problem(str(key), "unknown key")
