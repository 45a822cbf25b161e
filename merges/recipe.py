"""Parse and check a merge recipe (mergekit's YAML) before anything is downloaded or merged.

Every problem found is reported at once, each with the line it stands on; a recipe that passes is a valid
``mergekit.config.MergeConfiguration`` whose every component is a Hub repo pinned to a commit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mergekit.common import ModelReference
from mergekit.config import MergeConfiguration
from mergekit.merge_methods import registry
from mergekit.merge_methods.base import BasePolicy, MergeMethodSpec, ParameterScope
from pydantic import TypeAdapter, ValidationError

from merges.references import Component, parse_reference
from merges.yaml_lines import LocatedYaml, Path, YamlSyntaxError, load_located

METHODS = ("linear", "task_arithmetic", "ties", "dare_ties", "dare_linear", "slerp")
DTYPES = ("float32", "float16", "bfloat16")
TOP_LEVEL_KEYS = (
    "merge_method", "base_model", "models", "slices", "parameters", "dtype", "out_dtype", "tokenizer_source",
)
MAX_RECIPE_CHARS = 20_000


Problem = tuple[int, str]  # (1-based line, what is wrong there)


class RecipeError(ValueError):
    """A recipe that cannot be run; ``problems`` lists every reason, in line order, each starting with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = [f"Line {line}: {message}" for line, message in sorted(problems, key=lambda p: p[0])]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Recipe:
    """A checked recipe: its text as submitted, mergekit's configuration and the components it reads."""

    text: str
    config: MergeConfiguration
    components: tuple[Component, ...]

    @property
    def method(self) -> str:
        return self.config.merge_method

    @property
    def references(self) -> tuple[str, ...]:
        """Every distinct reference as written in mergekit's syntax (``repo@commit`` or ``a@c+lora@c``),
        the tokenizer source included."""
        found = {str(ref) for ref in self.config.referenced_models()}
        if isinstance(self.config.tokenizer_source, ModelReference):
            found.add(str(self.config.tokenizer_source))
        return tuple(sorted(found))


def parse_recipe(text: str) -> Recipe:
    """Check a recipe and return it parsed.

    Raises:
        RecipeError: every problem found, e.g. ``Line 3: unknown merge method 'avg'. Available: ...``.
    """
    if len(text) > MAX_RECIPE_CHARS:
        raise RecipeError([(1, f"the recipe is {len(text):,} characters long; at most {MAX_RECIPE_CHARS:,} are read.")])
    try:
        located = load_located(text)
    except YamlSyntaxError as error:
        raise RecipeError([(error.line or 1, str(error))]) from None
    if not isinstance(located.data, dict):
        raise RecipeError([(1, "a recipe is a YAML mapping with at least 'merge_method' and 'models'.")])
    problems = _structure_problems(located)
    components = _components(located, problems)
    if problems:
        raise RecipeError(problems)
    try:
        config = MergeConfiguration.model_validate(located.data)
    except ValidationError as error:
        raise RecipeError(
            [(located.line_of(tuple(e["loc"])), f"{_where(e['loc'])}{e['msg']}") for e in error.errors()]
        ) from None
    except RuntimeError as error:  # mergekit's own model validators raise RuntimeError
        raise RecipeError([(1, str(error))]) from None
    return Recipe(text, config, components)


def _structure_problems(located: LocatedYaml) -> list[Problem]:
    data: dict[str, Any] = located.data
    problems = [(line, f"'{path[-1]}' is given twice.") for path, line in located.duplicate_keys]
    problems += [
        (located.line_of((key,)), f"unknown key '{key}'. Recipes accept: {', '.join(TOP_LEVEL_KEYS)}.")
        for key in data
        if key not in TOP_LEVEL_KEYS
    ]
    for key in ("dtype", "out_dtype"):
        if key in data and data[key] not in DTYPES:
            problems.append((located.line_of((key,)), f"{key} must be one of {', '.join(DTYPES)}."))
    for path in _plain_entries(data):
        problems.append((located.line_of(path), "write each model as '- model: owner/name@<40-hex commit>'."))
    method = data.get("merge_method")
    if method is None:
        problems.append((1, f"'merge_method' is missing. Available: {', '.join(METHODS)}."))
    elif method not in METHODS:
        problems.append(
            (located.line_of(("merge_method",)), f"unknown merge method '{method}'. Available: {', '.join(METHODS)}.")
        )
    else:
        problems += _parameter_problems(located, registry.get(method).spec)
    return problems


def _entry_items(data: dict[str, Any]) -> list[tuple[Path, Any]]:
    """The input entries (``models`` items and slice ``sources``) with their paths."""
    found: list[tuple[Path, Any]] = []
    models = data.get("models")
    if isinstance(models, list):
        found += [(("models", i), entry) for i, entry in enumerate(models)]
    slices = data.get("slices")
    for i, slice_ in enumerate(slices if isinstance(slices, list) else []):
        sources = slice_.get("sources") if isinstance(slice_, dict) else None
        found += [(("slices", i, "sources", j), entry) for j, entry in enumerate(sources or [])]
    return found


