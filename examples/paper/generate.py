"""Write the paper's configuration grid: task x LLM x tuning scheme.

Each task folder holds a hand-written ``_base_.yaml`` (dataset in its real layout, the paper's
features, every head size) and, written here, one ``<family>_<scheme>.yaml`` per LLM of the
families the paper names (GPT-2, OPT and T5-decoder sizes, the LLaMA-7B shape: the 12 architectures shipped with
the llms plugin) and per tuning scheme (basic, partial tuning of the first or the last block,
LoRA, prefix tuning). Each file starts with a one-line comment saying what it is.

It also writes the study files (``videollm study``): ``examples/study/paper.yaml``, the same grid as
one study (the eight ``_base_.yaml`` crossed with the LLMs and the schemes, plus the RQ1 controls: no
LLM; each LLM's architecture with random weights), and the paper's narrower comparisons:
``paper_tuning.yaml`` (BitFit, LoRA ranks, prefix and prompt lengths on OAD), ``paper_scaling.yaml``
(OAD against size, up to OPT-6.7B) and ``paper_encoder.yaml`` (T5's encoder against its decoder);
and ``examples/paper/multitask.yaml``, the eight bases as the tasks of one model (RQ3).

    python examples/paper/generate.py           # (re)write the grid and the study
    python examples/paper/generate.py --check   # exit 1 naming the files that differ or are stale
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: folder -> how the first comment line names the task.
TASKS = {
    "oad": "OAD on EK100",
    "anticipation": "Action anticipation on EK100",
    "lta": "Long-term anticipation on Ego4D LTA",
    "online_caption": "Online captioning of Ego4D narrations",
    "moment_query": "Moment query on Ego4D MQ",
    "nlq": "Natural language query on Ego4D NLQ",
    "qvhighlights": "Moment retrieval + highlight detection on QVHighlights",
    "action_segmentation": "Action segmentation on Breakfast",
}

#: family -> (``model.llm`` flow mapping, what the comment says of it); the two largest load
#: in bfloat16.
FAMILIES = {
    "gpt2": ("{type: HFCausalLM, pretrained: gpt2}", "gpt2 (decoder-only)"),
    "gpt2-medium": ("{type: HFCausalLM, pretrained: gpt2-medium}", "gpt2-medium (decoder-only)"),
    "gpt2-large": ("{type: HFCausalLM, pretrained: gpt2-large}", "gpt2-large (decoder-only)"),
    "gpt2-xl": ("{type: HFCausalLM, pretrained: gpt2-xl}", "gpt2-xl (decoder-only)"),
    "opt-125m": ("{type: HFCausalLM, pretrained: facebook/opt-125m}", "facebook/opt-125m (decoder-only)"),
    "opt-350m": ("{type: HFCausalLM, pretrained: facebook/opt-350m}", "facebook/opt-350m (decoder-only)"),
    "opt-1.3b": ("{type: HFCausalLM, pretrained: facebook/opt-1.3b}", "facebook/opt-1.3b (decoder-only)"),
    "opt-2.7b": ("{type: HFCausalLM, pretrained: facebook/opt-2.7b, dtype: bfloat16}", "facebook/opt-2.7b (decoder-only)"),
    "t5-small-decoder": ("{type: T5Decoder, pretrained: t5-small}", "t5-small (T5 decoder used alone)"),
    "t5-base-decoder": ("{type: T5Decoder, pretrained: t5-base}", "t5-base (T5 decoder used alone)"),
    "t5-large-decoder": ("{type: T5Decoder, pretrained: t5-large}", "t5-large (T5 decoder used alone)"),
    "llama-7b": ("{type: HFCausalLM, pretrained: huggyllama/llama-7b, dtype: bfloat16}", "huggyllama/llama-7b (decoder-only)"),
}

#: scheme -> (``model.tuner`` flow mapping, what the comment says of it).
SCHEMES = {
    "basic": ("{type: Frozen}", "basic tuning: the LLM is frozen; the translator and the head train."),
    "partial-first": ("{type: Partial, first_n_blocks: 1}",
                      "partial tuning: the first transformer block trains, plus translator and head."),
    "partial-last": ("{type: Partial, last_n_blocks: 1}",
                     "partial tuning: the last transformer block trains, plus translator and head."),
    "lora": ("{type: LoRA, r: 8, alpha: 16, dropout: 0.05}",
             "LoRA (r 8) on the attention projections, plus translator and head."),
    "prefix": ("{type: PrefixTuning, num_virtual_tokens: 10}",
               "prefix tuning (10 virtual key/value positions per layer), plus translator and head."),
}


def render(task: str, family: str, scheme: str) -> str:
    """The text of ``<task>/<family>_<scheme>.yaml``."""
    llm, llm_words = FAMILIES[family]
    tuner, scheme_words = SCHEMES[scheme]
    return (f"# {TASKS[task]} with {llm_words}, {scheme_words}\n"
            "_base_: _base_.yaml\n"
            f"work_dir: work_dirs/paper/{task}_{family}_{scheme}\n"
            "model:\n"
            f"  llm: {llm}\n"
            f"  tuner: {tuner}\n")


STUDY_HEADER = """\
# The VideoLLM paper's study (examples/paper/generate.py writes this file from the same tables as the
# grid under examples/paper/): the eight tasks' paper-scale bases x 12 LLMs x 5 tuning schemes (480 runs),
# plus the RQ1 controls: the pipeline without an LLM, and each LLM's architecture with random weights,
# frozen like basic tuning (104 runs). The paper's narrower comparisons are their own studies beside
# this one: paper_tuning.yaml (the tuning schemes and their sizes on OAD), paper_scaling.yaml (OAD
# against LLM size, up to OPT-6.7B) and paper_encoder.yaml (T5's encoder against its decoder).
#
#   videollm study examples/study/paper.yaml --dry-run --no-data        # the plan, offline
#   videollm study examples/study/paper.yaml --out studies/paper       # on a Slurm cluster
#   videollm report studies/paper                                      # the RQ tables and plots
#
# data_root is the folder that holds `data/` as the bases name it (features and annotations: see
# docs/paper-configs.md); the LLM checkpoints come from the hub or its cache. Set the Slurm
# partition, account and limits of your cluster below, or run on one machine with
# `--executor local --jobs N` (one GPU per run).
"""
EXECUTOR = ("executor: {type: slurm, partition: gpu, time: 720, mem_gb: 64, cpus_per_task: 8}\n"
            "gpus_per_run: 1\n")
#: the LLMs of the narrower studies beyond the grid's twelve.
OPT_6_7B = "{type: HFCausalLM, pretrained: facebook/opt-6.7b, dtype: bfloat16}"
#: sizes swept for LoRA (rank), prefix tuning and prompt tuning (virtual tokens); the paper's text names r=4
#: for prefix tuning (its best) and says LoRA was below basic tuning "at every rank tried", not which ranks.
SWEEP = (1, 2, 4, 8, 16)


def _mapping(items: dict[str, str], indent: str = "    ") -> str:
    return "".join(f"{indent}{name}: {value}\n" for name, value in items.items())


def study(root: Path = HERE) -> str:
    """The text of ``examples/study/paper.yaml``."""
    bases = "".join(f"  {task}: ../paper/{task}/_base_.yaml\n" for task in TASKS)
    return (STUDY_HEADER + "study: paper\nbase:\n" + bases + "data_root: ../..\naxes:\n  model.llm:\n"
            + _mapping({f: llm for f, (llm, _) in FAMILIES.items()})
            + "  model.tuner:\n" + _mapping({s: t for s, (t, _) in SCHEMES.items()}) + "  seed: [0]\n"
            "controls:\n"
            "  no_llm:      # the translator straight into the head (GPT-2's tokenizer for prompts and queries)\n"
            "    set: {model.llm: {type: NoLLM, hidden_size: 1024, tokenizer: gpt2, vocab_size: 50257}, model.tuner: {type: Frozen}}\n"
            "  random_llm:  # each LLM's architecture, random weights, frozen\n"
            "    set: {model.llm.random_init: true, model.tuner: {type: Frozen}}\n"
            "    vary: [model.llm, seed]\n" + EXECUTOR)


def tuning_study() -> str:
    """``examples/study/paper_tuning.yaml``: every tuning scheme and its size on EK100 OAD (RQ2)."""
    tuners = {"basic": "{type: Frozen}", "bitfit": "{type: Partial, biases: true}",
              "partial-first": SCHEMES["partial-first"][0], "partial-last": SCHEMES["partial-last"][0]}
    tuners.update({f"lora-r{r}": f"{{type: LoRA, r: {r}, alpha: {2 * r}, dropout: 0.05}}" for r in SWEEP})
    tuners.update({f"prefix-r{r}": f"{{type: PrefixTuning, num_virtual_tokens: {r}}}" for r in SWEEP})
    tuners.update({f"prompt-r{r}": f"{{type: PromptTuning, num_virtual_tokens: {r}}}" for r in SWEEP})
    return ("# The paper's tuning comparison on EK100 online action detection (RQ2): basic tuning, BitFit (every bias\n"
            "# of the LLM), partial tuning of the first or last block, and LoRA, prefix tuning and prompt tuning at\n"
            f"# sizes {', '.join(map(str, SWEEP))}. The paper's text does not say which LLM its tuning table used: OPT-1.3B here\n"
            "# (the family it prefers for online detection). Written by examples/paper/generate.py.\n"
            "study: paper-tuning\nbase: {oad: ../paper/oad/_base_.yaml}\ndata_root: ../..\naxes:\n"
            f"  model.llm:\n    opt-1.3b: {FAMILIES['opt-1.3b'][0]}\n  model.tuner:\n" + _mapping(tuners) + "  seed: [0]\n" + EXECUTOR)


def scaling_study() -> str:
    """``examples/study/paper_scaling.yaml``: EK100 OAD against LLM size with basic tuning (RQ4), up to OPT-6.7B."""
    llms = {f: llm for f, (llm, _) in FAMILIES.items()}
    llms["opt-6.7b"] = OPT_6_7B
    return ("# The paper's scaling question on EK100 online action detection (RQ4): basic tuning, every LLM of the\n"
            "# grid and OPT-6.7B, where the paper sees returns diminish. Written by examples/paper/generate.py.\n"
            "study: paper-scaling\nbase: {oad: ../paper/oad/_base_.yaml}\ndata_root: ../..\naxes:\n  model.llm:\n"
            + _mapping(llms) + f"  model.tuner:\n    basic: {SCHEMES['basic'][0]}\n  seed: [0]\n" + EXECUTOR)


def encoder_study() -> str:
    """``examples/study/paper_encoder.yaml``: T5's encoder against its decoder (and OPT) where the paper compares them."""
    llms = {f"t5-{size}-encoder": f"{{type: T5Encoder, pretrained: t5-{size}}}" for size in ("small", "base", "large")}
    llms.update({f"t5-{size}-decoder": FAMILIES[f"t5-{size}-decoder"][0] for size in ("small", "base", "large")})
    llms["opt-1.3b"] = FAMILIES["opt-1.3b"][0]
    bases = "".join(f"  {task}: ../paper/{task}/_base_.yaml\n" for task in ("action_segmentation", "qvhighlights", "nlq"))
    return ("# T5's bidirectional encoder against its decoder used alone, and OPT, on the offline tasks where the paper\n"
            "# compares them (action segmentation, highlight detection, NLQ: R1@0.3 7.4 for the encoder, 7.3 for OPT),\n"
            "# basic tuning. The encoder reads the whole video at once, so it serves offline tasks only.\n"
            "# Written by examples/paper/generate.py.\n"
            "study: paper-encoder\nbase:\n" + bases + "data_root: ../..\naxes:\n  model.llm:\n" + _mapping(llms)
            + f"  model.tuner:\n    basic: {SCHEMES['basic'][0]}\n  seed: [0]\n" + EXECUTOR)


