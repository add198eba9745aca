"""The CLI in-process: exit codes, messages, plugin switches, listings, evaluate."""
from __future__ import annotations

import json

import pytest

from videollm_core.cli.commands import main, run_main

TRANSLATOR_TYPO = """
model:
  encoder: {type: TinyEncoder, in_dim: 8}
  translator: {type: TinyTranslatr}
  llm: {type: TinyLLM}
  head: {type: TinyHead, num_classes: 3}
"""


def run(capsys, argv, entry=main):
    code = entry(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_plugins_json_lists_loaded_and_failed(capsys, global_plugins):
    global_plugins(kerneltest="videollm_kernel_testplug", broken="videollm_kernel_brokenplug")
    code, out, err = run(capsys, ["plugins", "--json"])
    assert code == 0
    infos = {p["name"]: p for p in json.loads(out)}
    assert infos["kerneltest"]["status"] == "loaded" and infos["kerneltest"]["builtin"] is False
    assert infos["kerneltest"]["registered"]["translators"] == ["TinyTranslator"]
    assert infos["broken"]["status"] == "failed" and "videollm_kernel_missing_dependency" in infos["broken"]["error"]
    code, out, _ = run(capsys, ["plugins"])
    assert code == 0 and "broken" in out and "failed: ModuleNotFoundError" in out


def test_other_commands_work_beside_a_broken_plugin_but_not_in_strict_mode(capsys, global_plugins, monkeypatch):
    global_plugins(kerneltest="videollm_kernel_testplug", broken="videollm_kernel_brokenplug")
    code, out, _ = run(capsys, ["list", "translators", "--json"])
    assert code == 0 and [c["name"] for c in json.loads(out)["translators"]].count("TinyTranslator") == 1
    for argv in (["list", "--strict-plugins"], ["--strict-plugins", "plugins"]):
        code, out, err = run(capsys, argv)
        assert code == 2 and "plugin 'broken' failed" in err and "Traceback" not in err
    monkeypatch.setenv("VIDEOLLM_STRICT_PLUGINS", "1")
    code, _, err = run(capsys, ["plugins"])
    assert code == 2 and "broken" in err


def test_misspelled_translator_exits_2_and_suggests(capsys, global_plugins, tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text(TRANSLATOR_TYPO)
    code, out, err = run(capsys, [str(cfg), "--dry-run"], entry=run_main)
    assert code == 2 and out == ""
    assert "model.translator.type" in err and "did you mean 'TinyTranslator'" in err and "Traceback" not in err
    code, _, err = run(capsys, ["run", str(cfg), "--dry-run", "--debug"])
    assert code == 2 and "Traceback" in err and "model.translator.type" in err


def test_blocked_plugin_makes_its_names_unknown(capsys, global_plugins, tmp_path):
    global_plugins(kerneltest="videollm_kernel_testplug", broken="videollm_kernel_brokenplug")
    code, out, _ = run(capsys, ["-p", "no:broken", "plugins", "--json", "-p", "no:kerneltest", "--strict-plugins"])
    assert code == 0 and {p["name"]: p["status"] for p in json.loads(out) if not p["builtin"]} == {"broken": "blocked", "kerneltest": "blocked"}
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TRANSLATOR_TYPO.replace("TinyTranslatr", "TinyTranslator"))
    code, out, _ = run(capsys, ["plugins", "--json", "-p", "no:kerneltest"])
    assert code == 0 and {p["name"]: p["status"] for p in json.loads(out)}["kerneltest"] == "blocked"
    code, _, err = run(capsys, [str(cfg), "--dry-run", "-p", "no:kerneltest"], entry=run_main)
    assert code == 2 and "kerneltest (blocked (-p no:kerneltest))" in err


def test_autoload_switch(capsys, global_plugins, monkeypatch):
    monkeypatch.setenv("VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD", "1")
    code, out, _ = run(capsys, ["plugins", "--json"])
    assert code == 0 and "kerneltest" not in {p["name"] for p in json.loads(out)}


def test_list_shapes(capsys, global_plugins):
    code, out, _ = run(capsys, ["list", "--json"])
    listing = json.loads(out)
    assert code == 0 and set(listing) == {"encoders", "translators", "llms", "tuners", "heads", "datasets", "metrics", "features",
                                          "executors"}
    (head,) = [c for c in listing["heads"] if c["name"] == "TinyHead"]
    assert head["plugin"] == "kerneltest" and head["doc"] == "Linear classifier over units."
    assert head["params"] == {"in_dim": {"default": "<required>", "annotation": "int"},
                              "num_classes": {"default": "<required>", "annotation": "int"},
                              "dropout": {"default": 0.0, "annotation": "float"}}
    code, out, _ = run(capsys, ["list", "heads", "kerneltest:TinyHead"])
    assert code == 0 and "dropout: float = 0.0" in out and "num_classes: int (required)" in out
    code, out, _ = run(capsys, ["list", "head", "TinyHead", "--json"])
    assert json.loads(out)["class"] == "videollm_kernel_testplug.TinyHead"
    code, _, err = run(capsys, ["list", "heds"])
    assert code == 2 and "did you mean 'heads'" in err
    code, _, err = run(capsys, ["list", "heads", "TinyHeat"])
    assert code == 2 and "'TinyHead'" in err


def test_evaluate(capsys, global_plugins, tmp_path):
    gt, pred = tmp_path / "gt.json", tmp_path / "pred.json"
    gt.write_text(json.dumps({"v1": 0, "v2": 1, "v3": 2, "v4": 2}))
    pred.write_text(json.dumps({"v1": 0, "v2": 1, "v3": 0, "v4": 1}))
    base = ["evaluate", "tiny", "--ground-truth", str(gt), "--predictions", str(pred)]
    code, out, _ = run(capsys, base + ["--json"])
    assert code == 0 and json.loads(out) == {"accuracy": 50.0}
    code, out, _ = run(capsys, base + ["--tious", "0.3,0.5", "-o", "ignore=[v4]"])
    assert code == 0 and out.split() == ["accuracy", "66.6667", "accuracy@0.3", "66.6667", "accuracy@0.5", "66.6667"]
    for extra, message in ((["--tious", "0.5,x"], "--tious"), (["-o", "topk=5"], "takes no option 'topk'")):
        code, _, err = run(capsys, base + extra)
        assert code == 2 and message in err
    code, _, err = run(capsys, ["evaluate", "tiny", "--ground-truth", str(tmp_path / "no.json"), "--predictions", str(pred)])
    assert code == 2 and "ground truth file not found" in err
    code, _, err = run(capsys, ["evaluate", "tinny", "--ground-truth", str(gt), "--predictions", str(pred)])
    assert code == 2 and "did you mean 'tiny'" in err


def test_user_errors_of_the_command_line(capsys, global_plugins, tmp_path):
    code, _, err = run(capsys, [str(tmp_path / "missing.yaml")], entry=run_main)
    assert code == 2 and "config file not found" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [\n")
    code, _, err = run(capsys, [str(bad), "--dry-run"], entry=run_main)
    assert code == 2 and "invalid YAML" in err and f"{bad}:" in err
    code, _, err = run(capsys, [str(bad), "--cfg-options", "x"], entry=run_main)
    assert code == 2
    code, _, err = run(capsys, [str(bad), "--json"], entry=run_main)
    assert code == 2 and "--json goes with --dry-run" in err
    with pytest.raises(SystemExit) as e:
        run_main([str(bad), "-p", "kerneltest"])
    assert e.value.code == 2 and "expected no:NAME" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        run_main([str(bad), "--dry-run", "--eval-only"])
    assert e.value.code == 2


def test_keyboard_interrupt_is_a_clean_exit(capsys, global_plugins, monkeypatch):
    import videollm_core.cli.listing as listing

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(listing, "plugins_report", interrupt)
    code, _, err = run(capsys, ["plugins"])
    assert code == 130 and err.strip() == "interrupted"


DRY_RUN = """
model:
  encoder: {type: TemporalUnitEncoder, in_dim: 16, unit_size: 2}
  translator: {type: LinearTranslator}
  llm: {type: HFCausalLM, config: {model_type: gpt2, n_layer: 2, n_embd: 32, n_head: 2, vocab_size: 100, n_positions: 64,
                                   bos_token_id: null, eos_token_id: null}}
  tuner: {type: LoRA, r: 2}
  head: {type: ActionSegmentationHead, num_classes: 5}
"""


def test_dry_run_counts_parameters_of_the_real_builtins(capsys, global_plugins, tmp_path):
    cfg = tmp_path / "dry.yaml"
    cfg.write_text(DRY_RUN)
    code, out, err = run(capsys, [str(cfg), "--dry-run", "--json", "--cfg-options", "model.tuner.r=4"], entry=run_main)
    assert code == 0, err
    report = json.loads(out)
    gpt2 = 100 * 32 + 64 * 32 + 2 * (4 * 32 + 32 * 96 + 96 + 32 * 32 + 32 + 32 * 128 + 128 + 128 * 32 + 32) + 2 * 32
    lora = 2 * (32 * 4 + 4 * 96)  # rank 4 on each layer's c_attn (32 -> 96)
    assert report["components"]["llm"] == {"total": gpt2 + lora, "trainable": lora}
    assert report["components"]["translator"] == {"total": 16 * 32 + 32, "trainable": 16 * 32 + 32}
    assert report["components"]["head.task"] == {"total": 32 * 5 + 5, "trainable": 32 * 5 + 5}
    assert report["total"] == gpt2 + lora + 16 * 32 + 32 + 32 * 5 + 5
    assert report["trainable"] == lora + 16 * 32 + 32 + 32 * 5 + 5
    code, out, _ = run(capsys, [str(cfg), "--dry-run", "--cfg-options", "model.tuner.r=4"], entry=run_main)
    assert code == 0 and out.splitlines()[-1].split() == ["total", f"{report['total']:,}", f"{report['trainable']:,}"]


def test_dry_run_head_args_come_from_a_dataset_only_when_needed(registries):
    from videollm_core.head_args import resolve_head_args as dry_run_head_args

    cfg = {"model": {"encoder": {"type": "TinyEncoder", "in_dim": 8}, "head": {"type": "TinyHead"}},
           "data": {"val": {"type": "TinyDataset", "ann_file": "a.json", "num_classes": 7}}, "metric": {"type": "tiny"}}
    assert dry_run_head_args(cfg, registries) == {"tiny": {"num_classes": 7}}
    cfg["model"]["head"]["num_classes"] = 2
    assert dry_run_head_args(cfg, registries) == {}


def test_run_modes_reach_the_runner(capsys, global_plugins, tmp_path, monkeypatch):
    import os
    from pathlib import Path
    from types import SimpleNamespace

    import videollm_core.engine.runner as runner_mod
    from videollm_core.engine.logs import QUIET_ENV, RunOutputs

    calls = []

    class RecordingRunner:  # records how the CLI drives the runner; the runner has its own tests
        accelerator = SimpleNamespace(is_main_process=True)

        def __init__(self, cfg, work_dir=None):
            calls.append(("init", cfg.top.work_dir, work_dir, cfg.model["tuner"]["r"]))  # the validated, typed config
            self.outputs = RunOutputs(Path(work_dir or "work_dirs/c"), predictions=Path("P"))

        def train(self, resume=None, overwrite=False):
            calls.append(("train", resume, overwrite, os.environ.get(QUIET_ENV)))

        def evaluate(self, **kwargs):
            calls.append(("evaluate", kwargs))
            return {"task/accuracy": 12.5}

        def predict(self, **kwargs):
            calls.append(("predict", kwargs))
            return {"task": tmp_path / "predictions" / "task_test.json"}

    monkeypatch.setattr(runner_mod, "Runner", RecordingRunner)
    monkeypatch.chdir(tmp_path)  # default work dirs and the relative checkpoint path below live here
    (tmp_path / "ckpt" / "step_3").mkdir(parents=True)  # --resume PATH must exist
    cfg = tmp_path / "c.yaml"
    cfg.write_text(DRY_RUN)
    monkeypatch.delenv(QUIET_ENV, raising=False)
    assert run_main([str(cfg), "--work-dir", str(tmp_path / "w"), "--resume"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"outputs: work dir {tmp_path / 'w'} | predictions P"
    assert run_main([str(cfg), "--resume", "ckpt/step_3", "--cfg-options", "model.tuner.r=8"]) == 0
    assert main(["run", str(cfg), "--overwrite", "--quiet"]) == 0
    assert QUIET_ENV not in os.environ  # --quiet holds while the command runs, then it is put back
    capsys.readouterr()
    assert run_main([str(cfg), "--eval-only", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == {"task/accuracy": 12.5}  # with --json the closing line goes to stderr
    assert err.strip() == "outputs: work dir work_dirs/c | predictions P"
    assert main(["run", str(cfg), "--predict", "--checkpoint", "last", "--allow-untrained"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"task: {tmp_path / 'predictions' / 'task_test.json'}",
                                                    "outputs: work dir work_dirs/c | predictions P"]
    assert calls == [("init", str(tmp_path / "w"), str(tmp_path / "w"), 2), ("train", "auto", False, None),
                     ("init", None, None, 8), ("train", "ckpt/step_3", False, None),
                     ("init", None, None, 2), ("train", None, True, "1"),
                     ("init", None, None, 2), ("evaluate", {"checkpoint": "best", "allow_untrained": False}),
                     ("init", None, None, 2), ("predict", {"checkpoint": "last", "allow_untrained": True})]
    code, _, err = run(capsys, [str(cfg), "--resume", "--eval-only"], entry=run_main)
    assert code == 2 and "--resume continues training" in err
    for flags in (["--overwrite", "--resume"], ["--overwrite", "--eval-only"]):
        code, _, err = run(capsys, [str(cfg), *flags], entry=run_main)
        assert code == 2 and "--overwrite starts a training run over" in err and "Traceback" not in err


def test_every_command_accepts_quiet(capsys, global_plugins):
    from videollm_core.cli.commands import build_parser, build_run_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    assert {"run", "plugins", "extract", "export", "predict"} <= set(commands)
    for name, sub in commands.items():
        assert any("--quiet" in a.option_strings for a in sub._actions), name
    assert build_run_parser().parse_args(["c.yaml", "--quiet"]).quiet
    code, out, _ = run(capsys, ["plugins", "--quiet", "--json"])
    assert code == 0 and json.loads(out)


def test_no_command_prints_help(capsys):
    code, out, _ = run(capsys, [])
    assert code == 2 and "plugins" in out and "evaluate" in out
