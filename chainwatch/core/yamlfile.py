"""Strict YAML loading: duplicate keys are errors, and every mapping remembers its lines.

Why: a detection engineer who writes `window:` twice in a pattern must be told,
not silently get the second value.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from chainwatch.core.errors import ChainwatchError, Problem


class LineDict(dict):
    """A dict that knows the source line of each key (for error messages)."""

    lines: dict

    def line_of(self, key):
        return getattr(self, "lines", {}).get(key)


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode):
    # Duplicates are checked among the keys written here; keys a merge (<<: *anchor) brings in
    # may be overridden, which is what merges are for.
    written = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=True)
        if key in written:
            raise ChainwatchError([Problem(loader.name, str(key), "duplicate key", key_node.start_mark.line + 1)])
        written.add(key)
    loader.flatten_mapping(node)
    result = LineDict()
    result.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ChainwatchError([Problem(str(path), "", f"cannot read: {exc.strerror}")]) from exc
    loader = _StrictLoader(text)
    loader.name = str(path)
    try:
        return loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ChainwatchError([Problem(str(path), "", f"invalid YAML: {getattr(exc, 'problem', exc)}",
                                       mark.line + 1 if mark else None)]) from exc
    finally:
        loader.dispose()