MULTITASK_HEADER = """\
# The paper's RQ3 at paper scale: ONE LLM (OPT-1.3B, basic tuning: frozen) serving all eight tasks on
# their released features, which differ in width (EgoVLP 256-d, SlowFast+CLIP 2816-d...), so each task
# keeps its own encoder and translator from its _base_.yaml, with its head, prompt, query position,
# datasets, metric and batch size; only the LLM is shared. Every micro-batch comes from one task,
# drawn in proportion to `weight` (equal here). The paper does not say which LLM or budget its
# multitask rows used: OPT-1.3B (its preferred family) and the eight single-task budgets summed.
# Written by examples/paper/generate.py from the eight bases.
#
#   videollm-run examples/paper/multitask.yaml --dry-run --no-data --json   # the plan, offline
"""


def multitask(root: Path = HERE) -> str:
    """The text of ``examples/paper/multitask.yaml``: the eight bases as the tasks of one model."""
    import yaml

    tasks, steps, workers = [], 0, 0
    for task in TASKS:
        base = yaml.safe_load((root / task / "_base_.yaml").read_text(encoding="utf-8"))
        model, data = base["model"], base["data"]
        item = {"name": task, "encoder": model["encoder"], "translator": model["translator"], "head": model["head"],
                "prompt": model.get("prompt")}
        item.update({k: v for k, v in (("query_position", model.get("query_position")), ("batch_size", data.get("batch_size"))) if v})
        item.update({"data": {s: data[s] for s in ("train", "val", "test") if s in data}, "metric": base["metric"], "weight": 1.0})
        tasks.append(item)
        steps, workers = steps + int(base["train"]["max_steps"]), max(workers, int(data.get("num_workers", 0)))
    llm = yaml.safe_load(FAMILIES["opt-1.3b"][0])
    cfg = {"work_dir": "work_dirs/paper/multitask_opt-1.3b_basic", "seed": 0,
           "model": {"llm": llm, "tuner": yaml.safe_load(SCHEMES["basic"][0])}, "tasks": tasks,
           "data": {"batch_size": 16, "num_workers": workers},
           "train": {"max_steps": steps, "lr": 1.0e-4, "scheduler": "cosine", "warmup_steps": 500, "eval_every": 10000,
                     "log_every": 100, "primary_metric": "oad/action/mean_top5_recall"}}
    return MULTITASK_HEADER + yaml.safe_dump(cfg, sort_keys=False, default_flow_style=None, width=120)


