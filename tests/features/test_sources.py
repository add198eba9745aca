"""Every feature source reads its benchmark's exact layout and returns the same [T, D] float32 array."""
from __future__ import annotations

import numpy as np
import pytest

from feature_layouts import (rulstm_frame, write_c3d_hdf5, write_npy, write_npz, write_pt, write_rulstm_lmdb,
                             write_tsp_hdf5)
from videollm_core import ConfigError, DataError, build_feature_source, features_from_path
from videollm_core.validation import config_problems

FPS = 4.0


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(0)
    return {"v_alpha": rng.normal(size=(13, 6)).astype(np.float32), "v_beta": rng.normal(size=(7, 6)).astype(np.float32)}


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, arrays):
    root = tmp_path_factory.mktemp("layouts")
    return {
        "npy": {"type": "NpyFeatures", "dir": str(write_npy(root / "npy", arrays))},
        "npy_cf": {"type": "NpyFeatures", "dir": str(write_npy(root / "npy_cf", arrays, channels_first=True)), "channels_first": True},
        "npz": {"type": "NpzFeatures", "dir": str(write_npz(root / "npz", arrays)), "key": "features"},
        "c3d": {"type": "HDF5Features", "path": str(write_c3d_hdf5(root / "c3d.hdf5", arrays)), "key": "c3d_features"},
        "tsp": {"type": "HDF5Features", "path": str(write_tsp_hdf5(root / "tsp.h5", arrays))},
        "lmdb": {"type": "LMDBFeatures", "path": str(write_rulstm_lmdb(root / "rgb", arrays, FPS)), "dim": 6},
        "pt": {"type": "TorchFeatures", "dir": str(write_pt(root / "pt", arrays))},
    }


@pytest.mark.parametrize("name", ["npy", "npy_cf", "npz", "c3d", "tsp", "lmdb", "pt"])
def test_every_layout_reads_the_same_array(layouts, arrays, name):
    source = build_feature_source(layouts[name], fps=FPS)
    assert source.fps == FPS and source.video_ids() == ["v_alpha", "v_beta"] and source.dim == 6
    for vid, expected in arrays.items():
        got = source.read(vid)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)  # C3D's float64 round-trips float32 values exactly


def test_npy_is_memory_mapped_and_channels_first_is_a_view(layouts):
    assert isinstance(build_feature_source(layouts["npy"], fps=FPS).read("v_alpha"), np.memmap)
    assert isinstance(build_feature_source(layouts["npy_cf"], fps=FPS).read("v_alpha").base, np.memmap)


