"""The GPU benchmark's figures: the fixed keys of its JSON, the results of one run, the Markdown table.

JSON (``bench/gpu.py --out FILE``)::

    {"figures": {KEY: number | string | null},   # every key of KEYS, always
     "skipped": {KEY: reason},                   # why a figure is null ("failed: ..." when it broke)
     "failed": [KEY, ...],                       # figures whose part raised (exit code 1)
     "setup": {...}}                             # mode, card, versions, shapes, counts behind the figures

Units: ``*_ms*`` milliseconds, ``*_per_s`` per second of wall time, ``train.tflops_per_s`` 1e12
model FLOP/s, ``train.mfu`` a fraction (0-1), ``*.wall_s`` seconds; ``device`` is a string.
"""
from __future__ import annotations

import contextlib
import re
import time
import traceback
from pathlib import Path
from typing import Any

#: stream lengths (units) and their key suffixes.
LENGTHS = {"1k": 1024, "16k": 16384}
#: launch name -> (template in examples/accelerate/, extra ``accelerate launch`` arguments).
LAUNCHES = {"single_gpu": ("single_gpu.yaml", []),
            "fsdp": ("fsdp.yaml", ["--fsdp_transformer_layer_cls_to_wrap", "OPTDecoderLayer"]),
            "deepspeed": ("deepspeed_zero2.yaml", [])}
KEYS = ("device", "train.ms_per_step", "train.samples_per_s", "train.tokens_per_s", "train.tflops_per_s", "train.mfu",
        *(f"stream.{m}.{n}" for n in LENGTHS for m in ("units_per_s", "p50_ms", "p99_ms")), "extract.frames_per_s",
        *(f"launch.{t}.{m}" for t in LAUNCHES for m in ("samples_per_s", "wall_s")))
#: (part of ``torch.cuda.get_device_name``, dense bf16 FLOP/s), first match wins (NVIDIA datasheets;
#: the SXM H100 and the H200 share their tensor cores).
PEAK_BF16 = (("H100 PCIe", 756e12), ("H100 NVL", 835e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12))


def peak_bf16(name: str) -> float | None:
    """Dense bf16 FLOP/s of the card called ``name`` (:data:`PEAK_BF16`), or None when unknown."""
    return next((flops for part, flops in PEAK_BF16 if part.lower() in name.lower()), None)


class Results:
    """One run: ``figures`` (every key of :data:`KEYS`, None until measured), ``skipped``, ``failed``, ``setup``."""

    def __init__(self) -> None:
        self.figures: dict[str, Any] = dict.fromkeys(KEYS)
        self.skipped: dict[str, str] = {}
        self.failed: list[str] = []
        self.setup: dict[str, Any] = {}

    def skip(self, keys: list[str], reason: str) -> None:
        for key in keys:
            self.skipped[key] = reason
        if keys:
            print(f"[gpu] skipped {', '.join(keys)}: {reason}", flush=True)

    def fail(self, keys: list[str], reason: str) -> None:
        self.skip(keys, f"failed: {reason}")
        self.failed += [k for k in keys if k not in self.failed]

    @contextlib.contextmanager
    def section(self, name: str, keys: list[str]):
        """Run one part; an exception marks its unmeasured ``keys`` failed (null, reason) and the run goes on."""
        print(f"[gpu] {name} ...", flush=True)
        start = time.perf_counter()
        try:
            yield
        except Exception as e:  # noqa: BLE001  (one broken part must not lose the others' figures)
            traceback.print_exc()
            message = " ".join(str(e).split())
            self.fail([k for k in keys if self.figures[k] is None and k not in self.skipped],
                      f"{type(e).__name__}: {message[:300]}")
        print(f"[gpu] {name} done in {time.perf_counter() - start:.1f} s", flush=True)

    def to_json(self) -> dict[str, Any]:
        return {"figures": self.figures, "skipped": self.skipped, "failed": self.failed, "setup": self.setup}


def render(res: Results) -> str:
    """The figures as a Markdown table for docs/benchmarks.md (a null figure shows its reason)."""
    f, s = res.figures, res.setup
    lines = [f"**{f['device']}**, {s['date']} (`bash bench/gpu.sh{' --smoke' if s['mode'] == 'smoke' else ''}`; "
             f"torch {s['versions']['torch']}, CUDA {s['versions']['cuda']})", "", "| figure | value |", "| --- | ---: |"]
    for key in KEYS[1:]:
        value = f[key]
        if value is None:
            text = f"null: {res.skipped.get(key, 'not measured')}"
        else:
            text = f"{value:.1%}" if key == "train.mfu" else f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
        lines.append(f"| `{key}` | {text} |")
    return "\n".join(lines) + "\n"


def append_to_docs(text: str, path: Path) -> None:
    """Append ``text`` at the end of the ``## GPU`` section of ``path``; the other sections stay as they are."""
    old = path.read_text(encoding="utf-8")
    match = re.search(r"^## GPU\n.*?(?=^## |\Z)", old, re.S | re.M)
    if match is None:
        raise SystemExit(f"{path} has no '## GPU' section")
    path.write_text(old[:match.end()].rstrip("\n") + "\n\n" + text + "\n" + old[match.end():], encoding="utf-8")
