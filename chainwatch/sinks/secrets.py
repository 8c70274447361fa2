"""Secrets (the HEC token) come from an environment variable or a file, never from the YAML.

The config holds only where the secret is (SecretSource); the value is read where it is used,
on the task that sends, so it is neither in the job graph Flink ships to its workers nor in
any config dump. A Secret never prints its value, and refuses to be pickled, so it cannot
leak into a log line, an exception message or a checkpoint by accident. Errors name the
variable or file, never the value.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from chainwatch.core.errors import ChainwatchError


class SecretError(ChainwatchError):
    """A secret could not be read; the message names where it was looked for."""


class Secret:
    __slots__ = ("_value", "origin")

    def __init__(self, value: str, origin: str):
        self._value, self.origin = value, origin

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"<secret from {self.origin}>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError(f"a secret ({self.origin}) is not pickled: read it where it is used")


@dataclass(frozen=True)
class SecretSource:
    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        return f"environment variable {self.env}" if self.env else f"file {self.file}"

    def read(self) -> Secret:
        where = self.describe()
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise SecretError(f"{where} is not set")
        else:
            try:
                value = Path(self.file).read_text(encoding="utf-8")
            except OSError as exc:
                raise SecretError(f"cannot read {where}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise SecretError(f"{where} is not UTF-8 text") from None
        value = value.strip()  # files usually end with a newline
        if not value:
            raise SecretError(f"{where} is empty")
        if any(c.isspace() or not c.isprintable() for c in value):
            # Checked here because http.client would put the whole header value in its error.
            raise SecretError(f"{where} holds whitespace or control characters inside the value (not shown)")
        return Secret(value, where)