def test_rulstm_steps_read_floor_of_time_times_30(tmp_path):
    # 2 steps/s over 31 frames at 30 fps: steps at 0, 0.5, 1.0 s -> frames 1 (0 clamped), 15, 30
    import lmdb

    env = lmdb.open(str(tmp_path), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for frame in range(1, 32):
            txn.put(f"P01_01_frame_{frame:010d}.jpg".encode(), np.full(3, frame, np.float32).tobytes())
    env.close()
    source = build_feature_source({"type": "LMDBFeatures", "path": str(tmp_path), "fps": 2})
    assert source.read("P01_01")[:, 0].tolist() == [1, 15, 30]
    assert [rulstm_frame(i, 2) for i in range(3)] == [1, 15, 30]


def test_missing_lmdb_key_names_the_key(tmp_path, arrays):
    import lmdb

    path = write_rulstm_lmdb(tmp_path / "rgb", arrays, FPS)
    env = lmdb.open(str(path), map_size=1 << 28)
    with env.begin(write=True) as txn:
        txn.delete(f"v_alpha_frame_{rulstm_frame(3, FPS):010d}.jpg".encode())
    env.close()
    with pytest.raises(DataError, match=f"v_alpha_frame_{rulstm_frame(3, FPS):010d}.jpg"):
        build_feature_source({"type": "LMDBFeatures", "path": str(path)}, fps=FPS).read("v_alpha")
    with pytest.raises(DataError, match="no frame of video 'nope'"):
        build_feature_source({"type": "LMDBFeatures", "path": str(path)}, fps=FPS).read("nope")
    with pytest.raises(DataError, match="expected 5"):
        build_feature_source({"type": "LMDBFeatures", "path": str(path), "dim": 5}, fps=FPS).read("v_beta")


def test_wrong_path_key_or_entry_is_a_data_error_at_first_read(layouts, tmp_path):
    bad = [
        ({"type": "NpyFeatures", "dir": str(tmp_path / "none")}, "v_alpha", "does not exist"),
        ({**layouts["npz"], "key": "pooler_output"}, "v_alpha", "no array 'pooler_output'.*it has features"),
        ({**layouts["c3d"], "key": "resnet"}, "v_alpha", "no dataset 'resnet'.*c3d_features"),
        ({k: v for k, v in layouts["c3d"].items() if k != "key"}, "v_alpha", "is a group"),
        (layouts["tsp"], "v_gamma", "no entry for video 'v_gamma'"),
        ({"type": "HDF5Features", "path": str(tmp_path / "x.h5")}, "v_alpha", "not found"),
        ({"type": "LMDBFeatures", "path": str(tmp_path)}, "v_alpha", "no data.mdb"),
        (layouts["pt"], "../etc", "unsafe video id"),
    ]
    for cfg, vid, message in bad:
        source = build_feature_source(cfg, fps=FPS)  # opening reads nothing
        with pytest.raises(DataError, match=message):
            source.read(vid)


@pytest.mark.parametrize("l2", [False, True])
def test_concat_equals_the_concatenation(layouts, arrays, l2):
    short = {"type": "NpyFeatures", "dir": layouts["npy"]["dir"]}
    source = build_feature_source({"type": "ConcatFeatures", "sources": [layouts["npz"], layouts["c3d"]], "l2_normalize": l2}, fps=FPS)
    got = source.read("v_beta")
    a = b = arrays["v_beta"]
    if l2:  # Moment-DETR: x / (||x|| + 1e-5) per stream, then concatenated
        a = b = a / (np.linalg.norm(a, axis=-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got, np.concatenate([a, b], axis=1), rtol=1e-6, atol=1e-7)
    assert source.dim == 12 and build_feature_source(short, fps=FPS).fps == FPS


def test_concat_truncates_to_the_shortest_stream(tmp_path, arrays):
    longer = {vid: np.concatenate([a, a[:2]]) for vid, a in arrays.items()}
    cfg = {"type": "ConcatFeatures", "sources": [{"type": "NpyFeatures", "dir": str(write_npy(tmp_path / "a", longer))},
                                                 {"type": "NpzFeatures", "dir": str(write_npz(tmp_path / "b", arrays))}]}
    got = build_feature_source(cfg, fps=FPS).read("v_alpha")
    np.testing.assert_array_equal(got, np.concatenate([arrays["v_alpha"]] * 2, axis=1))


def test_ego4d_clip_is_cut_as_prepare_ego4d_dataset(layouts, arrays):
    source = build_feature_source(layouts["pt"], fps=30 / 16)
    # int(1.1 * 1.875) = 2, int(4.9 * 1.875) = 9 -> feature[2 : 10]
    np.testing.assert_array_equal(source.read_clip("clip0", "v_alpha", 1.1, 4.9), arrays["v_alpha"][2:10])
    with pytest.raises(DataError, match="past the video"):
        source.read_clip("clip1", "v_beta", 100.0, 200.0)


def test_features_from_path_picks_the_layout(layouts):
    for name, expected in (("npy", "NpyFeatures"), ("npz", "NpzFeatures"), ("tsp", "HDF5Features"), ("c3d", "HDF5Features"),
                           ("lmdb", "LMDBFeatures"), ("pt", "TorchFeatures")):
        path = layouts[name].get("dir") or layouts[name]["path"]
        source = features_from_path(path, fps=FPS)
        assert type(source).__name__ == expected and source.read("v_beta").shape == (7, 6)
    assert features_from_path(layouts["c3d"]["path"]).key == "c3d_features"  # the group's one dataset
    assert build_feature_source({k: v for k, v in layouts["lmdb"].items() if k != "dim"}, fps=FPS).dim == 6
    with pytest.raises(DataError, match="not found"):
        features_from_path("/nonexistent/features")


def test_bad_configs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="missing required argument 'fps'"):
        build_feature_source({"type": "LMDBFeatures", "path": str(tmp_path)})
    with pytest.raises(ConfigError, match="fps must be a positive number"):
        build_feature_source({"type": "VideoFrames", "dir": str(tmp_path), "fps": 0})
    with pytest.raises(ConfigError, match="two or more"):
        build_feature_source({"type": "ConcatFeatures", "sources": [{"type": "NpyFeatures", "dir": "x"}]}, fps=1)
    with pytest.raises(ConfigError, match="did you mean 'NpzFeatures'"):
        build_feature_source({"type": "NpzFeature", "dir": "x"}, fps=1)


def test_validation_checks_a_datasets_features_entry():
    cfg = {
        "model": {"encoder": {"type": "TemporalUnitEncoder", "in_dim": 8}, "translator": {"type": "LinearTranslator"},
                  "llm": {"type": "HFCausalLM", "config": {"model_type": "gpt2", "n_layer": 1, "n_embd": 16, "n_head": 2}},
                  "head": {"type": "ActionSegmentationHead"}},
        "data": {"train": {"type": "BreakfastDataset", "data_root": "x", "features": {"type": "NpyFeature", "dir": "f"}},
                 "val": {"type": "BreakfastDataset", "data_root": "x",
                         "features": {"type": "ConcatFeatures", "sources": [{"type": "NpyFeatures", "dirr": "a"}, {"type": "LMDBFeatures"}]}}},
    }
    problems = {e.where: e.render() for e in config_problems(cfg)}
    assert "did you mean 'NpyFeatures'" in problems["data.train.features.type"]
    assert "dirr" in problems["data.val.features.sources.0.dirr"] or any("dirr" in p for p in problems.values())
    assert any(w.startswith("data.val.features.sources.1") and "path" in p for w, p in problems.items())
    assert not any(w.endswith(".fps") for w in problems)  # fps comes from the dataset


def ego4d_pt_copy(dataset_cls, tmp_path, monkeypatch, seed: int):
    """A demo Ego4D dataset and the same split read from per-video ``<video_uid>.pt`` files written
    from random features ``{uid: [T, 8]}`` at the dataset's step rate (Ego4D SlowFast: 30 / 16)."""
    import json

    import torch

    monkeypatch.setenv("VIDEOLLM_CACHE", str(tmp_path / "cache"))
    demo = {"num_videos": 6, "seed": 0, "feature_dim": 8}
    ds = dataset_cls(split="val", demo=demo)
    data = json.loads(ds.annotation_file.read_text())
    rng = np.random.default_rng(seed)
    fps = ds.fps  # feature steps per second (frame rate / stride)
    videos = {}
    for video in data["videos"]:
        end = max(clip["video_end_sec"] for clip in video["clips"])
        videos[video["video_uid"]] = rng.normal(size=(int(end * fps) + 3, 8)).astype(np.float32)
        torch.save(torch.from_numpy(videos[video["video_uid"]]), tmp_path / f"{video['video_uid']}.pt")
    cut = dataset_cls(split="val", demo=demo, features={"type": "TorchFeatures", "dir": str(tmp_path)})
    return ds, cut, videos, fps


def test_nlq_cuts_clips_out_of_per_video_pt_files(tmp_path, monkeypatch):
    from videollm_plugins.tasks.nlq.dataset import Ego4DNLQDataset

    ds, cut, videos, fps = ego4d_pt_copy(Ego4DNLQDataset, tmp_path, monkeypatch, seed=0)
    assert len(cut) == len(ds)
    for i in range(len(cut)):
        uid, start, end = cut.queries[i]["clip"]
        # prepare_ego4d_dataset.py: feature[int(start * fps) : int(end * fps) + 1]
        np.testing.assert_array_equal(cut[i]["features"], videos[uid][int(start * fps): int(end * fps) + 1])


def test_ego4d_mq_cuts_clips_out_of_per_video_pt_files(tmp_path, monkeypatch):
    from videollm_plugins.tasks.moment_query.dataset import Ego4DMQDataset

    ds, cut, videos, fps = ego4d_pt_copy(Ego4DMQDataset, tmp_path, monkeypatch, seed=1)
    assert [v["video_id"] for v in cut.videos] == [v["video_id"] for v in ds.videos]
    for i, v in enumerate(cut.videos):
        uid, start, end = v["clip"]
        np.testing.assert_array_equal(cut[i]["features"], videos[uid][int(start * fps): int(end * fps) + 1])


def test_file_sources_pickle_without_their_open_handle(tmp_path):
    """DataLoader workers get a pickled source: the open HDF5 file / LMDB environment stays behind
    and each process opens its own on first read."""
    import pickle

    import h5py
    import lmdb

    from videollm_plugins.features.hdf5 import HDF5Features
    from videollm_plugins.features.rulstm import LMDBFeatures

    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["v1"] = np.arange(12, dtype=np.float64).reshape(3, 4)
    env = lmdb.open(str(tmp_path / "rgb"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        for frame in range(1, 31):
            txn.put(f"v1_frame_{frame:010d}.jpg".encode(), np.full(4, frame, np.float32).tobytes())
    env.close()
    for source in (HDF5Features(str(tmp_path / "f.h5"), fps=1.0), LMDBFeatures(str(tmp_path / "rgb"), fps=1.0)):
        first = source.read("v1")  # opens the handle in this process
        copy = pickle.loads(pickle.dumps(source))
        assert "_handle" not in copy.__dict__ and "_pid" not in copy.__dict__
        if isinstance(source, HDF5Features):  # LMDB refuses a second environment in one process (a worker is another)
            np.testing.assert_array_equal(copy.read("v1"), first)
