"""A detection pattern: an ordered chain of steps, keyed, within a window. Loaded from patterns/*.yaml."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.schema import Section
from chainwatch.core.yamlfile import load_yaml
from chainwatch.steps.registry import BY_NAME, OVERRIDABLE

KEYS = ("principal", "session")
SEVERITIES = ("informational", "low", "medium", "high", "critical")
_ID = re.compile(r"^[A-Z][A-Z0-9_-]{1,31}$")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
# What a pattern's findings may be grouped by (`suppress: by`); findings.suppression reads each.
SUPPRESS_BY = ("key", "principal", "account", "outside_account", "outside_principal")
DAY_MS = 86_400_000


@dataclass(frozen=True)
class Suppression:
    by: tuple[str, ...] = ("key",)
    for_ms: int = DAY_MS


@dataclass(frozen=True)
class Step:
    name: str
    step: str
    description: str
    params: tuple = ()        # (name, value) pairs in place of the job's steps.<section> values


@dataclass(frozen=True)
class Case:
    name: str
    expect_findings: int
    events: tuple
    flows: tuple[str, ...]
    history_start: str | None


@dataclass(frozen=True)
class Pattern:
    id: str
    name: str
    description: str
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    key: str
    window_ms: int
    severity: str
    steps: tuple[Step, ...]
    cases: tuple[Case, ...]
    path: str
    suppress: Suppression = Suppression()

    @property
    def overrides(self) -> dict:
        """{step kind: {param: value}} this pattern sets for itself."""
        result: dict = {}
        for step in self.steps:
            result.setdefault(step.step, {}).update(step.params)
        return {step: params for step, params in result.items() if params}

    @property
    def variant(self) -> str:
        """Its own set of step parameters (the pattern's id) or the job's (""): steps.variants."""
        return self.id if self.overrides else ""


def _case(section: Section) -> Case:
    expect = section.int("expect_findings", minimum=0)
    events = section.raw("events", [])
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        section._problem("events", "expected a list of raw event objects")
        events = []
    case = Case(section.str("name"), expect if expect is not None else 0, tuple(events),
                section.str_list("flows"), section.str("history_start", None))
    if not case.events and not case.flows:
        section._problem("", "a case needs events or flows")
    section.reject_unknown()
    return case


def _params(item: Section, kind: str | None) -> tuple:
    """A step's `params:` (steps.registry): the scalar parameters of its kind, converted."""
    section = item.section("params")
    if kind not in BY_NAME:
        section.used.update(section.data)
        return ()
    values = []
    for name in list(section.data):
        param = BY_NAME[kind].param(str(name))
        if param is None or param.kind not in OVERRIDABLE:
            allowed = [p.name for p in BY_NAME[kind].params if p.kind in OVERRIDABLE]
            why = "is the job's (set it in the config)" if param else "is not a parameter of it"
            section._problem(str(name), f"{why}; a pattern may set {', '.join(allowed)} for {kind}")
            section.used.add(name)
            continue
        getter = getattr(section, param.kind)
        value = getter(name, minimum=param.minimum) if param.kind in ("int", "float") else getter(name)
        if value is not None:
            values.append((param.name, value))
    return tuple(values)


def _suppression(root: Section) -> Suppression:
    """`suppress: {by: [...], for: 24h}`; by defaults to the pattern's key, for to 24h; for: 0 is off."""
    section = root.section("suppress")
    by = section.str_list("by", ("key",))
    unknown = [field for field in by if field not in SUPPRESS_BY]
    if unknown or not by:
        section._problem("by", f"group by one or more of {', '.join(SUPPRESS_BY)}, got {list(by)!r}")
    period = section.duration("for", "24h")
    section.reject_unknown()
    return Suppression(tuple(by), period or 0)


def load_pattern(path: str | Path) -> Pattern:
    path = str(path)
    problems: list[Problem] = []
    root = Section(load_yaml(path), path, "", problems)
    pattern_id = root.str("id") or ""
    if pattern_id and not _ID.match(pattern_id):
        root._problem("id", f"expected an id like AN1328 (capitals, digits, - or _), got {pattern_id!r}")
    mitre = root.section("mitre", required=True)
    techniques = mitre.str_list("techniques")
    for technique in techniques:
        if not _TECHNIQUE.match(technique):
            mitre._problem("techniques", f"not an ATT&CK technique id like T1530 or T1098.001: {technique!r}")
    tactics = mitre.str_list("tactics")
    mitre.reject_unknown()
    key = root.str("key", choices=KEYS)
    steps = []
    for item in root.sections("steps", required=True):
        kind = item.str("step", choices=tuple(BY_NAME))
        if kind in BY_NAME and key in KEYS and BY_NAME[kind].key != key:
            item._problem("step", f"{kind} is computed per {BY_NAME[kind].key}; this pattern is keyed by {key}, "
                                  "so it could never match")
        steps.append(Step(item.str("name"), kind, item.str("description", ""), _params(item, kind)))
        item.reject_unknown()
    if len(steps) < 2:
        root._problem("steps", f"a chain needs at least two steps, got {len(steps)}")
    names = [s.name for s in steps]
    if len(set(names)) != len(names):
        root._problem("steps", f"step names must be unique: {names}")
    pattern = Pattern(
        id=pattern_id, name=root.str("name"), description=root.str("description", ""),
        techniques=techniques, tactics=tactics, key=key,
        window_ms=root.duration("window"), severity=root.str("severity", choices=SEVERITIES),
        steps=tuple(steps), cases=tuple(_case(c) for c in root.sections("cases")), path=path,
        suppress=_suppression(root))
    root.reject_unknown()
    if Path(path).stem != pattern_id and pattern_id:
        root._problem("id", f"the file name must match the id ({pattern_id}.yaml)")
    if problems:
        raise ChainwatchError(problems)
    return pattern


def load_patterns(directory: str | Path, only=()) -> list[Pattern]:
    """Every patterns/*.yaml, all problems of all files reported together."""
    patterns, problems = [], []
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        raise ChainwatchError([Problem(str(directory), "", "no *.yaml pattern files")])
    for file in files:
        if only and file.stem not in only:
            continue
        try:
            patterns.append(load_pattern(file))
        except ChainwatchError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ChainwatchError(problems)
    missing = set(only) - {p.id for p in patterns}
    if missing:
        raise ChainwatchError([Problem(str(directory), "", f"no pattern named {m}") for m in sorted(missing)])
    return patterns
