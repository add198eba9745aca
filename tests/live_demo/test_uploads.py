"""What a session may upload: the page's folder only, size and length caps, videos and feature files that read."""
from __future__ import annotations

import numpy as np
import pytest

from videollm_core.errors import ConfigError, DataError
from videollm_plugins.live_demo.uploads import Limits, check_upload, read_feature_file, read_video_rows

pytest.importorskip("av")


@pytest.fixture
def clip(tmp_path):
    """A 3-second clip at 4 fps (12 frames, 64 x 64) inside the upload folder."""
    from videollm_plugins.demo.videos import render_frames, write_video

    feats = np.random.default_rng(0).normal(size=(12, 8)).astype(np.float32)
    return write_video(tmp_path / "uploads" / "clip.mp4", render_frames(feats), rate=4)


def test_uploads_outside_the_page_folder_or_over_the_cap_are_refused(tmp_path, clip):
    folder = tmp_path / "uploads"
    assert check_upload(clip, folder, Limits()) == clip.resolve()
    other = tmp_path / "secret.mp4"
    other.write_bytes(clip.read_bytes())
    with pytest.raises(DataError, match="reads only files uploaded to it"):
        check_upload(other, folder, Limits())
    with pytest.raises(DataError, match="reads only files uploaded to it"):
        check_upload(folder / ".." / "secret.mp4", folder, Limits())
    big = folder / "big.mp4"
    big.write_bytes(b"\0" * 1_200_000)
    with pytest.raises(DataError, match=r"1\.2 MB, over this page's limit of 1 MB"):
        check_upload(big, folder, Limits(max_upload_mb=1))
    with pytest.raises(ConfigError, match="max_video_s must be a positive number"):
        Limits(max_video_s=0)


def test_videos_are_sampled_at_the_step_rate_and_capped_in_length(clip):
    rows, timestamps, duration = read_video_rows(clip, 4.0, 32, Limits())
    assert rows.shape == (12, 3 * 32 * 32) and rows.dtype == np.float32 and 0.0 <= rows.min() and rows.max() <= 1.0
    assert timestamps.shape == (12, 2) and timestamps[1, 0] == pytest.approx(0.25) and duration == pytest.approx(3.0)
    with pytest.raises(DataError, match=r"3\.0 s long, over this page's limit of 2 s"):
        read_video_rows(clip, 4.0, 32, Limits(max_video_s=2))


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, bytes(range(256)) * 40])
def test_a_corrupt_or_non_video_file_is_one_data_error(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="cannot read the file as a video|no video stream|no video frame"):
        read_video_rows(bad, 4.0, 32, Limits())


def test_feature_files_must_be_plain_arrays_of_the_model_width(tmp_path):
    good = tmp_path / "f.npy"
    np.save(good, np.ones((8, 16), np.float32))
    feats, timestamps, seconds = read_feature_file(good, 4.0, 16, Limits())
    assert feats.shape == (8, 16) and seconds == 2.0 and timestamps[-1].tolist() == [1.75, 2.0]
    with pytest.raises(DataError, match=r"numeric array \[T, 32\]"):
        read_feature_file(good, 4.0, 32, Limits())
    pickled = tmp_path / "p.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="cannot read the file as a .npy array"):
        read_feature_file(pickled, 4.0, 16, Limits())
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((4, 16), np.nan, np.float32))
    with pytest.raises(DataError, match="NaN"):
        read_feature_file(nan, 4.0, 16, Limits())
    with pytest.raises(DataError, match=r"2\.0 s, over this page's limit of 1 s"):
        read_feature_file(good, 4.0, 16, Limits(max_video_s=1))
