"""The typed `videollm.json` of a model folder (`videollm_core.engine.pretrained`).

A model folder comes from anywhere (a hub, a colleague), so every field the framework reads
from its `videollm.json` is checked once, when the folder loads, against the pydantic
models below (strict: no string is taken for a number, no number for a flag); keys it does
not read pass through unchecked and travel with a re-save. A field of the wrong type is one
[`DataError`][videollm_core.errors.DataError] naming the file and every wrong key
(`inputs.oad.fps: expected a number > 0, got 'x'`), never an `AttributeError` in
`videollm predict`.
"""
from __future__ import annotations

import os
from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ..errors import DataError

#: a finite number > 0 (a step rate, seconds); ints are numbers too, booleans are not.
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Checked(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")


class DatasetInfo(_Checked):
    """How `videollm predict --annotations` builds the model's dataset again."""

    type: str


class SourceInfo(_Checked):
    """The feature source the task's dataset read (type and settings, no location)."""

    type: str


class TaskInputs(_Checked):
    """How the task's dataset read its features ([`reading`][videollm_core.data.VideoDataset.reading])."""

    fps: Optional[Positive] = None
    window: Optional[Positive] = None
    channels_first: bool = False
    frames_per_step: Optional[Annotated[int, Field(gt=0)]] = None
    frame_rate: Optional[Positive] = None
    class_names: Optional[list[str]] = None
    dataset: Optional[DatasetInfo] = None
    source: Optional[SourceInfo] = None


class Backbone(_Checked):
    name: str


class Extraction(_Checked):
    """A features `manifest.json`'s settings (`predict --videos` extracts with them)."""

    backbone: Optional[Annotated[Backbone, BeforeValidator(lambda v: {"name": v} if isinstance(v, str) else v)]] = None
    fps: Optional[Positive] = None


class BaseModelInfo(_Checked):
    name_or_path: str
    revision: Optional[str] = None


class ModelInfo(_Checked):
    """Every field of `videollm.json` that the framework reads."""

    format: int = 0
    videollm_core: Optional[str] = None
    tasks: list[str] = []
    base_model: Optional[BaseModelInfo] = None
    name: Optional[str] = None
    step: Optional[int] = None
    checkpoint: Optional[str] = None
    metrics: dict[str, float] = {}
    best: Optional[dict[str, Any]] = None
    datasets: list[str] = []
    extraction: Optional[Extraction] = None
    inputs: dict[str, TaskInputs] = {}


#: pydantic's error types -> what the value must be.
EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "true or false",
            "dict_type": "a mapping", "model_type": "a mapping", "list_type": "a list", "greater_than": "a number > 0",
            "finite_number": "a finite number"}


def check_info(info: Any, path: str | os.PathLike) -> dict[str, Any]:
    """`info` (the parsed `videollm.json` at `path`) itself, once every field the framework reads
    has its type (`ModelInfo`).

    Raises:
        DataError: naming `path` and each wrong key with what it must be.
    """
    if not isinstance(info, dict):
        raise DataError(f"expected a JSON object, got {type(info).__name__}", where=str(path))
    try:
        ModelInfo.model_validate(info)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            place = ".".join(str(part) for part in err["loc"])
            wanted = EXPECTED.get(err["type"])
            problems.append(f"{place}: expected {wanted}, got {err['input']!r:.60}" if wanted
                            else f"{place}: missing" if err["type"] == "missing" else f"{place}: {err['msg']}")
        raise DataError("wrong value types: " + "; ".join(problems), where=str(path),
                        hint="write the folder again (`videollm export`, save_pretrained), or fix these keys") from None
    return info


__all__ = ["ModelInfo", "TaskInputs", "Extraction", "check_info"]
