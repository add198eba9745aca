"""Constructor signatures: listing parameters and checking config arguments against them.

Used by the registries (before building), by config validation (before anything
heavy is built) and by `videollm list ROLE NAME`.
"""
from __future__ import annotations

import difflib
import inspect
import types
import typing
from typing import Any, Literal, Union, cast, get_args, get_origin

from .errors import ConfigError

_EMPTY = inspect.Parameter.empty


def type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cast(Any, cls).__init__)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        return dict(getattr(cast(Any, cls).__init__, "__annotations__", {}))


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter]:
    """Named constructor parameters of `cls` (`self`, `*args` and `**kwargs` left out)."""
    try:
        sig = inspect.signature(cast(Any, cls).__init__)
    except (TypeError, ValueError):
        return {}
    return {
        name: p
        for name, p in list(sig.parameters.items())[1:]
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def accepts_var_kwargs(cls: type) -> bool:
    try:
        sig = inspect.signature(cast(Any, cls).__init__)
    except (TypeError, ValueError):
        return True
    return any(p.kind == inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def annotation_text(annotation: Any) -> str | None:
    """A readable form of a type annotation (`None` when there is none)."""
    if annotation is _EMPTY:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _matches(value: Any, annotation: Any) -> bool:
    """Loose runtime check of a YAML value against an annotation (unknown forms pass)."""
    if annotation in (_EMPTY, Any, object) or isinstance(annotation, (str, typing.TypeVar)):
        return True
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_matches(value, a) for a in get_args(annotation))
    if origin is Literal:
        return value in get_args(annotation)
    if annotation is type(None):
        return value is None
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (list, tuple, typing.Sequence) or annotation in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return False
        args = get_args(annotation)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(_matches(v, a) for v, a in zip(value, args))
        return not args or all(_matches(v, args[0]) for v in value)
    if origin is dict or annotation is dict:
        return isinstance(value, dict)
    if isinstance(annotation, type):
        if isinstance(value, dict) and "type" in value:
            return True  # a nested component config, built by the component itself
        return isinstance(value, annotation)
    return True


def check_arguments(
    cls: type,
    args: dict[str, Any],
    *,
    where: str,
    supplied: frozenset[str] | set[str] = frozenset(),
) -> list[ConfigError]:
    """Check config arguments against `cls.__init__`.

    Args:
        cls: the registered class.
        args: the arguments from the config (without `type`).
        where: YAML path of the component, e.g. `model.translator`.
        supplied: parameter names the pipeline or dataset will fill in
            (`in_dim`, `num_classes`...), so they are not reported missing.

    Returns:
        Every problem found (unknown key, missing required argument, wrong type).
    """
    errors: list[ConfigError] = []
    params = constructor_parameters(cls)
    hints = type_hints(cls)
    accepted = ", ".join(params) or "(none)"
    if not accepts_var_kwargs(cls):
        for key in args:
            if key not in params:
                close = difflib.get_close_matches(str(key), list(params), n=1, cutoff=0.6)
                hint = f"did you mean '{close[0]}'? " if close else ""
                errors.append(
                    ConfigError(
                        f"unknown argument '{key}' for {cls.__name__}",
                        where=f"{where}.{key}",
                        hint=f"{hint}accepted parameters: {accepted}",
                    )
                )
    for name, p in params.items():
        if p.default is _EMPTY and name not in args and name not in supplied:
            errors.append(
                ConfigError(
                    f"missing required argument '{name}' for {cls.__name__}",
                    where=where,
                    hint=f"add '{name}:' under {where}; accepted parameters: {accepted}",
                )
            )
        if name in args:
            annotation = hints.get(name, p.annotation)
            if not _matches(args[name], annotation):
                errors.append(
                    ConfigError(
                        f"{cls.__name__}.{name} expects {annotation_text(annotation)}, got {args[name]!r}"
                        f" ({type(args[name]).__name__})",
                        where=f"{where}.{name}",
                    )
                )
    return errors
