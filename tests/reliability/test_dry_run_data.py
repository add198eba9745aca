"""Issue 16, part 3: ``--dry-run`` opens the data of every split (first item) before anything heavy runs.

A folder where the annotation file belongs, or a features folder without the first video's
file, exits 2 naming it; every shipped example passes with each split opened; ``--no-data``
skips the look for configs whose data lives elsewhere (the paper-scale grid).
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mutations import ROOT
from videollm_core.config import load_config
from videollm_core.validation import validate_config
from videollm_core.errors import DataError, PathError, UserError

EXAMPLE = ROOT / "examples" / "moment_query.yaml"


def _dry_run(argv: list[str], capsys) -> tuple[int, str, str]:
    from videollm_core.cli.commands import run_main

    code = run_main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def val_data(tmp_path):
    """The example's val split: its annotation file and a private copy of its features folder."""
    from videollm_core.cli.data_check import check_data
    from videollm_core.head_args import build_task_dataset
    from videollm_core.validation import task_specs

    cfg = load_config(EXAMPLE)
    validate_config(cfg)
    check_data(cfg)
    ds = build_task_dataset(cfg, task_specs(cfg)[0], "val")
    annotations = Path(ds.annotation_file)
    features = tmp_path / "features"
    shutil.copytree(annotations.parent / "features", features)
    return annotations, features, ds[0]["meta"]["video_id"]


@pytest.mark.parametrize("example", sorted(p.name for p in (ROOT / "examples").glob("*.yaml")))
def test_every_example_opens_every_split(example, capsys, isolated_cli):
    code, out, err = _dry_run([str(ROOT / "examples" / example), "--dry-run", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    cfg = load_config(ROOT / "examples" / example)
    tasks = cfg["tasks"] if "tasks" in cfg else [{"name": None, "data": cfg["data"]}]
    splits = sorted(s for t in tasks for s in ("train", "val", "test") if s in t["data"])
    assert sorted(r["split"] for r in report["data"]) == splits
    assert all(r["items"] > 0 for r in report["data"])


def test_text_report_lists_the_splits(capsys, isolated_cli):
    code, out, err = _dry_run([str(EXAMPLE), "--dry-run"], capsys)
    assert code == 0, err
    assert "data  moment_query/train" in out and "data  moment_query/val" in out and out.splitlines()[-1].startswith("total")


def test_annotation_file_that_is_a_folder_exits_2(tmp_path, capsys, isolated_cli):
    folder = tmp_path / "annotations.json"
    folder.mkdir()
    code, _, err = _dry_run([str(EXAMPLE), "--dry-run", "--cfg-options", f"data.val.annotation_file={folder}"], capsys)
    assert code == 2 and "data.val" in err and str(folder) in err and "Traceback" not in err, err


def test_features_folder_without_the_first_video_exits_2(val_data, capsys, isolated_cli):
    annotations, features, first = val_data
    (features / f"{first}.npy").unlink()
    code, _, err = _dry_run([str(EXAMPLE), "--dry-run", "--cfg-options", f"data.val.features_dir={features}"], capsys)
    assert code == 2 and f"{first}.npy" in err and "not found" in err and "Traceback" not in err, err


def test_features_path_that_is_a_file_exits_2(val_data, tmp_path, capsys, isolated_cli):
    not_a_folder = tmp_path / "features.npy"
    not_a_folder.write_bytes(b"\x93NUMPY")
    code, _, err = _dry_run([str(EXAMPLE), "--dry-run", "--cfg-options", f"data.train.features_dir={not_a_folder}"], capsys)
    assert code == 2 and "data.train" in err and str(not_a_folder) in err and "Traceback" not in err, err


def test_missing_annotation_file_of_a_paper_config_is_found_by_the_dry_run(capsys, isolated_cli):
    paper = sorted(ROOT.glob("examples/paper/**/*opt-125m*basic*.yaml"))[0]  # its data is not on this machine
    code, _, err = _dry_run([str(paper), "--dry-run"], capsys)
    assert code == 2 and "data.train" in err and "Traceback" not in err, err
    assert "not found" in err and "data/" in err, err  # the first of its data paths
    code, out, err = _dry_run([str(paper), "--dry-run", "--no-data", "--json"], capsys)
    assert code == 0 and "data" not in json.loads(out), err


def test_no_data_goes_with_dry_run_only(capsys, isolated_cli):
    code, _, err = _dry_run([str(EXAMPLE), "--no-data"], capsys)
    assert code == 2 and "--no-data goes with --dry-run" in err


class _Broken:
    """A dataset whose first item fails the way third-party readers do."""

    def __init__(self, error: Exception, items: int = 3):
        self.error, self.items = error, items

    def __len__(self):
        return self.items

    def __getitem__(self, index):
        raise self.error


@pytest.mark.parametrize("error, kind, expect", [
    (FileNotFoundError(2, "No such file or directory", "/data/v1.npy"), PathError, "/data/v1.npy: cannot read the first item"),
    (ValueError("cannot reshape array"), DataError, "cannot read the first item (ValueError: cannot reshape array)"),
    (KeyError("segment"), DataError, "KeyError"),
])
def test_first_item_errors_name_the_split(error, kind, expect, monkeypatch):
    from videollm_core import head_args
    from videollm_core.cli.data_check import check_data

    cfg = load_config(EXAMPLE)
    validate_config(cfg)
    monkeypatch.setattr(head_args, "build_task_dataset", lambda *a, **k: _Broken(error))
    with pytest.raises(kind) as e:
        check_data(cfg)
    assert expect in e.value.render() and "data.train" in e.value.render(), e.value.render()


def test_an_empty_split_is_an_error(monkeypatch):
    from videollm_core import head_args
    from videollm_core.cli.data_check import check_data

    cfg = load_config(EXAMPLE)
    validate_config(cfg)
    monkeypatch.setattr(head_args, "build_task_dataset", lambda *a, **k: _Broken(AssertionError("not read"), items=0))
    with pytest.raises(UserError, match="the split has no items"):
        check_data(cfg)
