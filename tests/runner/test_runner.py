"""The runner end to end on a tiny learnable task (see runner_testplug.py)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import videollm_core
from videollm_core.engine import checkpoint as ckpt
from videollm_core.plugins import PluginManager
from videollm_core.registry import Registries

from helpers import HERE, make_config, runner_testplug

SCRIPT = HERE / "run_train.py"
ROOT = HERE.parents[1]


class Recorder:
    """A plugin that records the runner's hook calls."""

    def __init__(self):
        self.calls: list[tuple] = []

    @videollm_core.hookimpl
    def videollm_train_start(self, runner):
        self.calls.append(("train_start", runner.step))

    @videollm_core.hookimpl
    def videollm_step_end(self, runner, step, logs):
        self.calls.append(("step_end", step))

    @videollm_core.hookimpl
    def videollm_evaluate_end(self, runner, step, metrics):
        self.calls.append(("evaluate_end", step, sorted(metrics)))

    @videollm_core.hookimpl
    def videollm_train_end(self, runner):
        self.calls.append(("train_end", runner.step))


def make_runner(cfg, recorder=None):
    from videollm_core.engine.runner import Runner

    regs = Registries()
    manager = PluginManager(regs, autoload=False)
    manager.register(runner_testplug, name="runner_testplug")
    if recorder is not None:
        manager.register(recorder, name="recorder")
    return Runner(cfg, registries=regs, plugin_manager=manager)


