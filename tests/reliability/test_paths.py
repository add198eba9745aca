"""Issue 16, part 2: paths that cannot be used exit 2 naming the path; outputs are atomic.

The tests run as root, for whom permission bits mean nothing, so "unwritable" is simulated
where the decision is made (``os.access``, the write probe, ``os.replace``), and a full disk
is an ``OSError(ENOSPC)`` raised in the middle of a write.
"""
from __future__ import annotations

import errno
import json
import os

import pytest

from mutations import ROOT
from videollm_core.engine import checkpoint as ckpt
from videollm_core import paths
from videollm_core.engine import files
from videollm_core.errors import PathError

EXAMPLE = ROOT / "examples" / "oad.yaml"
TINY = ["train.max_steps=4", "train.eval_every=0", "train.save_every=1", "train.keep_last=10", "train.log_every=1",
        "train.warmup_steps=0", "data.train.demo.num_videos=4", "data.val.demo.num_videos=4"]


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# -- the helper ------------------------------------------------------------------------
def test_check_input_kinds(tmp_path):
    (tmp_path / "f.json").write_text("{}")
    assert files.check_input(tmp_path / "f.json", "file") == tmp_path / "f.json"
    assert files.check_input(tmp_path, "folder") == tmp_path
    cases = [(tmp_path / "f.json", "folder", "is a file; a folder is expected"),
             (tmp_path, "file", "is a folder; a file is expected"),
             (tmp_path / "nope.json", "file", "annotation file not found"),
             (tmp_path / "f.json" / "x.json", "file", "is a file, not a folder")]
    for path, kind, expect in cases:
        with pytest.raises(PathError) as e:
            files.check_input(path, kind, "annotation file")
        assert expect in e.value.render() and str(path) in e.value.render()


def test_check_input_unreadable(tmp_path, monkeypatch):
    (tmp_path / "f.json").write_text("{}")
    monkeypatch.setattr(paths.os, "access", lambda *a, **k: False)
    with pytest.raises(PathError, match="not readable"):
        files.check_input(tmp_path / "f.json")


def test_check_output_dir(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    assert files.check_output_dir(tmp_path / "a" / "b", create=False) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # create=False writes nothing
    assert files.check_output_dir(tmp_path / "a" / "b").is_dir()
    assert os.listdir(tmp_path / "a" / "b") == []  # the write probe is gone
    for bad, expect in ((tmp_path / "file", "is a file; a folder is expected"),
                        (tmp_path / "file" / "sub", "is a file, not a folder")):
        for create in (True, False):
            with pytest.raises(PathError) as e:
                files.check_output_dir(bad, "work dir", create=create)
            assert expect in e.value.render() and str(bad) in e.value.render()
    monkeypatch.setattr(paths.os, "access", lambda *a, **k: False)
    with pytest.raises(PathError, match="not writable: permission denied"):
        files.check_output_dir(tmp_path / "c", create=False)


def test_write_probe_failure_is_a_path_error(tmp_path, monkeypatch):
    """What decides for root, NFS or a full disk: the probe write itself."""
    monkeypatch.setattr(files.tempfile, "mkstemp", _no_space)
    with pytest.raises(PathError) as e:
        files.check_output_dir(tmp_path / "w")
    assert "no space left on the device" in e.value.render() and "free some space" in e.value.render()


@pytest.mark.parametrize("fail_in", ["write", "replace"])
def test_atomic_write_keeps_the_old_file(tmp_path, monkeypatch, fail_in):
    target = tmp_path / "out.json"
    files.write_text_atomic(target, "old")
    if fail_in == "replace":
        monkeypatch.setattr(paths.os, "replace", _no_space)
        with pytest.raises(PathError) as e:
            files.write_text_atomic(target, "new")
    else:
        with pytest.raises(PathError) as e:
            with files.atomic_path(target) as tmp:
                tmp.write_text("half of the new")
                _no_space()
    assert str(target) in e.value.render() and "no space left" in e.value.render()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_dir_replaces_a_folder_whole(tmp_path):
    target = tmp_path / "pred"
    for version in ("1", "2"):
        with files.atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text(version)
            if version == "2":
                (tmp / "b.txt").write_text(version)
    assert sorted(p.name for p in target.iterdir()) == ["a.txt", "b.txt"] and (target / "a.txt").read_text() == "2"
    with pytest.raises(RuntimeError):
        with files.atomic_dir(target) as tmp:
            (tmp / "a.txt").write_text("3")
            raise RuntimeError("crash halfway")
    assert (target / "a.txt").read_text() == "2" and sorted(p.name for p in tmp_path.iterdir()) == ["pred"]


def test_os_error_without_a_file_keeps_its_words():
    err = paths.path_error(OSError("We couldn't connect to the hub"))
    assert err.where is None and "couldn't connect" in err.render()


# -- the CLI ---------------------------------------------------------------------------
@pytest.mark.parametrize("dry", [True, False])
@pytest.mark.parametrize("case", ["file", "under_file", "unwritable", "read_only", "proc"])
def test_unusable_work_dir_exits_2(case, dry, tmp_path, capsys, isolated_cli, monkeypatch):
    from videollm_core.cli.commands import run_main

    (tmp_path / "afile").write_text("x")
    work = {"file": tmp_path / "afile", "under_file": tmp_path / "afile" / "run", "proc": "/proc/version/x"}.get(case, tmp_path / "w")
    if case == "unwritable":
        monkeypatch.setattr(paths.os, "access", lambda p, mode, **k: False if str(p) == str(tmp_path) else True)
    elif case == "read_only":
        monkeypatch.setattr(files, "_read_only_fs", lambda p: str(p) == str(tmp_path))
    argv = [str(EXAMPLE), "--work-dir", str(work)] + (["--dry-run", "--no-data"] if dry else ["--cfg-options", *TINY])
    code = run_main(argv)
    err = capsys.readouterr().err
    expect = {"file": "work dir is a file", "under_file": "is a file, not a folder", "unwritable": "permission denied",
              "read_only": "read-only file system", "proc": "/proc/version is a file"}[case]
    assert code == 2 and expect in err and str(work) in err and "hint:" in err and "Traceback" not in err, err
    assert (tmp_path / "afile").read_text() == "x" and not (tmp_path / "w").exists()


# -- checkpoints on a full disk --------------------------------------------------------
def _fail_third_checkpoint(monkeypatch, how: str) -> None:
    """A full disk while checkpoint 3 is written: its rename, or the middle of its weights file."""
    if how == "replace":
        real = os.replace

        def replace(src, dst, *a, **k):
            if os.path.basename(str(dst)) == ckpt.step_dir_name(3):
                _no_space()
            return real(src, dst, *a, **k)

        monkeypatch.setattr(paths.os, "replace", replace)
    else:
        real_save = ckpt.save_weights

        def save_weights(state_dict, path):
            if f".tmp-{ckpt.step_dir_name(3)}" in str(path):
                with open(path, "wb") as f:
                    f.write(b"\0" * 100)  # half a file, then the disk is full
                _no_space()
            return real_save(state_dict, path)

        monkeypatch.setattr(ckpt, "save_weights", save_weights)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["replace", "write"])
