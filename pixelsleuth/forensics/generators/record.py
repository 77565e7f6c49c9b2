"""What a generator recorded, and the coercions every format's parser shares: values in
generator metadata arrive as strings, numbers or nothing, and a bad one must not stop a parse."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

MAX_JSON_BYTES = 8 * 1024 * 1024  # larger JSON in a text chunk is not parsed


@dataclass
class GeneratorInfo:
    """What a generator recorded about how it made an image. Fields are None when absent."""

    tool: str
    container: str  # where it was found, e.g. 'PNG tEXt "parameters"'
    model: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    sampler: str | None = None
    scheduler: str | None = None
    steps: int | None = None
    cfg: float | None = None
    width: int | None = None
    height: int | None = None
    version: str | None = None
    loras: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def load_json(text: str | None) -> Any:
    """The JSON in ``text``, or None when it is missing, too large or not JSON."""
    if not text or len(text) > MAX_JSON_BYTES:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def as_int(value: Any) -> int | None:
    try:
        return int(str(value).strip()) if value is not None and str(value).strip() else None
    except ValueError:
        try:
            return int(float(str(value)))
        except ValueError:
            return None


def as_float(value: Any) -> float | None:
    try:
        return float(value) if value is not None and str(value).strip() else None
    except (TypeError, ValueError):
        return None


def as_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
