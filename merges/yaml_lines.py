"""Load YAML while remembering where every key and list item stands, so errors can name the line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    """The text is not YAML; ``line`` is 1-based (None when the parser gave no position)."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class LocatedYaml:
    """The loaded data and the 1-based line of each key / item path (``("models", 0, "model")``)."""

    data: Any
    lines: dict[Path, int]
    duplicate_keys: tuple[tuple[Path, int], ...]

    def line_of(self, path: Path) -> int:
        """The line of ``path``, else of its nearest located ancestor (1 for the document)."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return 1


def load_located(text: str) -> LocatedYaml:
    """Parse one YAML document safely (no Python tags), keeping line numbers.

    Raises:
        YamlSyntaxError: the text is not a single valid YAML document.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise YamlSyntaxError(f"not valid YAML: {problem}", mark.line + 1 if mark else None) from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    duplicates: list[tuple[Path, int]] = []
    if node is not None:
        _index(node, (), lines, duplicates)
    return LocatedYaml(data, lines, tuple(duplicates))


def _index(node: yaml.Node, path: Path, lines: dict[Path, int], duplicates: list[tuple[Path, int]]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            child = (*path, key)
            if child in lines:
                duplicates.append((child, key_node.start_mark.line + 1))
            lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, lines, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _index(item, child, lines, duplicates)
