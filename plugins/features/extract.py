"""`videollm extract`: a folder of videos to per-video features, resumable and sharded by rank.

Step `i` of a video covers `[i / fps, (i + 1) / fps)` seconds: an image backbone embeds
the frame shown at `i / fps` (`videollm_plugins.encoders.video.read_video_frames`),
a video backbone the `num_frames` frames sampled at `num_frames * fps` inside the step.
Outputs, under `out`:

* `<stem>.npy` `[T, D]` float32 per video (`format="npy"`), or one `features.h5`
  with a dataset per stem (`format="h5"`, assembled from `.parts/<stem>.npy`);
* `manifest.json`: backbone name and revision, fps, image size, dtype, library versions
  and per video `{steps, sha256, file}` or `{error}`.

Every file is written to a temporary name and renamed, so a killed run leaves no half file;
a rerun skips every video the manifest already has (done, or failed on an unchanged file).
Under `accelerate launch` (`RANK`/`WORLD_SIZE`) rank `r` takes videos `r, r+W, ...`
and keeps its own `.manifest.rank<r>.json`; each rank merges all of them into `manifest.json`.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from pathlib import Path
from typing import Any, Callable

import numpy as np

from videollm_core.engine.logs import progress_bar
from videollm_core.errors import ConfigError, DataError
from videollm_core.paths import read_json

from ..encoders.video import read_video_frames
from .video import VIDEO_SUFFIXES

FORMATS = ("npy", "h5")
#: what must match between runs writing into the same `out` folder.
SETTINGS_KEYS = ("backbone", "fps", "image_size", "frames_per_step", "dtype", "format")


def list_videos(videos: Path) -> list[Path]:
    """Video files of a folder (sorted by name); [`DataError`][videollm_core.errors.DataError] when there is none."""
    if not videos.is_dir():
        raise DataError("video folder not found", where=str(videos), hint="--videos DIR of mp4/mkv/webm files")
    found = sorted(p for p in videos.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not found:
        raise DataError("no video file in the folder", where=str(videos), hint=f"files ending in {', '.join(VIDEO_SUFFIXES)}")
    stems = [p.stem for p in found]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise DataError(f"several files share the stem {dupes[0]!r}", where=str(videos), hint="one video per id (the output is named by the stem)")
    return found


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` then rename onto `path` (same folder, so the rename is atomic)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _save_npy(arr: np.ndarray) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, arr)
    return write


def versions() -> dict[str, str]:
    """Versions of the libraries that shape the features."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "av", "numpy", "videollm-core"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def extract_video(backbone: Any, path: Path, fps: float) -> np.ndarray:
    """`[T, D]` float32 features of one video (steps of `1 / fps` s)."""
    k = int(backbone.frames_per_step)
    frames, _, _ = read_video_frames(path, fps * k)  # [T*k (+ a partial clip), H, W, 3] uint8
    steps = frames.shape[0] // k
    if steps == 0:
        raise DataError(f"the video is shorter than one step ({1 / fps:.3g} s)", where=str(path))
    pixels = frames[: steps * k].permute(0, 3, 1, 2)
    return backbone.embed(pixels).numpy().astype(np.float32)