def test_full_disk_during_a_checkpoint_keeps_the_previous_one_and_resume_continues(how, tmp_path, capsys, isolated_cli, monkeypatch):
    from videollm_core.cli.commands import run_main

    work = tmp_path / "work"
    argv = [str(EXAMPLE), "--work-dir", str(work), "--cfg-options", *TINY]
    with monkeypatch.context() as m:
        _fail_third_checkpoint(m, how)
        code = run_main(argv)
    err = capsys.readouterr().err
    root = work / "checkpoints"
    assert code == 2 and "Traceback" not in err, err
    assert str(root / ckpt.step_dir_name(3)) in err and "no space left on the device" in err
    assert "step_00000002 is intact: --resume auto continues from it" in err
    assert [s for s, _ in ckpt.list_checkpoints(root)] == [1, 2]
    assert not [p for p in root.iterdir() if p.name.startswith(".tmp")]  # no partial copy left
    previous = ckpt.latest_checkpoint(root)
    ckpt.verify_state_files(previous)
    assert ckpt.load_weights(previous / ckpt.WEIGHTS_FILE)  # loadable
    config_before = (work / "config.yaml").read_text()

    code = run_main([*argv, "--resume", "auto"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert [s for s, _ in ckpt.list_checkpoints(root)] == [1, 2, 3, 4]
    assert json.loads((root / ckpt.step_dir_name(4) / ckpt.STATE_FILE).read_text())["step"] == 4
    steps = [r["step"] for r in map(json.loads, (work / "metrics.jsonl").read_text().splitlines()) if r.get("split") == "train"]
    assert steps == [1, 2, 3, 4]  # steps 1-2 from the first run, 3-4 after resuming from step 2
    assert (work / "config.yaml").read_text() == config_before


@pytest.mark.parametrize("flag", [["--resume"], ["--eval-only", "--checkpoint"]])
@pytest.mark.parametrize("case", ["missing", "file"])
def test_unusable_checkpoint_path_exits_2_before_building(flag, case, tmp_path, capsys, isolated_cli, monkeypatch):
    from videollm_core.engine import runner
    from videollm_core.cli.commands import run_main

    (tmp_path / "afile").write_text("x")
    monkeypatch.setattr(runner.Runner, "__init__", lambda *a, **k: pytest.fail("built a runner for an unusable path"))
    path = tmp_path / ("nope" if case == "missing" else "afile")
    code = run_main([str(EXAMPLE), "--work-dir", str(tmp_path / "w"), *flag, str(path)])
    err = capsys.readouterr().err
    expect = "path not found" if case == "missing" else "path is a file; a folder is expected"
    assert code == 2 and f"{flag[-1]} {expect}" in err and str(path) in err and "Traceback" not in err, err
