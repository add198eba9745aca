"""Class tables of every split checked against the head, before any training or inference.

A task head is sized from the first dataset of its task (`train`, else `val`, else
`test`: [`head_args`][videollm_core.data.VideoDataset.head_args]), or from its own config. A
`val`/`test` split whose class table differs (another `actions.csv`, taxonomy,
`mapping.txt` or `data_info.json`) would be scored with the wrong classes, or fail only
after minutes of inference; `check_class_tables` reports it at start-up as a
[`DataError`][videollm_core.errors.DataError] (exit 2) naming both files and sizes.

A split's table is its dataset's `head_args()` (class counts) plus its
[`class_names`][videollm_core.data.VideoDataset.class_names] (order matters: class `i` is head
output `i`). Its file is the dataset's [`class_table_file`][videollm_core.data.VideoDataset.class_table_file],
else the first class-table config key below, else the split's config path.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from ..errors import DataError

#: config keys of a dataset naming its class table (or the annotations it is read from), in order.
TABLE_KEYS = ("actions", "taxonomy", "mapping", "data_info", "label_map", "annotations", "annotation_file", "data_root")
SPLITS = ("train", "val", "test")


def table_of(dataset: Any) -> dict[str, Any]:
    """`head_args()` plus `class_names` (when the dataset lists them: segment labels, MQ
    categories, EK100 action names)."""
    table = dict(dataset.head_args() or {})
    names = dataset.class_names()
    if names:
        table["class_names"] = [str(n) for n in names]
    return table


def table_source(dataset: Any, dcfg: Mapping[str, Any] | None, where: str) -> str:
    """Where `dataset`'s class table comes from, for messages."""
    own = dataset.class_table_file()
    if own:
        return str(own)
    for key in TABLE_KEYS:
        if isinstance(dcfg, Mapping) and isinstance(dcfg.get(key), str):
            return dcfg[key]
    return f"{where} ({(dcfg or {}).get('type', 'dataset')}{', demo data' if (dcfg or {}).get('demo') is not None else ''})"


def _describe(table: Mapping[str, Any], keys: Sequence[str]) -> str:
    parts = []
    for k in keys:
        v = table.get(k)
        parts.append(f"{len(v)} class_names" if k == "class_names" and isinstance(v, list) else f"{k}={v}")
    return ", ".join(parts)


def check_class_tables(specs: Sequence[Any], dataset: Callable[[Any, str], Any]) -> None:
    """Raise a [`DataError`][videollm_core.errors.DataError] when a split's class table differs from the head's.

    Args:
        specs: the task specs (`name`, `data`, `head`, `path()`); sizes set in a head's
            config win over its data's, as when the head is built.
        dataset: `(spec, split) -> dataset or None` (the runner's cached builder).
    """
    for spec in specs:
        built = [(s, dataset(spec, s)) for s in SPLITS if spec.data.get(s) is not None]
        built = [(s, ds) for s, ds in built if ds is not None]
        if len(built) < 2:
            continue
        ref_split, ref_ds = built[0]
        reference = table_of(ref_ds)
        head_cfg = spec.head if isinstance(spec.head, Mapping) else {}
        overrides = {k: v for k, v in head_cfg.items() if k in reference and k != "class_names"}
        for split, ds in built[1:]:
            table = table_of(ds)
            differ = [k for k in table if k in reference and overrides.get(k, reference[k]) != table[k]]
            if not differ:
                continue
            ref_where, where = f"{spec.path('data')}.{ref_split}", f"{spec.path('data')}.{split}"
            head = {**reference, **overrides}
            detail = ""
            if "class_names" in differ and len(table["class_names"]) == len(reference["class_names"]):
                i = next(i for i, (a, b) in enumerate(zip(reference["class_names"], table["class_names"])) if a != b)
                detail = f"; class {i} is {reference['class_names'][i]!r} in one and {table['class_names'][i]!r} in the other"
            raise DataError(
                f"task '{spec.name}': the class table of {split} ({table_source(ds, spec.data.get(split), where)}: "
                f"{_describe(table, differ)}) differs from the head built from {ref_split} "
                f"({table_source(ref_ds, spec.data.get(ref_split), ref_where)}: {_describe(head, differ)}){detail}",
                where=where,
                hint=f"evaluate with the class table the head was trained on (the same files as {ref_where}), "
                     f"or train a head on the new table")


__all__ = ["TABLE_KEYS", "table_of", "table_source", "check_class_tables"]