def grid(root: Path = HERE) -> dict[Path, str]:
    """``{path: text}`` of every generated config."""
    return {root / task / f"{family}_{scheme}.yaml": render(task, family, scheme)
            for task in TASKS for family in FAMILIES for scheme in SCHEMES}


def studies(root: Path = HERE) -> dict[Path, str]:
    """``{path: text}`` of the generated study files (``examples/study/paper*.yaml``)."""
    folder = root.parent / "study"
    return {folder / "paper.yaml": study(root), folder / "paper_tuning.yaml": tuning_study(),
            folder / "paper_scaling.yaml": scaling_study(), folder / "paper_encoder.yaml": encoder_study(),
            root / "multitask.yaml": multitask(root)}


def problems(root: Path = HERE) -> list[str]:
    """What differs between the folder and :func:`grid`: missing, changed and stale configs, missing bases."""
    expected = {**grid(root), **studies(root)}
    out = [f"missing base: {root / t / '_base_.yaml'}" for t in TASKS if not (root / t / "_base_.yaml").is_file()]
    out += [f"{'missing' if not p.is_file() else 'differs'}: {p}" for p, text in expected.items()
            if not p.is_file() or p.read_text(encoding="utf-8") != text]
    out += [f"not generated (stale?): {p}" for p in sorted(root.rglob("*.yaml"))
            if p not in expected and p.name != "_base_.yaml"]
    out += [f"not generated (stale?): {p}" for p in sorted((root.parent / "study").glob("paper*.yaml")) if p not in expected]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when the folder is out of date")
    args = parser.parse_args(argv)
    if args.check:
        found = problems()
        print("\n".join(found) or f"{len(grid())} configs and {len(studies())} study files up to date")
        return 1 if found else 0
    for path, text in {**grid(), **studies()}.items():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(grid())} configs under {HERE} and {len(studies())} study files (with the multitask config)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
