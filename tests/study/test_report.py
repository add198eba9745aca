"""``videollm report`` on a study folder written by hand: the rows, the seeds folded, the RQ tables, the plots."""
from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import yaml

from videollm_core.cli.commands import main
from videollm_core.study.report import write_report

#: (llm, its parameters) x tuning -> oad/mAP per seed; the no-LLM control and a multitask run apart.
SCORES = {("tiny", 100, "basic"): [10.0, 12.0], ("tiny", 100, "lora"): [20.0, 22.0],
          ("big", 1000, "basic"): [11.0, 15.0], ("big", 1000, "lora"): [30.0, 34.0]}


def _run(out: Path, run_id: str, *, llm: str | None, size: int, tuning: str, seed: int, metrics: dict, control=None,
         tasks=("oad",), finished: bool = True) -> None:
    folder = out / "runs" / run_id
    folder.mkdir(parents=True)
    labels = {"seed": str(seed), **({"model.llm": llm} if llm else {}), **({"model.tuner": tuning} if not control else {}),
              **({"control": control} if control else {})}
    (folder / "plan.json").write_text(json.dumps({"id": run_id, "task": "oad", "tasks": list(tasks), "control": control,
                                                  "labels": labels}))
    llm_cfg = {"type": "NoLLM"} if control else {"type": "HFCausalLM", "config": {"model_type": "gpt2"}}
    (folder / "config.yaml").write_text(yaml.safe_dump({"seed": seed, "model": {"llm": llm_cfg, "tuner": {"type": "Frozen"}}}))
    if finished:
        result = {"metrics": metrics, "best": {"key": "oad/mAP", "value": metrics.get("oad/mAP")}, "seconds": 1.5,
                  "parameters": {"total": size + 50, "trainable": 50, "components": {"llm": {"total": size, "trainable": 0}}}}
        (folder / "result.json").write_text(json.dumps(result))


def _study(out: Path) -> None:
    for (llm, size, tuning), values in SCORES.items():
        for seed, value in enumerate(values):
            _run(out, f"oad__llm={llm}__tuner={tuning}__seed={seed}", llm=llm, size=size, tuning=tuning, seed=seed,
                 metrics={"oad/mAP": value, "oad/action/mean_top5_recall": value * 2})
    for seed, value in enumerate([5.0, 7.0]):
        _run(out, f"oad__control=no_llm__seed={seed}", llm=None, size=0, tuning="basic", seed=seed, control="no_llm",
             metrics={"oad/mAP": value})
    _run(out, "mt__llm=big__tuner=lora__seed=0", llm="big", size=1000, tuning="lora", seed=0, tasks=("oad", "qvhighlights"),
         metrics={"oad/mAP": 28.0, "qvhighlights/MR-full-mAP": 9.0})
    _run(out, "oad__llm=big__tuner=prefix__seed=0", llm="big", size=1000, tuning="prefix", seed=0, metrics={}, finished=False)
    (out / "runs" / "oad__llm=big__tuner=prefix__seed=0" / "failed.json").write_text(
        json.dumps({"status": 2, "error": "error: boom", "log": "/x/log.txt"}))
    _run(out, "oad__llm=big__tuner=prompt__seed=0", llm="big", size=1000, tuning="prompt", seed=0, metrics={}, finished=False)


def test_tables_fold_seeds_and_draw_the_plots(tmp_path):
    _study(tmp_path)
    written = write_report(tmp_path)
    assert {"csv", "md", "rq2_oad", "rq4"} <= set(written) and all(p.is_file() for p in written.values())
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == 11  # 8 + 2 controls + 1 multitask; the failed and the unfinished are not rows
    tiny = next(r for r in rows if r["id"] == "oad__llm=tiny__tuner=lora__seed=1")
    assert (tiny["llm"], tiny["family"], tiny["llm_parameters"], tiny["tuning"], tiny["seed"]) == ("tiny", "gpt2", "100", "lora", "1")
    assert float(tiny["oad/mAP"]) == 22.0 and float(tiny["oad/action/mean_top5_recall"]) == 44.0

    md = (tmp_path / "results.md").read_text()
    assert "11 of 13 runs finished, 1 failed, 1 not finished." in md and "`oad__llm=big__tuner=prefix__seed=0`: error: boom" in md
    std = statistics.stdev([30.0, 34.0])
    assert f"| big | 1K | 13.00 ± {statistics.stdev([11.0, 15.0]):.2f} | 32.00 ± {std:.2f} |" in md  # RQ2: LLM x tuning
    assert "| no_llm | none | 0 | 6.00 ± 1.41 |" in md  # RQ1: the control beside the frozen LLMs
    assert "| frozen LLM (basic tuning) | tiny | 100 | 11.00 ± 1.41 |" in md
    assert "| oad | big | lora | oad/mAP | 32.00 ± 2.83 | 28.00 | -4.00 |" in md  # RQ3: alone against multitask
    assert "- gpt2, lora: rises with every size step (best: big, 1K, 32.00 ± 2.83)" in md  # RQ4
    assert "| oad | ours: big, lora | oad/mAP | 32.00 ± 2.83 | this study |" in md  # RQ5
    assert "- paper: 21.4 oad/action/mean_top5_recall" in md and "this study's best: 64.00 ± 5.66 (big, lora)" in md
    assert "![rq4](rq4_scaling.png)" in md


def test_the_command_and_a_folder_that_is_no_study(tmp_path, capsys):
    _study(tmp_path / "s")
    assert main(["report", str(tmp_path / "s")]) == 0
    assert "11 finished run(s), 1 failed, 1 not finished" in capsys.readouterr().out
    assert main(["report", str(tmp_path)]) == 2
    assert "holds no study runs" in capsys.readouterr().err
