"""The dry run's look at the data: every split of every task opened, its first item read.

:func:`check_data` builds each dataset of the config exactly as the runner does
(:func:`~videollm_core.head_args.build_task_dataset`: ``feature_dim`` and ``on_error``
supplied), so it covers whatever the dataset reads (annotation files, feature folders or
any other feature source a dataset supports, demo data), and then reads item 0. A wrong
path, a folder where a file belongs, a missing first feature file or a wrong format is
reported before anything heavy runs. It reads what the dataset's constructor reads plus
one item: datasets that index lazily are checked cheaply; datasets that check every
file when built are checked as thoroughly as a real run would.
"""
from __future__ import annotations

from typing import Any, Mapping

from ..errors import DataError, UserError
from ..engine.files import check_input
from ..paths import path_error
from ..plugins import REGISTRIES
from ..registry import Registries

#: what a dataset's ``__getitem__`` raises on bad data that the dataset did not word itself.
_DATA_FAULTS = (ValueError, TypeError, KeyError, IndexError, EOFError, UnicodeDecodeError)


def check_split(cfg: Mapping[str, Any], spec: Any, split: str, registries: Registries = REGISTRIES) -> dict[str, Any]:
    """Build ``spec``'s ``split`` dataset and read its first item; ``{"task", "split", "items"}``.

    Raises:
        UserError: what the dataset raised (its own message, at the split's YAML path);
            an ``OSError`` as a :class:`~videollm_core.errors.PathError` naming the file;
            an empty split or an unreadable first item as a :class:`DataError`.
    """
    from ..head_args import build_task_dataset

    where = f"{spec.path('data')}.{split}"
    check_named_paths(spec.data[split], where)
    try:
        dataset = build_task_dataset(cfg, spec, split, registries)
    except UserError as e:
        raise _located(e, where)
    try:
        items = len(dataset)
        if items == 0:
            raise DataError("the split has no items", where=where, hint="check the split name and the annotation file")
        dataset[0]
    except UserError as e:
        raise _located(e, where)
    except OSError as e:
        raise path_error(e, action=f"read the first item of {where}") from e
    except _DATA_FAULTS as e:
        raise DataError(f"cannot read the first item ({type(e).__name__}: {e})", where=where,
                        hint="check the files this split names and their format") from e
    return {"task": spec.name, "split": split, "items": items}


def check_named_paths(dcfg: Mapping[str, Any], where: str) -> None:
    """Check the paths a dataset config names by convention: ``*_file`` keys name a readable
    file, ``*_dir`` keys a readable folder (:func:`~videollm_core.engine.files.check_input`)."""
    for key, value in dcfg.items():
        if isinstance(key, str) and key.endswith(("_file", "_dir")) and isinstance(value, str) and value:
            check_input(value, "file" if key.endswith("_file") else "folder", f"{where}.{key}")


def _located(error: UserError, where: str) -> UserError:
    """``error`` with the split's YAML path added when its place is a file, not that path."""
    if error.where is None or not str(error.where).startswith(where):
        error.message = f"{error.message} (opening {where})"
        error.args = (error.render(),)
    return error


def check_data(cfg: Mapping[str, Any], registries: Registries = REGISTRIES) -> list[dict[str, Any]]:
    """:func:`check_split` for every split (train, val, test) of every task, in config order."""
    from ..validation import task_specs

    return [check_split(cfg, spec, split, registries) for spec in task_specs(cfg) for split in spec.data]


def format_data_report(report: list[dict[str, Any]]) -> str:
    """One line per split: ``data  TASK/SPLIT  N items``."""
    width = max((len(f"{r['task']}/{r['split']}") for r in report), default=0)
    return "\n".join(f"data  {r['task'] + '/' + r['split']:<{width}}  {r['items']:,} items (first read)" for r in report)


__all__ = ["check_data", "check_split", "check_named_paths", "format_data_report"]
