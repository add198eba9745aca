"""`TorchFeatures`: one `<video_uid>.pt` tensor per video (Ego4D episodic-memory features).

Layout of the Ego4D SlowFast/Omnivore video features: `<video_uid>.pt`, a `[T, Df]`
tensor saved by `torch.save`, one step per 16 frames at 30 fps (1.875 steps per second).
Clips are cut from their video as `EGO4D/episodic-memory`
`NLQ/VSLNet/utils/prepare_ego4d_dataset.py` does: `int(sec * 30 / 16)` for both ends
(Python `int` truncates; the `math.floor`/`math.ceil` around it then change nothing)
and the slice `feature[start : end + 1]`.
"""
from __future__ import annotations

import numpy as np
import torch

from videollm_core.errors import ConfigError, DataError

from .arrays import as_float32, checked
from .files import FolderSource


class TorchFeatures(FolderSource):
    """`<dir>/<video_uid>.pt`: a `[T, Df]` float tensor per video.

    Args:
        dir: the folder.
        fps: feature steps per second (Ego4D: 30 / 16 = 1.875).

    Files load with `torch.load(weights_only=True)` (tensors only, never pickled code).
    """

    suffix = ".pt"

    def read(self, video_id: str) -> np.ndarray:
        path = self.path_of(video_id)
        try:
            tensor = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated file, pickled objects refused by weights_only
            raise DataError(f"cannot read the feature file ({type(e).__name__}: {e})", where=str(path),
                            hint="save a plain tensor with torch.save(features, path)") from e
        if not isinstance(tensor, torch.Tensor):
            raise DataError(f"expected a tensor, got {type(tensor).__name__}", where=str(path), hint="save a plain [T, Df] tensor")
        arr = tensor.detach().float().numpy() if tensor.is_floating_point() else tensor.numpy()
        return as_float32(checked(arr, str(path), check_values=False))

    def read_clip(self, clip_id: str, video_id: str, start_sec: float, end_sec: float) -> np.ndarray:
        """Steps `int(start_sec * fps) .. int(end_sec * fps)` (both included) of `video_id`."""
        feats = self.read(video_id)
        if self.fps is None:
            raise ConfigError("cutting clips out of per-video features needs fps", where="TorchFeatures.fps", hint="Ego4D: fps: 1.875 (30 / 16)")
        first, last = clip_steps(start_sec, end_sec, self.fps)
        clip = feats[first : last + 1]
        if clip.shape[0] == 0:
            raise DataError(f"clip {clip_id!r} [{start_sec}, {end_sec}] s is past the video's {feats.shape[0]} steps",
                            where=str(self.path_of(video_id)), hint="check video_start_sec/video_end_sec against the features")
        return clip


def clip_steps(start_sec: float, end_sec: float, fps: float) -> tuple[int, int]:
    """First and last step (inclusive) of a clip, as Ego4D's `get_nearest_frame`: `int(sec * fps)`."""
    return int(start_sec * fps), int(end_sec * fps)


__all__ = ["TorchFeatures", "clip_steps"]
