"""Reference lists kept as data in conf/: the privileged-API catalog, identity-creation events and
the calls that turn an evidence stream off (and learn where one is written)."""
from __future__ import annotations

from dataclasses import dataclass, field

from chainwatch.core.errors import ChainwatchError, Problem
from chainwatch.core.event import NOVELTY_TYPES
from chainwatch.core.schema import Section
from chainwatch.core.yamlfile import load_yaml

CREATION_SIGNALS = ("creation", "credential")
IDENTITY_TYPES = tuple(sorted(NOVELTY_TYPES))


@dataclass(frozen=True)
class CreationRule:
    """An API call that creates an identity (or first credentials for one)."""
    service: str
    action: str
    identity_type: str          # one of core.event.NOVELTY_TYPES
    name_from: tuple[str, ...]  # dotted paths into the raw event, first non-empty wins
    signal: str                 # creation: the identity is new; credential: new only if never seen before


EVIDENCE_STREAMS = ("audit", "object_access", "flow")
EVIDENCE_CONDITIONS = ("data_events_removed", "audit_config_removed", "log_destination")
TARGET_KINDS = ("s3", "logs")


@dataclass(frozen=True)
class EvidenceRule:
    """A call that turns an evidence stream off (`change`), or names where one is written
    (`destination`): steps.coverage_watch."""
    role: str                   # change | destination
    service: str
    action: str
    stream: str                 # audit | object_access | flow; '' for a log_destination change
    when: str                   # a condition (EVIDENCE_CONDITIONS) or '' for always
    target_from: tuple          # ((kind, dotted path into the raw record), ...)


@dataclass(frozen=True)
class ReferenceLists:
    privileged: dict = field(default_factory=dict)   # cloud -> {(service, action): category}
    privileged_prefixes: dict = field(default_factory=dict)  # cloud -> ((service, prefix, category), ...)
    creation: dict = field(default_factory=dict)     # cloud -> {(service, action): CreationRule}
    evidence: dict = field(default_factory=dict)     # cloud -> {(service, action) lower-case: EvidenceRule}

    def privileged_category(self, cloud: str, service: str, action: str) -> str | None:
        category = self.privileged.get(cloud, {}).get((service, action))
        if category:
            return category
        for svc, prefix, cat in self.privileged_prefixes.get(cloud, ()):
            if svc == service and action.startswith(prefix):
                return cat
        return None

    def creation_rule(self, cloud: str, service: str, action: str) -> CreationRule | None:
        return self.creation.get(cloud, {}).get((service, action))

    def evidence_rule(self, cloud: str, service: str, action: str) -> EvidenceRule | None:
        rules = self.evidence.get(cloud)
        return rules.get((service.lower(), action.lower())) if rules else None


def _load_privileged(path: str, problems: list[Problem], exact: dict, prefixes: dict):
    root = Section(load_yaml(path), path, "", problems)
    for cloud in root.data:
        clouds = root.section(cloud)
        for category in clouds.data:
            by_service = clouds.section(category)
            for service in by_service.data:
                for action in by_service.str_list(service):
                    if action.endswith("*"):
                        prefixes[cloud] = prefixes.get(cloud, ()) + ((service, action[:-1], category),)
                    elif (service, action) in exact.get(cloud, {}):
                        by_service._problem(service, f"{action} is listed twice")
                    else:
                        exact.setdefault(cloud, {})[(service, action)] = category


def _load_creation(path: str, problems: list[Problem], rules: dict):
    root = Section(load_yaml(path), path, "", problems)
    for cloud in root.data:
        for item in root.sections(cloud):
            event = item.str("event") or ""
            service, _, action = event.rpartition(":")
            if not service or not action:
                item._problem("event", f"expected 'service:Action', got {event!r}")
            rule = CreationRule(service, action, item.str("identity_type", choices=IDENTITY_TYPES),
                                item.str_list("name_from"), item.str("signal", "creation", choices=CREATION_SIGNALS))
            if not rule.name_from:
                item._problem("name_from", "at least one field path is required")
            item.reject_unknown()
            if (service, action) in rules.get(cloud, {}):
                item._problem("event", f"{event} is listed twice for {cloud}")
            rules.setdefault(cloud, {})[(service, action)] = rule


def _load_evidence(path: str, problems: list[Problem], rules: dict):
    root = Section(load_yaml(path), path, "", problems)
    for cloud in root.data:
        lists = root.section(cloud)
        for role, items in (("change", lists.sections("changes")), ("destination", lists.sections("destinations"))):
            for item in items:
                event = item.str("event") or ""
                service, _, action = event.rpartition(":")
                if not service or not action:
                    item._problem("event", f"expected 'service:Action', got {event!r}")
                when = item.str("when", "", choices=("",) + EVIDENCE_CONDITIONS) or ""
                needs_stream = role == "destination" or when != "log_destination"
                stream = item.str("stream", None if needs_stream else "", choices=EVIDENCE_STREAMS) \
                    if needs_stream or "stream" in item.data else ""
                if needs_stream and not stream:
                    item._problem("stream", f"required: one of {', '.join(EVIDENCE_STREAMS)}")
                targets = []
                for text in item.str_list("target_from"):
                    kind, _, dotted = text.partition("=")
                    if kind not in TARGET_KINDS or not dotted:
                        item._problem("target_from", f"expected '<{'|'.join(TARGET_KINDS)}>=<dotted path>', "
                                                     f"got {text!r}")
                    targets.append((kind, dotted))
                if (when == "log_destination" or role == "destination") and not targets:
                    item._problem("target_from", "required: where the bucket or log group is named")
                item.reject_unknown()
                key = (service.lower(), action.lower())
                if key in rules.get(cloud, {}):
                    item._problem("event", f"{event} is listed twice for {cloud}")
                rules.setdefault(cloud, {})[key] = EvidenceRule(role, service, action, stream or "", when,
                                                                tuple(targets))
        lists.reject_unknown()


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def load_reference_lists(paths: dict) -> ReferenceLists:
    """paths: {'privileged_apis': file or [files], 'creation_events': file or [files],
    'evidence_changes': file or [files] (optional)}.

    Each file is keyed by cloud at its top level (one file per cloud is the convention, so a
    cloud's lists are reviewed together); files are merged and a pair listed twice is an error."""
    problems: list[Problem] = []
    exact, prefixes, creation, evidence = {}, {}, {}, {}
    for path in _as_list(paths["privileged_apis"]):
        _load_privileged(path, problems, exact, prefixes)
    for path in _as_list(paths["creation_events"]):
        _load_creation(path, problems, creation)
    for path in _as_list(paths.get("evidence_changes") or ()):
        _load_evidence(path, problems, evidence)
    if problems:
        raise ChainwatchError(problems)
    return ReferenceLists(exact, prefixes, creation, evidence)