class Extraction:
    """One `videollm extract` run over `videos` into `out` (see the module docstring).

    Args:
        backbone: hub name or local directory of a transformers vision model.
        videos, out: folders. fps: steps per second (> 0). format: `npy` or `h5`.
        batch_size: frames (clips) per forward. device: torch device (`cuda` under `accelerate launch`:
            `cuda:<LOCAL_RANK>`). strict: failures raise at the end.
        rank, world: this process's shard (default: `RANK`/`WORLD_SIZE` or 0/1).
        progress: show a progress bar over videos (`videollm_core.engine.logs.progress_bar`: it stays
            silent anyway when stderr is not a terminal or `VIDEOLLM_QUIET` is set).
    """

    def __init__(self, backbone: str, videos: str | Path, out: str | Path, fps: float, *, format: str = "npy",
                 batch_size: int = 32, device: str = "cpu", strict: bool = False, rank: int | None = None,
                 world: int | None = None, progress: bool = True, load: Callable[..., Any] | None = None):
        if not fps or fps <= 0:
            raise ConfigError(f"--fps must be > 0 steps per second, got {fps}", where="videollm extract --fps")
        if format not in FORMATS:
            raise ConfigError(f"unknown --format {format!r}", where="videollm extract --format", hint=f"one of {', '.join(FORMATS)}")
        if batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {batch_size}", where="videollm extract --batch-size")
        self.videos, self.out = list_videos(Path(videos)), Path(out)
        self.fps, self.format, self.strict, self.progress = float(fps), format, bool(strict), bool(progress)
        self.rank = int(os.environ.get("RANK", 0)) if rank is None else int(rank)
        self.world = int(os.environ.get("WORLD_SIZE", 1)) if world is None else int(world)
        if device == "cuda" and "LOCAL_RANK" in os.environ:  # accelerate launch: one GPU per rank
            device = f"cuda:{int(os.environ['LOCAL_RANK'])}"
        if load is None:
            from .backbones import load_backbone as load
        self.backbone = load(backbone, batch_size=batch_size, device=device)
        model_cfg = getattr(self.backbone.model, "config", None)
        self.settings = {
            "backbone": {"name": str(backbone), "revision": getattr(model_cfg, "_commit_hash", None) or "local",
                         "model_type": getattr(model_cfg, "model_type", None)},
            "fps": self.fps, "image_size": int(self.backbone.image_size), "frames_per_step": int(self.backbone.frames_per_step),
            "dtype": "float32", "format": format,
        }

    # -- manifest ------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.out / "manifest.json"

    def _rank_path(self, rank: int) -> Path:
        return self.out / f".manifest.rank{rank}.json"

    def _load_entries(self) -> dict[str, dict[str, Any]]:
        """Entries recorded so far (the merged manifest and every rank's own file); settings must match."""
        entries: dict[str, dict[str, Any]] = {}
        files = [self.manifest_path] + sorted(self.out.glob(".manifest.rank*.json"))
        for path in files:
            if not path.is_file():
                continue
            data = read_json(path, "features manifest", dict, "{backbone, fps, ..., videos: {video: entry}}",
                             require={"videos": dict}, hint="delete it to start over")
            mismatch = [k for k in SETTINGS_KEYS if k != "backbone" and data.get(k) != self.settings[k]]
            backbone = data.get("backbone")
            if (backbone.get("name") if isinstance(backbone, dict) else backbone) != self.settings["backbone"]["name"]:
                mismatch.insert(0, "backbone")
            if mismatch:
                raise DataError(f"the output folder holds features made with other settings ({', '.join(mismatch)})",
                                where=str(path), hint="use another --out, or the same --backbone/--fps/--format as before")
            entries.update(data.get("videos", {}))
        return entries

    def _write_manifest(self, path: Path, entries: dict[str, dict[str, Any]]) -> None:
        data = {**self.settings, "versions": versions(), "videos": dict(sorted(entries.items()))}
        text = json.dumps(data, indent=1)
        write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # -- run -------------------------------------------------------------------------
    def _done(self, entry: dict[str, Any] | None, video: Path) -> bool:
        if not entry:
            return False
        if "error" in entry:  # failed before on the same file: not retried
            return entry.get("size") == video.stat().st_size
        return (self.out / entry["file"]).is_file()

    def _output_of(self, stem: str) -> Path:
        return self.out / (f"{stem}.npy" if self.format == "npy" else f".parts/{stem}.npy")

    def run(self) -> dict[str, Any]:
        """Extract this rank's share; returns `{"done": n, "skipped": n, "failed": {stem: error}}`.

        Raises:
            DataError: with `strict`, after the run, naming the videos that failed.
        """
        self.out.mkdir(parents=True, exist_ok=True)
        if self.format == "h5":
            (self.out / ".parts").mkdir(exist_ok=True)
        entries = self._load_entries()
        mine = self.videos[self.rank :: self.world]
        own = {v.stem: entries[v.stem] for v in mine if v.stem in entries}
        stats: dict[str, Any] = {"done": 0, "skipped": 0, "failed": {}}
        for video in progress_bar(len(mine), desc=f"extract (rank {self.rank})" if self.world > 1 else "extract", unit="video",
                                  enabled=self.progress, iterable=mine):
            if self._done(entries.get(video.stem), video):
                stats["skipped"] += 1
                continue
            target = self._output_of(video.stem)
            try:
                feats = extract_video(self.backbone, video, self.fps)
                write_atomic(target, _save_npy(feats))
                own[video.stem] = {"steps": int(feats.shape[0]), "sha256": sha256_of(target),
                                   "file": str(target.relative_to(self.out)), "video": video.name}
                stats["done"] += 1
            except DataError as e:
                own[video.stem] = {"error": e.message, "video": video.name, "size": video.stat().st_size}
                stats["failed"][video.name] = e.message
            self._write_manifest(self._rank_path(self.rank), own)
        self._merge()
        failed = {k: v["error"] for k, v in self._load_entries().items() if "error" in v}
        stats["failed"].update({self._video_name(k): msg for k, msg in failed.items()})
        if self.strict and stats["failed"]:
            first = next(iter(stats["failed"].items()))
            raise DataError(f"{len(stats['failed'])} video(s) could not be decoded, first {first[0]}: {first[1]}",
                            where=str(self.manifest_path), hint="see the 'error' entries of the manifest; re-encode those videos")
        return stats

    def _video_name(self, stem: str) -> str:
        return next((v.name for v in self.videos if v.stem == stem), stem)

    def _merge(self) -> None:
        """`manifest.json` = every rank's entries (and `features.h5` when every video has its part)."""
        entries = self._load_entries()
        self._write_manifest(self.manifest_path, entries)
        if self.format == "h5" and all(v.stem in entries for v in self.videos):
            self._write_h5({k: e for k, e in entries.items() if "error" not in e})

    def _write_h5(self, done: dict[str, dict[str, Any]]) -> None:
        import h5py

        def write(tmp: Path) -> None:
            with h5py.File(tmp, "w") as f:
                for stem, entry in sorted(done.items()):
                    f.create_dataset(stem, data=np.load(self.out / entry["file"]))

        write_atomic(self.out / "features.h5", write)


__all__ = ["Extraction", "extract_video", "list_videos", "FORMATS"]
