"""Challenge definitions: one YAML file per challenge under ``challenges/``.

Everything that differs between challenges lives in those files (datasets, columns, limits, lm-eval
settings); the board, the submission checks, the evaluator and the About text read the parsed
:class:`Challenge`. Adding a challenge is adding a YAML file.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS_DIR = Path(__file__).parent
FAMILIES = ("flowertune", "merging")
# Filters a board can offer (``board.filters`` in a definition), in the order the board shows them.
# base_model and comm_gb read columns only FlowerTune results have.
BOARD_FILTERS = ("base_model", "comm_gb", "date", "source")
FLOWERTUNE_FILTERS = ("base_model", "comm_gb")


@dataclass(frozen=True)
class ScoreColumn:
    """One per-dataset score shown on the board and produced by the evaluator."""

    key: str
    label: str
    dataset: str
    metric: str
    evaluation: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HiddenTest:
    """Test columns scored but kept private until an organiser reveals them (the merging track). Their data's
    location is private too: the environment variable ``source_env`` names a private dataset repo or a folder of
    ``<column key>.jsonl`` files."""

    source_env: str
    columns: tuple[ScoreColumn, ...]


DTYPES = ("float32", "float16", "bfloat16")
PAD_TOKENS = ("eos", "add")  # see Precision.pad_token
QUANT_TYPES = ("fp4", "nf4")


@dataclass(frozen=True)
class Quantization:
    """bitsandbytes k-bit loading: ``BitsAndBytesConfig(load_in_4bit=True)`` defaults are FP4 with float32
    compute."""

    bits: int
    type: str
    compute_dtype: str


@dataclass(frozen=True)
class Precision:
    """How the official script loads the model and batches its prompts (``evaluation_precision``).

    ``pad_token``: ``eos`` uses EOS when the tokenizer has no pad token; ``add`` adds a new ``[PAD]`` token
    when it has none or it equals EOS, and resizes the embeddings (the Finance script). ``batch_size``: how
    many prompts one ``generate`` call takes (1: one prompt at a time, unpadded). ``source``: the script.
    """

    dtype: str
    quantization: Quantization | None
    pad_token: str
    batch_size: int
    source: str

    def describe(self) -> str:
        """E.g. '4-bit FP4 (bitsandbytes, float32 compute), float32' or 'float16, no quantization'."""
        if self.quantization is None:
            return f"{self.dtype}, no quantization"
        q = self.quantization
        return f"{q.bits}-bit {q.type.upper()} (bitsandbytes, {q.compute_dtype} compute), {self.dtype}"

    def per_call(self) -> str:
        """How many prompts one generate call takes, in words."""
        return "one prompt" if self.batch_size == 1 else f"{self.batch_size} prompts"


@dataclass(frozen=True)
class Limits:
    submission_kind: str  # adapter | merge
    peft_required: bool
    base_params_max: float
    per_team_count: int
    per_team_days: int
    comm_gb_max: float | None = None
    code_url_required: bool = False
    gpu_hours_max: float | None = None
    hidden_test: bool = False
    components_uploaded_before: str | None = None  # ISO date: merge components must be committed before it


@dataclass(frozen=True)
class Checks:
    """Organisers' cross-checks: they warn or flag, never refuse (``checks`` in a definition)."""

    recheck_tolerance: float = 2.0  # points of the average a re-evaluated published row may differ by, unflagged
    comm_tolerance: float = 0.25  # relative gap allowed between a reported and the computed communication cost


@dataclass(frozen=True)
class BoardStyle:
    entry_label: str = "Team"
    average_label: str = "Average (↑)"
    decimals: int = 2
    default_columns: tuple[str, ...] | None = None
    filters: tuple[str, ...] = BOARD_FILTERS
    search_placeholder: str = "team or model"


@dataclass(frozen=True)
class Challenge:
    id: str
    title: str
    family: str
    order: int
    tagline: str
    task: str
    published_url: str
    metric: str
    columns: tuple[ScoreColumn, ...]
    limits: Limits
    board: BoardStyle
    version: str  # short hash of the rules (rules_version): requests record the rules they were checked against
    precision: Precision
    rank_by: str = "average"
    checks: Checks = Checks()
    hidden_test: HiddenTest | None = None  # its columns stay private until revealed

    @property
    def score_keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    @property
    def is_flowertune(self) -> bool:
        return self.family == "flowertune"


