"""Total and trainable parameters of every paper config (``examples/paper/<task>/<family>_<scheme>.yaml``),
each validated and built on the meta device (no download, no data; what ``videollm-run FILE --dry-run
--no-data`` counts), set against the paper's 2M to 15M trainable parameters, with the reason of each
entry outside that range; then the runs of the paper's narrower studies (``examples/study/paper_*.yaml``:
tuning sweeps, scaling up to OPT-6.7B, T5 encoder). Writes ``docs/paper-configs.md``.

    python bench/params.py                  # all configs, one process (a few minutes on 2 CPU cores)
    python bench/params.py --no-write       # print the page only
    python bench/params.py --studies-only   # rewrite only the studies' section
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "examples" / "paper"
PAGE = ROOT / "docs" / "paper-configs.md"
#: the study files of the paper's narrower comparisons (written by examples/paper/generate.py), listed after the grid.
STUDIES = ("paper_tuning.yaml", "paper_scaling.yaml", "paper_encoder.yaml")
STUDY_SECTION = "## The narrower studies"
LOW, HIGH = 2e6, 15e6  # the paper: "only ~2M to 15M parameters are trained"

#: what each task's head reads its parameters from (``{H}``: the LLM's hidden size).
HEAD_WHY = {
    "oad": "the head maps the {H}-wide state to 3807 action, 98 verb and 301 noun classes (with background)",
    "anticipation": "the head maps the {H}-wide state to 3806 actions + 97 verbs + 300 nouns",
    "lta": "the head decodes Z = 20 future steps over 115 verbs + 478 nouns from the {H}-wide state through 256",
    "online_caption": "the caption comes from the LLM's own LM head: the head has no parameters",
    "moment_query": "the head's two 128-wide towers (110 classes; boundaries) read the {H}-wide state",
    "nlq": "the head fuses the query through a {H} x {H} projection, then scores windows with a 128-wide MLP",
    "qvhighlights": "the head fuses the query through a {H} x {H} projection, then scores windows and saliency with 128-wide MLPs",
    "action_segmentation": "the head maps the {H}-wide state to 48 classes",
}


def load_generator() -> Any:
    """``examples/paper/generate.py`` as a module: the grid's tasks, families and schemes, in order."""
    spec = importlib.util.spec_from_file_location("paper_generate", PAPER / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def config_name(path: Path) -> str:
    """``task/family_scheme`` of a config path."""
    return f"{path.parent.name}/{path.stem}"


def measure(path: Path) -> dict[str, Any]:
    """Validate and build one config file on the meta device; its counts per component and the LLM's shape."""
    from videollm_core.config import load_config

    return measure_config(load_config(path), config_name(path))


def measure_config(cfg: Any, name: str) -> dict[str, Any]:
    """:func:`measure` of a loaded config, listed as ``name``."""
    from videollm_core.engine.parameters import count_parameters
    from videollm_core.head_args import resolve_head_args
    from videollm_core.pipeline import build_pipeline
    from videollm_core.plugins import REGISTRIES, configure_config
    from videollm_core.validation import validate_config
    from videollm_plugins.tuning.basic import decoder_blocks

    cfg = configure_config(cfg)
    validate_config(cfg)
    pipeline = build_pipeline(cfg, head_args=resolve_head_args(cfg, REGISTRIES), device="meta")
    report = count_parameters(pipeline)
    parts = report["components"]
    head = sum(c["trainable"] for n, c in parts.items() if n.startswith("head"))
    return {"config": name, "total": report["total"], "trainable": report["trainable"],
            "translator": parts["translator"]["trainable"], "llm": parts["llm"]["trainable"], "head": head,
            "hidden": pipeline.llm.hidden_size, "embed": pipeline.llm.embed_dim, "blocks": len(decoder_blocks(pipeline.llm.model)),
            "in_dim": cfg["model"]["encoder"]["in_dim"]}


def study_rows() -> dict[str, list[dict[str, Any]]]:
    """``{study file: [row per run]}`` of the paper's narrower studies (:data:`STUDIES`), each run's config
    built on the meta device like the grid's."""
    from videollm_core.study.plan import plan_runs
    from videollm_core.study.spec import read_study

    out = {}
    for name in STUDIES:
        rows = []
        for run in plan_runs(read_study(ROOT / "examples" / "study" / name)):
            row = measure_config(run.config(), run.id)
            row["verdict"] = verdict(row, run.task, run.labels.get("model.tuner", "basic"))
            rows.append(row)
            print(f"{name}: {row['config']:<60} {millions(row['trainable']):>9}  {row['verdict']}", flush=True)
        out[name] = rows
    return out


def millions(n: float) -> str:
    return f"{n / 1e6:,.2f}M"


def verdict(row: dict[str, Any], task: str, scheme: str) -> str:
    """``in range``, or why the trainable count is below 2M or above 15M (biggest part first)."""
    if LOW <= row["trainable"] <= HIGH:
        return "in range"
    hidden = row["hidden"]
    why = {"translator": f"the translator maps {row['in_dim']}-d features to the LLM's {row['embed']}-wide input",
           "head": HEAD_WHY[task].format(H=hidden)}
    size = scheme.rpartition("-r")[2] if "-r" in scheme else None  # lora-r4, prefix-r4, prompt-r4 (study labels)
    if scheme.startswith("partial"):
        why["llm"] = f"partial tuning trains one whole block of the LLM's {row['blocks']}"
    elif scheme == "bitfit":
        why["llm"] = f"BitFit trains every bias of the LLM's {row['blocks']} blocks"
    elif scheme.startswith("lora"):
        why["llm"] = f"LoRA r {size or 8} on the attention of the LLM's {row['blocks']} blocks"
    elif scheme.startswith("prefix"):
        why["llm"] = f"{size or 10} prefix keys/values in each of the LLM's {row['blocks']} blocks"
    elif scheme.startswith("prompt"):
        why["llm"] = f"{size} prompt embeddings of the LLM's width"
    parts = sorted((k for k in ("translator", "llm", "head") if row[k] or k == "head"), key=lambda k: -row[k])

    def said(k: str) -> str:
        return f"{why[k]}: {millions(row[k])}" if row[k] else why[k]

    if row["trainable"] < LOW:
        return "below: " + "; ".join(said(k) for k in parts if k in why)
    return "above: " + "; ".join(said(k) for k in parts if k in why and row[k] >= 0.15 * row["trainable"])


def render(rows: dict[str, dict[str, Any]], gen: Any, seconds: float) -> str:
    """The page: a summary per scheme, then one table per task."""
    lines = ["# Paper configurations", "",
             "Every configuration of the paper's study ships in `examples/paper/`: each task in its own folder",
             "(`_base_.yaml`: the dataset in its real layout, the paper's features, every head size), crossed with",
             f"{len(gen.FAMILIES)} LLMs of the families the paper names (GPT-2, OPT and T5-decoder sizes, the LLaMA-7B shape; its text "
             "does not list every checkpoint it trained) and",
             f"{len(gen.SCHEMES)} tuning schemes: basic (`Frozen`), partial tuning of the first or of the last transformer block",
             "(`Partial` with `first_n_blocks: 1` / `last_n_blocks: 1`), LoRA (r 8) and prefix tuning (10 virtual tokens).",
             "`python examples/paper/generate.py` writes the grid.", "",
             "The counts below come from building each config on the meta device (no download, no data:",
             "`videollm-run FILE --dry-run --no-data`), written by `python bench/params.py` "
             f"({len(rows)} configs in {seconds:.0f} s). The paper trains about **2M to 15M** parameters;",
             "each entry outside that range says why. `translator`, `LLM` and `head` are the trainable parameters",
             "of each part (the encoder has none).", "",
             "| scheme | in 2M-15M | below | above |", "| --- | ---: | ---: | ---: |"]
    for scheme in gen.SCHEMES:
        mine = [r for r in rows.values() if r["config"].endswith(f"_{scheme}")]
        counts = [sum(r["verdict"].startswith(w) for r in mine) for w in ("in range", "below", "above")]
        lines.append(f"| {scheme} | {counts[0]} | {counts[1]} | {counts[2]} |")
    lines.append("")
    for task, title in gen.TASKS.items():
        lines += [f"## {title}", "", f"`examples/paper/{task}/`", "",
                  "| config | total | trainable | translator | LLM | head | against 2M-15M |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        for family in gen.FAMILIES:
            for scheme in gen.SCHEMES:
                r = rows.get(f"{task}/{family}_{scheme}")
                if r is not None:
                    lines.append(f"| `{r['config']}` | {r['total'] / 1e6:,.1f}M | {millions(r['trainable'])} | "
                                 f"{millions(r['translator'])} | {millions(r['llm'])} | {millions(r['head'])} | {r['verdict']} |")
        lines.append("")
    return "\n".join(lines)


def render_studies(rows: dict[str, list[dict[str, Any]]]) -> str:
    """The page's last section: the runs of the narrower studies, with their counts."""
    lines = [STUDY_SECTION, "",
             "The paper's narrower comparisons run as studies of their own (`examples/study/`, written by",
             "`examples/paper/generate.py`): the tuning schemes and their sizes on OAD (BitFit, LoRA ranks, prefix and",
             "prompt lengths), OAD against LLM size up to OPT-6.7B, and T5's encoder against its decoder. Each run",
             "is listed by its id; the counts come from the same meta-device build.", ""]
    for name, study in rows.items():
        lines += [f"### `examples/study/{name}`", "", "| run | total | trainable | translator | LLM | head | against 2M-15M |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
        lines += [f"| `{name.removesuffix('.yaml')}: {r['config']}` | {r['total'] / 1e6:,.1f}M | {millions(r['trainable'])} | "
                  f"{millions(r['translator'])} | {millions(r['llm'])} | {millions(r['head'])} | {r['verdict']} |" for r in study]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true", help="print the page, do not write docs/paper-configs.md")
    parser.add_argument("--studies-only", action="store_true", help="rewrite only the narrower studies' section of the page")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from videollm_core.plugins import get_plugin_manager

    get_plugin_manager().load()
    if args.studies_only:
        grid_part = PAGE.read_text(encoding="utf-8").split(STUDY_SECTION)[0].rstrip("\n")
        PAGE.write_text(grid_part + "\n\n" + render_studies(study_rows()), encoding="utf-8")
        print(f"rewrote the studies' section of {PAGE}")
        return 0
    gen = load_generator()
    stale = gen.problems()
    if stale:
        print("examples/paper/ is not what generate.py writes:\n" + "\n".join(stale), file=sys.stderr)
        return 1
    start, rows = time.perf_counter(), {}
    for path in sorted(gen.grid()):
        task, scheme = path.parent.name, path.stem.rsplit("_", 1)[1]
        row = measure(path)
        row["verdict"] = verdict(row, task, scheme)
        rows[row["config"]] = row
        print(f"{row['config']:<45} {row['total'] / 1e6:10,.1f}M {millions(row['trainable']):>9}  {row['verdict']}", flush=True)
    text = render(rows, gen, time.perf_counter() - start) + "\n" + render_studies(study_rows())
    if args.no_write:
        print(text)
    else:
        PAGE.write_text(text, encoding="utf-8")
        print(f"wrote {PAGE} ({len(rows)} configs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
