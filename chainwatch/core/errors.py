"""Errors: one root (ChainwatchError) for every error chainwatch raises on purpose, so a caller
can catch them all; configuration and pattern errors name the file, the key (or line) and the
problem. Standard library only: the preflight check runs before anything is installed."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    file: str
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ChainwatchError(Exception):
    """The root of chainwatch's errors. Raised itself for one or more problems found while loading
    configuration or patterns (`problems`, all at once); its subclasses carry a message."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            self.problems = []
            super().__init__(problems)
        else:
            self.problems = list(problems)
            super().__init__("\n".join(str(p) for p in self.problems))