def _entries(data: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, entry) for path, entry in _entry_items(data) if isinstance(entry, dict)]


def _plain_entries(data: dict[str, Any]) -> list[Path]:
    """Entries written as a bare reference (``- owner/name@commit``), which mergekit does not read."""
    return [path for path, entry in _entry_items(data) if isinstance(entry, str)]


def _parameter_problems(located: LocatedYaml, spec: MergeMethodSpec) -> list[Problem]:
    """Parameters the method does not know, and required ones left unset (mergekit's own method spec)."""
    data: dict[str, Any] = located.data
    shared = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    problems = _values_problems(located, ("parameters",), shared, spec)
    base = data.get("base_model")
    if spec.contract.base == BasePolicy.REQUIRED and not base:
        problems.append((located.line_of(("merge_method",)), f"'{spec.name}' needs a 'base_model'."))
    problems += [
        (located.line_of(("parameters",)), f"'{spec.name}' needs parameter '{p.name}' under 'parameters'.")
        for p in spec.parameters
        if p.required and p.scope == ParameterScope.SHARED and p.name not in shared
    ]
    for path, entry in _entries(data):
        given = entry.get("parameters") if isinstance(entry.get("parameters"), dict) else {}
        problems += _values_problems(located, (*path, "parameters"), given, spec)
        if entry.get("model") == base:
            continue  # the base model takes no per-model parameters
        problems += [
            (
                located.line_of(path),
                (f"'{spec.name}' needs parameter '{p.name}' for model '{entry.get('model')}' "
                "(under its 'parameters', or once under the top-level 'parameters')."),
            )
            for p in spec.parameters
            if p.required and p.scope != ParameterScope.SHARED and p.name not in given and p.name not in shared
        ]
    models = data.get("models")
    maximum = spec.contract.max_inputs
    if maximum is not None and isinstance(models, list):
        inputs = {entry.get("model") for entry in models if isinstance(entry, dict)} | ({base} if base else set())
        if len(inputs) > maximum:
            problems.append(
                (
                    located.line_of(("models",)),
                    (f"'{spec.name}' merges at most {maximum} models (the base included); "
                    f"this recipe names {len(inputs)}."),
                )
            )
    return problems


def _values_problems(
    located: LocatedYaml, path: Path, given: dict[str, Any], spec: MergeMethodSpec
) -> list[Problem]:
    """Parameters the method does not know, and values of the wrong type (a number, a list of numbers for
    a gradient, or a list of ``{filter, value}``)."""
    types = {parameter.name: TypeAdapter(parameter.value_type) for parameter in spec.parameters}
    problems = []
    for name, setting in given.items():
        line = located.line_of((*path, name))
        if name not in types:
            problems.append((line, f"'{spec.name}' has no parameter '{name}'. It takes: {', '.join(sorted(types))}."))
            continue
        items = setting if isinstance(setting, list) else [setting]
        values = [item.get("value") if isinstance(item, dict) else item for item in items]
        try:
            for value in values:
                types[name].validate_python(value, strict=True)
        except ValidationError:
            problems.append((line, f"parameter '{name}' must be a number, not {setting!r}."))
    return problems


def _reference_paths(data: dict[str, Any]) -> list[Path]:
    """Where a recipe may name a model: base_model, each input entry's model, slice base models, and a
    tokenizer source other than 'base' / 'union'."""
    paths: list[Path] = [(*path, "model") for path, _ in _entries(data)]
    if "base_model" in data:
        paths.insert(0, ("base_model",))
    slices = data.get("slices")
    for i, slice_ in enumerate(slices if isinstance(slices, list) else []):
        if isinstance(slice_, dict) and "base_model" in slice_:
            paths.append(("slices", i, "base_model"))
    if data.get("tokenizer_source") not in (None, "base", "union"):
        paths.append(("tokenizer_source",))
    return paths


def _components(located: LocatedYaml, problems: list[Problem]) -> tuple[Component, ...]:
    """The distinct pinned components in order of appearance; unpinned or malformed ones become problems."""
    found: dict[Component, None] = {}
    for path in _reference_paths(located.data):
        value: Any = located.data
        for key in path:
            value = value[key]
        if not isinstance(value, str):
            problems.append((located.line_of(path), "write the model as 'owner/name@<40-hex commit>'."))
            continue
        try:
            found.update(dict.fromkeys(parse_reference(value)))
        except ValueError as error:
            problems.append((located.line_of(path), f"{error}."))
    return tuple(found)


def _where(loc: tuple[Any, ...]) -> str:
    return f"{'.'.join(str(part) for part in loc)}: " if loc else ""