class DefinitionError(ValueError):
    """A challenge YAML file is malformed; the message names the file and the field."""


def parse_challenge(raw: dict[str, Any], source: str = "<definition>") -> Challenge:
    def need(mapping: dict[str, Any], key: str, where: str) -> Any:
        if key not in mapping:
            raise DefinitionError(f"{source}: missing '{key}' in {where}")
        return mapping[key]

    family = need(raw, "family", "challenge")
    if family not in FAMILIES:
        raise DefinitionError(f"{source}: family must be one of {FAMILIES}, not {family!r}")
    def score_columns(items: list[dict[str, Any]]) -> tuple[ScoreColumn, ...]:
        return tuple(
            ScoreColumn(
                key=need(c, "key", "column"),
                label=need(c, "label", "column"),
                dataset=need(c, "dataset", "column"),
                metric=need(c, "metric", "column"),
                evaluation=dict(c.get("evaluation") or {}),
            )
            for c in items
        )

    columns = score_columns(need(raw, "columns", "challenge"))
    hidden = raw.get("hidden_test")
    hidden_test = None
    if hidden is not None:
        hidden_test = HiddenTest(need(hidden, "source_env", "hidden_test"),
                                 score_columns(need(hidden, "columns", "hidden_test")))
    keys = [c.key for c in columns] + [c.key for c in (hidden_test.columns if hidden_test else ())]
    if len(set(keys)) != len(keys) or not columns:
        raise DefinitionError(f"{source}: column keys (hidden test's included) must be unique and non-empty: {keys}")
    if raw.get("rank_by", "average") != "average":
        raise DefinitionError(f"{source}: only rank_by: average is supported")
    lim = need(raw, "limits", "challenge")
    per_team = need(lim, "per_team", "limits")
    limits = Limits(
        submission_kind=need(lim, "submission_kind", "limits"),
        peft_required=bool(need(lim, "peft_required", "limits")),
        base_params_max=float(need(lim, "base_params_max", "limits")),
        per_team_count=int(need(per_team, "count", "limits.per_team")),
        per_team_days=int(need(per_team, "days", "limits.per_team")),
        comm_gb_max=float(lim["comm_gb_max"]) if lim.get("comm_gb_max") is not None else None,
        code_url_required=bool(lim.get("code_url_required", False)),
        gpu_hours_max=float(lim["gpu_hours_max"]) if lim.get("gpu_hours_max") is not None else None,
        hidden_test=hidden_test is not None,
        components_uploaded_before=_iso_date(lim.get("components_uploaded_before"), source),
    )
    style = _board_style(raw.get("board") or {}, family, source)
    checks = _checks(raw.get("checks") or {}, source)
    challenge_id = need(raw, "id", "challenge")
    precision = _precision(need(raw, "evaluation_precision", "challenge"), source)
    return Challenge(
        id=challenge_id,
        title=need(raw, "title", "challenge"),
        family=family,
        order=int(raw.get("order", 100)),
        tagline=raw.get("tagline", ""),
        task=need(raw, "task", "challenge"),
        published_url=raw.get("published_url", ""),
        metric=need(raw, "metric", "challenge"),
        columns=columns,
        limits=limits,
        board=style,
        version=rules_version(challenge_id, family, columns, limits),
        checks=checks,
        hidden_test=hidden_test,
        precision=precision,
    )


def _precision(raw: dict[str, Any], source: str) -> Precision:
    where = "evaluation_precision"

    def choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
        if value not in allowed:
            raise DefinitionError(f"{source}: {where}.{field} must be one of {allowed}, not {value!r}")
        return value

    unknown = set(raw) - {"dtype", "quantization", "pad_token", "batch_size", "source"}
    if unknown:
        raise DefinitionError(f"{source}: unknown key(s) {sorted(unknown)} in {where}")
    quantization = None
    if raw.get("quantization") is not None:
        q = raw["quantization"]
        if q.get("bits") != 4:
            raise DefinitionError(f"{source}: {where}.quantization.bits must be 4, not {q.get('bits')!r}")
        quantization = Quantization(4, choice(q.get("type"), QUANT_TYPES, "quantization.type"),
                                    choice(q.get("compute_dtype"), DTYPES, "quantization.compute_dtype"))
    batch_size = raw.get("batch_size")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise DefinitionError(f"{source}: {where}.batch_size must be a positive integer, not {batch_size!r}")
    return Precision(
        dtype=choice(raw.get("dtype"), DTYPES, "dtype"),
        quantization=quantization,
        pad_token=choice(raw.get("pad_token"), PAD_TOKENS, "pad_token"),
        batch_size=batch_size,
        source=str(raw.get("source", "")),
    )


