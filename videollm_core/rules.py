"""Scalar config rules: what a value of a `train:`, `data:` or top-level key may be.

A [`Rule`][videollm_core.rules.Rule] holds the check validation runs, the words its message
uses ("expected a positive integer") and the JSON Schema fragment `videollm schema` writes for
editors, so each rule is stated once. Plugins declare their own keys with rules
([`videollm_config_keys`][videollm_core.hookspecs.videollm_config_keys]).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Rule:
    """One accepted kind of value.

    Attributes:
        check: `value -> bool`, True when the value is accepted.
        what: the accepted values in words, for messages ("a positive integer").
        json: the same as a JSON Schema fragment (`videollm schema`).
    """

    check: Callable[[Any], bool]
    what: str
    json: dict[str, Any] = field(default_factory=dict)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


POS_INT = Rule(lambda v: _is_int(v) and v > 0, "a positive integer", {"type": "integer", "minimum": 1})
NONNEG_INT = Rule(lambda v: _is_int(v) and v >= 0, "an integer >= 0", {"type": "integer", "minimum": 0})
INT = Rule(_is_int, "an integer", {"type": "integer"})
NUM = Rule(_is_num, "a number", {"type": "number"})
POS_NUM = Rule(lambda v: _is_num(v) and v > 0, "a positive number", {"type": "number", "exclusiveMinimum": 0})
NONNEG_NUM = Rule(lambda v: _is_num(v) and v >= 0, "a number >= 0", {"type": "number", "minimum": 0})
STR = Rule(lambda v: isinstance(v, str), "a string", {"type": "string"})
MAPPING = Rule(lambda v: isinstance(v, dict), "a mapping", {"type": "object"})


def optional(rule: Rule) -> Rule:
    """`rule`, or null."""
    return Rule(lambda v: v is None or rule.check(v), f"{rule.what} or null", {"anyOf": [rule.json, {"type": "null"}]})


def choice(*values: str) -> Rule:
    """One of `values`."""
    return Rule(lambda v: v in values, "one of " + ", ".join(values), {"enum": list(values)})


def any_of(*rules: Rule) -> Rule:
    """A value any of `rules` accepts."""
    return Rule(lambda v: any(r.check(v) for r in rules), ", ".join(r.what for r in rules[:-1]) + f" or {rules[-1].what}",
                {"anyOf": [r.json for r in rules]})


__all__ = ["Rule", "POS_INT", "NONNEG_INT", "INT", "NUM", "POS_NUM", "NONNEG_NUM", "STR", "MAPPING", "optional", "choice", "any_of"]