def weights(runner) -> dict[str, float]:
    return {k: v.double().sum().item() for k, v in runner.pipeline.trainable_state_dict().items()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run: its runner, metrics, hook calls and work dir."""
    work = tmp_path_factory.mktemp("ref")
    rec = Recorder()
    runner = make_runner(make_config(work), rec)
    metrics = runner.train()
    return runner, metrics, rec, work


def test_train_learns_and_fills_the_work_dir(reference):
    runner, metrics, rec, work = reference
    assert metrics["proto/acc"] > 80.0  # chance is ~33 %
    names = {p.name for p in work.iterdir()}
    assert {"config.yaml", "metrics.jsonl", "tensorboard", "checkpoints", "predictions", "plots"} <= names
    assert any(p.name.startswith("events.out.tfevents") for p in (work / "tensorboard").iterdir())
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["split"] == "train"] == [2, 4, 6, 8, 10, 12]
    assert [r["step"] for r in records if r["split"] == "val"] == [4, 8, 12]
    assert all({"loss", "lr", "samples_per_s"} <= set(r) for r in records if r["split"] == "train")
    assert records[-1]["proto/acc"] == metrics["proto/acc"]
    preds = json.loads((work / "predictions" / "proto_val.json").read_text())
    assert len(preds) == 6 and all(len(v) == 8 for v in preds.values())
    best = json.loads((work / "checkpoints" / "best.json").read_text())
    vals = [r["proto/acc"] for r in records if r["split"] == "val"]
    assert best["value"] == max(vals) and best["step"] == [4, 8, 12][vals.index(max(vals))]
    kept = [s for s, _ in ckpt.list_checkpoints(work / "checkpoints")]
    assert kept == sorted({8, 12} | {best["step"]})  # keep_last=2 plus the best
    step_dir = work / "checkpoints" / "step_00000012"
    assert {"trainable.safetensors", "optimizer.bin", "scheduler.bin", "state.json", "rng_state_0.pt"} <= {p.name for p in step_dir.iterdir()}
    assert not any(p.name.startswith("model") for p in step_dir.iterdir())  # no frozen weights
    saved = ckpt.load_weights(step_dir / "trainable.safetensors")
    assert set(saved) == set(runner.pipeline.trainable_state_dict())


def test_plots_are_real_pngs(reference):
    import matplotlib.image as mpimg

    work = reference[3]
    for name in ("loss.png", "metrics.png", "proto_predictions.png"):
        path = work / "plots" / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(path)
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert img[..., :3].std() > 0.01  # not a blank canvas


def test_hooks_are_called_in_order(reference):
    calls = reference[2].calls
    assert calls[0] == ("train_start", 0) and calls[-1] == ("train_end", 12)
    assert [c[1] for c in calls if c[0] == "step_end"] == list(range(1, 13))
    assert [c[1:] for c in calls if c[0] == "evaluate_end"] == [(s, ["proto/acc", "proto/loss_free"]) for s in (4, 8, 12)]


def test_eval_only_and_predict_use_the_best_checkpoint(reference):
    _, _, _, work = reference
    best = json.loads((work / "checkpoints" / "best.json").read_text())
    cfg = make_config(work)
    runner = make_runner(cfg)
    scores = runner.evaluate()
    assert scores["proto/acc"] == pytest.approx(best["value"], abs=1e-9)
    assert json.loads((work / "eval_val.json").read_text())["step"] == best["step"]
    paths = runner.predict()
    assert paths["proto"].name == "proto_val.json" and paths["proto"].is_file()  # no test split: val


def test_grad_accum_equals_a_bigger_batch_and_clips_on_sync(tmp_path):
    def config(name, batch_size, grad_accum, clip):
        cfg = make_config(tmp_path / name, max_steps=3, eval_every=0, grad_accum=grad_accum, clip_grad=clip)
        cfg["data"]["batch_size"] = batch_size
        cfg["model"]["llm"]["config"].update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
        return cfg

    big, small = make_runner(config("a", 4, 1, None)), make_runner(config("b", 2, 2, None))
    big.train()
    small.train()
    wb, ws = weights(big), weights(small)
    assert wb.keys() == ws.keys() and all(abs(wb[k] - ws[k]) < 1e-4 for k in wb), {k: wb[k] - ws[k] for k in wb}
    clipped = make_runner(config("c", 2, 2, 0.05))
    clip, after = clipped.accelerator.clip_grad_norm_, []

    def recording_clip(params, max_norm):
        params = [p for p in params if p.grad is not None]
        total = clip(params, max_norm)
        after.append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params])).item())
        return total

    clipped.accelerator.clip_grad_norm_ = recording_clip
    clipped.train()
    assert len(after) == 3  # once per optimizer step, not per micro-batch
    assert all(n <= 0.05 * (1 + 1e-5) for n in after)
    assert any(r.get("grad_norm", 0) > 0.05 for r in clipped.history if r["split"] == "train")  # pre-clip norm is logged


def test_multitask_samples_tasks_and_evaluates_each(tmp_path):
    runner = make_runner(make_config(tmp_path, tasks=2, max_steps=6, eval_every=0))
    metrics = runner.train()
    assert set(metrics) == {"t0/acc", "t0/loss_free", "t1/acc", "t1/loss_free"}
    assert {p.name for p in (tmp_path / "predictions").iterdir()} == {"t0_val.json", "t1_val.json"}
    assert {p.name for p in (tmp_path / "plots").iterdir()} >= {"t0_predictions.png", "t1_predictions.png"}
    used = set(runner._schedule.tolist())
    assert used == {0, 1}


def test_early_stopping_plugin_stops_training(tmp_path):
    cfg = make_config(tmp_path, max_steps=40, eval_every=2, early_stopping={"monitor": "proto/acc", "patience": 1, "mode": "min"})
    runner = make_runner(cfg)
    runner.train()
    vals = [r["step"] for r in runner.history if r["split"] == "val"]
    assert runner.should_stop and runner.step < 40 and vals[-1] == runner.step
    assert ckpt.latest_checkpoint(tmp_path / "checkpoints").name == ckpt.step_dir_name(runner.step)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    from videollm_core.engine.runner import TrainingDiverged

    cfg = make_config(tmp_path, max_steps=8, save_every=1, eval_every=0)
    cfg["data"]["train"]["poison"] = [5]
    with pytest.raises(TrainingDiverged) as e:
        make_runner(cfg).train()
    failed = int(e.value.where.split()[1].rstrip(","))
    kept = [s for s, _ in ckpt.list_checkpoints(tmp_path / "checkpoints")]
    assert kept and kept[-1] == failed - 1 and "train.on_nan" in e.value.hint
    assert not any(p.name.startswith(".tmp") for p in (tmp_path / "checkpoints").iterdir())
    cfg["train"]["on_nan"] = "skip"
    cfg["work_dir"] = str(tmp_path / "skip")
    runner = make_runner(cfg)
    metrics = runner.train()
    assert runner.step == 8 and metrics["proto/acc"] > 0
    assert any(r.get("skipped") for r in runner.history if r["split"] == "train") or failed % 2 == 1
    assert all(torch.isfinite(v).all() for v in runner.pipeline.trainable_state_dict().values())


# -- separate processes ----------------------------------------------------------------
def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(HERE), TOKENIZERS_PARALLELISM="false", **extra)
    return env


def _start(cfg_path, out, *extra, env=None):
    return subprocess.Popen([sys.executable, str(SCRIPT), str(cfg_path), str(out), *extra], env=env or _env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(ROOT))


def _wait_for(path: Path, proc, timeout=120):
    end = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
        assert time.time() < end, "no checkpoint appeared"
        time.sleep(0.05)


@pytest.mark.subprocess
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_run_resumes_to_the_same_metrics(reference, tmp_path, sig):
    _, ref_metrics, _, ref_work = reference
    cfg = make_config(tmp_path / "work")
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    out = tmp_path / "out.json"
    proc = _start(cfg_path, out, env=_env(VIDEOLLM_TEST_STEP_SLEEP="0.25"))
    _wait_for(tmp_path / "work" / "checkpoints" / "step_00000004", proc)
    proc.send_signal(sig)
    log = proc.communicate(timeout=120)[0].decode()
    ckpts = [s for s, _ in ckpt.list_checkpoints(tmp_path / "work" / "checkpoints")]
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL and not out.exists()
    else:  # clean exit with a checkpoint at the step it stopped
        assert proc.returncode == 0, log[-3000:]
        done = json.loads(out.read_text())
        assert done["interrupted"] == signal.SIGTERM and done["step"] < 12 and ckpts[-1] == done["step"]
    assert ckpts and ckpts[-1] < 12
    resumed = subprocess.run([sys.executable, str(SCRIPT), str(cfg_path), str(out), "--resume", "auto"], env=_env(),
                             capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["step"] == 12
    for key, value in ref_metrics.items():
        assert result["metrics"][key] == pytest.approx(value, abs=1e-6)
    ref_weights = {k: v.double().sum().item() for k, v in reference[0].pipeline.trainable_state_dict().items()}
    assert all(abs(result["weights"][k] - ref_weights[k]) < 1e-6 for k in ref_weights)
    records = [json.loads(line) for line in (tmp_path / "work" / "metrics.jsonl").read_text().splitlines()]
    ref_records = [json.loads(line) for line in (ref_work / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["split"]) for r in records] == [(r["step"], r["split"]) for r in ref_records]


@pytest.mark.subprocess
def test_two_cpu_processes_match_one(tmp_path):
    cfg = make_config(tmp_path / "work")
    cfg["model"]["llm"]["config"].update(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)  # dropout masks differ per rank
    single = make_runner({**cfg, "work_dir": str(tmp_path / "single")})
    ref_metrics = single.train()
    cfg["data"]["batch_size"] = 2  # 2 processes x 2 == 1 process x 4
    cfg_path = tmp_path / "cfg.json"
    cfg_path.write_text(json.dumps(cfg))
    out = tmp_path / "out.json"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29517", str(SCRIPT), str(cfg_path), str(out)]
    done = subprocess.run(cmd, env=_env(ACCELERATE_USE_CPU="true", OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          cwd=str(ROOT), timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    r0 = json.loads(out.read_text())
    r1 = json.loads(out.with_suffix(".rank1.json").read_text())
    assert r0["world"] == r1["world"] == 2
    assert r0["weights"] == r1["weights"]  # identical parameters on both ranks
    assert r0["metrics"] == r1["metrics"]
    ref_weights = weights(single)
    assert all(abs(r0["weights"][k] - ref_weights[k]) < 1e-4 for k in ref_weights)
    for key, value in ref_metrics.items():
        assert r0["metrics"][key] == pytest.approx(value, abs=1e-6)
    preds = json.loads((tmp_path / "work" / "predictions" / "proto_val.json").read_text())
    assert len(preds) == 6  # 6 videos over 2 ranks: the padded duplicate is dropped


def test_adalora_rank_allocation_runs_every_optimizer_step(tmp_path, monkeypatch):
    """AdaLoRA's budget schedule needs update_and_allocate after each optimizer step, gradients present."""
    from peft.tuners.adalora import AdaLoraModel

    calls = []
    original = AdaLoraModel.update_and_allocate

    def spy(self, global_step):
        grads = [p.grad is not None for n, p in self.named_parameters() if "lora_" in n and p.requires_grad]
        calls.append((global_step, all(grads) and bool(grads)))
        return original(self, global_step)

    monkeypatch.setattr(AdaLoraModel, "update_and_allocate", spy)
    cfg = make_config(tmp_path, max_steps=4, eval_every=0, save_every=0, grad_accum=2)
    cfg["model"]["tuner"] = {"type": "AdaLoRA", "init_r": 4, "target_r": 2, "total_step": 4, "tinit": 1, "tfinal": 1}
    make_runner(cfg).train()
    assert [s for s, _ in calls] == [0, 1, 2, 3]
    assert all(has_grads for _, has_grads in calls)


def test_trackers_are_accelerates_and_the_jsonl_stays(tmp_path):
    """`train.log_with`: TensorBoard by default through accelerate's tracker (its scalars are the
    metrics.jsonl records', as SPLIT/KEY); `none` writes the JSONL record only; a name accelerate
    does not know is a config error naming the key."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runner = make_runner(make_config(tmp_path / "tb", max_steps=4, eval_every=4, save_every=0))
    runner.train()
    events = EventAccumulator(str(tmp_path / "tb" / "tensorboard")).Reload()
    assert {"train/loss", "train/lr", "val/proto/acc"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4]
    runner = make_runner(make_config(tmp_path / "none", max_steps=2, eval_every=0, save_every=0, log_with="none"))
    runner.train()
    assert not (tmp_path / "none" / "tensorboard").exists() and (tmp_path / "none" / "metrics.jsonl").is_file()
    with pytest.raises(videollm_core.ConfigError, match="log_with") as err:
        make_runner(make_config(tmp_path / "bad", log_with=["tensorboard", "tensorbord"]))
    assert "tensorboard, wandb, mlflow" in str(err.value)
