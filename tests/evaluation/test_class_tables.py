"""A val split whose class table differs from the one the head is built from (train) stops the
run at start-up: exit 2, a message naming both files and sizes, nothing trained or predicted."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from videollm_core.engine.class_tables import check_class_tables, table_of
from videollm_core.errors import DataError
from videollm_plugins.tasks.oad.dataset import EK100OADDataset

REPO = Path(__file__).resolve().parents[2]
DEMO = {"num_videos": 16, "seed": 0, "feature_dim": 32}


def config(tmp_path, val):
    cfg = yaml.safe_load((REPO / "examples" / "oad.yaml").read_text())
    cfg["work_dir"] = str(tmp_path / "work")
    cfg["data"]["val"] = val
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_val_with_another_action_table_exits_2_naming_both_files(tmp_path):
    src = EK100OADDataset(split="validation", demo=DEMO).source
    copy = tmp_path / "ek100"
    shutil.copytree(src.annotations.parents[1], copy)
    actions = copy / "rulstm_ek100" / "actions.csv"
    rows = actions.read_text().splitlines()
    actions.write_text("\n".join(rows + [f"{len(rows) - 1},0,0,extra action"]) + "\n")  # one action more
    val = {"type": "EK100OADDataset", "split": "validation", "window": 16.0,
           "annotations": str(copy / "rulstm_ek100" / "validation.csv"), "features_dir": str(copy / "features")}
    out = subprocess.run(["videollm", "run", str(config(tmp_path, val))],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 2, out.stderr[-2000:]
    message = out.stderr
    assert "class table" in message and "Traceback" not in message
    assert str(actions) in message and str(src.actions_path) in message  # both files
    n = len(rows) - 1  # actions in the training table
    assert f"num_classes={n + 2}" in message and f"num_classes={n + 1}" in message  # both sizes (+ background)
    assert not (tmp_path / "work" / "checkpoints").exists() and not (tmp_path / "work" / "predictions").exists()


class _Spec:
    name = "seg"
    head = {"type": "Head"}
    data = {"train": {"type": "D", "mapping": "train/mapping.txt"}, "val": {"type": "D", "mapping": "val/mapping.txt"}}

    def path(self, key):
        return key


class _Seg:
    def __init__(self, names):
        self.names = names

    def class_names(self):
        return self.names

    def class_table_file(self):
        return None  # the config's mapping key names the file

    def head_args(self):
        return {"num_classes": len(self.names)}


def test_same_size_but_reordered_names_is_a_mismatch_and_equal_tables_pass():
    sets = {"train": _Seg(["SIL", "pour", "stir"]), "val": _Seg(["SIL", "stir", "pour"])}
    with pytest.raises(DataError) as err:
        check_class_tables([_Spec()], lambda spec, split: sets.get(split))
    text = err.value.render()
    assert "train/mapping.txt" in text and "val/mapping.txt" in text and "class 1 is 'pour'" in text
    sets["val"] = _Seg(["SIL", "pour", "stir"])
    check_class_tables([_Spec()], lambda spec, split: sets.get(split))
    assert table_of(sets["val"]) == {"num_classes": 3, "class_names": ["SIL", "pour", "stir"]}
