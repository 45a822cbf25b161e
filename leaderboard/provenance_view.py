"""A result's provenance (what decided its score besides the model, and what it cost) as label / text rows.

The evaluator writes the fields below (evaluator/worker.py); a field this module does not know yet still
gets a row, under its own name, so nothing a record holds is hidden.
"""

from __future__ import annotations

from typing import Any

from challenges.definitions import Challenge

# field -> label, in display order; the PRECISION fields become one "Precision" row
PRECISION = ("dtype", "quantization", "pad_token", "precision_official")
LABELS = {
    "partial": "Partial run, because",
    "device": "Device",
    "versions": "Package versions",
    "dataset_revisions": "Dataset commits",
    "sample_counts": "Samples",
    "limit": "Questions per dataset",
    "duration_s": "Duration",
    "peak_memory_mb": "Peak memory",
    "batch_size": "Batch size",
    "settings": "Settings",
    "task_definition_hash": "Task definitions (hash)",
    "rules_version": "Rules version",
    "worker": "Worker",
    "imported_from": "Imported from",
}
PER_COLUMN = ("dataset_revisions", "sample_counts")  # keyed by score column: shown with the column labels


def partial_reasons(provenance: dict[str, Any]) -> list[str]:
    """Why a result is partial (a smoke run), as the worker recorded it; empty for a full evaluation."""
    reasons = provenance.get("partial") or []
    return [str(r) for r in reasons] if isinstance(reasons, list) else [str(reasons)]


def plain(value: Any) -> str:
    """Any JSON value as one line of text: mappings as 'key: value' pairs, lists joined, null as a dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dict):
        return " · ".join(f"{key}: {_nested(item)}" for key, item in value.items()) or "—"
    if isinstance(value, list):
        return ", ".join(_nested(item) for item in value) or "—"
    return str(value)


def _nested(value: Any) -> str:
    return f"({plain(value)})" if isinstance(value, (dict, list)) and value else plain(value)


def duration(seconds: float) -> str:
    """78.4 -> '1 min 18 s'; 3.25 -> '3.2 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours} h " if hours else "") + f"{minutes} min {rest} s"


def _field_text(challenge: Challenge, key: str, value: Any) -> str:
    if key in PER_COLUMN and isinstance(value, dict):
        labels = {c.key: c.label for c in challenge.columns}
        return " · ".join(f"{labels.get(column, column)} {plain(item)}" for column, item in value.items())
    if key == "versions" and isinstance(value, dict):
        return " · ".join(f"{package} {version}" for package, version in value.items())
    if key == "limit":
        return f"{plain(value)} (a smoke run, not a full evaluation)"
    if key == "duration_s" and isinstance(value, (int, float)):
        return duration(float(value))
    if key == "peak_memory_mb" and isinstance(value, (int, float)):
        return f"{value:,.0f} MB"
    return plain(value)


def provenance_rows(challenge: Challenge, provenance: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, text) rows: precision first, then the known fields in order, then any other field by name.
    Fields without a value are left out."""
    rows = []
    precision = _precision_text(challenge, provenance)
    if precision:
        rows.append(("Precision", precision))
    present = {k: v for k, v in provenance.items() if v is not None and k not in PRECISION}
    rows += [(label, _field_text(challenge, key, present[key])) for key, label in LABELS.items() if key in present]
    rows += [(key, _field_text(challenge, key, value)) for key, value in present.items() if key not in LABELS]
    return rows


def _precision_text(challenge: Challenge, provenance: dict[str, Any]) -> str:
    """What the models were loaded as, and whether that is the challenge's official precision (when the
    record says; results from before it was recorded do not)."""
    text = ", ".join(str(provenance[k]) for k in PRECISION[:2] if provenance.get(k) not in (None, ""))
    if provenance.get("pad_token"):
        text += f"; pad token: {provenance['pad_token']}"
    official = provenance.get("precision_official")
    if text and official is True:
        text += " (the official precision)"
    elif text and official is False:
        text += f" (not the official precision: {challenge.precision.describe()})"
    return text