def _checks(raw: dict[str, Any], source: str) -> Checks:
    unknown = sorted(set(raw) - {"recheck_tolerance", "comm_tolerance"})
    if unknown:
        raise DefinitionError(f"{source}: unknown key {unknown[0]!r} in checks (known: recheck_tolerance, "
                              "comm_tolerance)")
    values = {key: raw[key] for key in ("recheck_tolerance", "comm_tolerance") if key in raw}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise DefinitionError(f"{source}: checks.{key} must be a number, 0 or more (got {value!r})")
    return Checks(**{key: float(value) for key, value in values.items()})


def _board_style(raw: dict[str, Any], family: str, source: str) -> BoardStyle:
    style = dict(raw)
    if "default_columns" in style:
        style["default_columns"] = tuple(style["default_columns"])
    default = BOARD_FILTERS if family == "flowertune" else tuple(f for f in BOARD_FILTERS
                                                                 if f not in FLOWERTUNE_FILTERS)
    filters = tuple(style.get("filters", default))
    for name in filters:
        if name not in BOARD_FILTERS:
            raise DefinitionError(f"{source}: unknown filter {name!r} in board.filters (known: {BOARD_FILTERS})")
        if name in FLOWERTUNE_FILTERS and family != "flowertune":
            raise DefinitionError(f"{source}: filter {name!r} needs a flowertune board: {family} results have "
                                  "no such column")
    style["filters"] = tuple(f for f in BOARD_FILTERS if f in filters)
    return BoardStyle(**style)


def _iso_date(value: Any, source: str) -> str | None:
    """``limits.components_uploaded_before``: a date (YAML reads ``2024-05-31`` as one) or null."""
    if value is None:
        return None
    try:
        return (value if isinstance(value, date) else date.fromisoformat(str(value))).isoformat()
    except ValueError:
        raise DefinitionError(f"{source}: limits.components_uploaded_before must be a YYYY-MM-DD date or null, "
                              f"not {value!r}") from None


def rules_version(challenge_id: str, family: str, columns: tuple[ScoreColumn, ...], limits: Limits) -> str:
    """A short hash of the rules a submission is checked and scored by: the limits, the scored columns (key,
    metric, what each is evaluated on) and the ranking by their average. Parsed values are hashed as canonical
    JSON, so how the YAML is written (``13e9`` or ``13.0e9``, flow or block style, comments) does not count, and
    neither do the title, tagline, task text, labels or how the board looks: a reworded tagline is not a rule."""
    rules = {
        "challenge": challenge_id,
        "family": family,
        "columns": [{"key": c.key, "metric": c.metric,
                     "evaluation": {k: v for k, v in c.evaluation.items() if v is not None}} for c in columns],
        "rank_by": "average",
        # a rule added later: left out while unset, so the definitions without it keep their version
        "limits": {k: v for k, v in asdict(limits).items() if v is not None or k != "components_uploaded_before"},
    }
    text = json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_challenges(directory: Path = DEFINITIONS_DIR) -> dict[str, Challenge]:
    """All challenge definitions in ``directory``, keyed by id, in board order."""
    found = []
    for path in sorted(directory.glob("*.yaml")):
        challenge = parse_challenge(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
        if challenge.id != path.stem:
            raise DefinitionError(f"{path.name}: id {challenge.id!r} must match the file name")
        found.append(challenge)
    return {c.id: c for c in sorted(found, key=lambda c: (c.order, c.id))}


@functools.cache
def challenges() -> dict[str, Challenge]:
    """The shipped challenge definitions (parsed once)."""
    return load_challenges()
