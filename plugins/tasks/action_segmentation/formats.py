"""The MS-TCN on-disk layout of an action-segmentation dataset (Breakfast, 50Salads, GTEA).


    <root>/mapping.txt                       "<id> <name>" per line, 0-indexed (0 SIL ... 47 stir_tea)
    <root>/splits/{train,test}.split<k>.bundle   one ground-truth file name per line ("P03_cam01_P03_cereals.txt")
    <root>/groundTruth/<video>.txt           one class name per frame (15 fps for Breakfast)
    <root>/features/<video>.npy              [Df, F] float (MS-TCN stores channels first)

Predictions (MS-TCN's `results/` folder): one file per video named `<video>` (no
extension), line 1 `### Frame level recognition: ###`, line 2 the frame labels
separated by spaces.
"""
from __future__ import annotations

from pathlib import Path

from videollm_core.errors import DataError
from videollm_core.paths import read_text, read_text_lines

RECOGNITION_HEADER = "### Frame level recognition: ###"


def video_id_of(file_name: str) -> str:
    """Ground-truth file name -> video id, as MS-TCN does (`name.split('.')[0]`)."""
    return file_name.split(".")[0]


def read_mapping(path: str | Path) -> list[str]:
    """`mapping.txt` -> class names ordered by id (ids must be 0..C-1)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("mapping file not found", where=str(path), hint="give the MS-TCN mapping.txt ('<id> <name>' per line)")
    names: dict[int, str] = {}
    for row, line in enumerate(read_text_lines(path, "mapping file"), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise DataError(f"expected '<id> <name>', got {line!r}", where=f"{path}:{row}")
        names[int(parts[0])] = parts[1]
    if sorted(names) != list(range(len(names))):
        raise DataError("class ids must be 0..C-1 without gaps", where=str(path), hint="use the 0-indexed MS-TCN mapping")
    return [names[i] for i in range(len(names))]


def read_bundle(path: str | Path) -> list[str]:
    """A split bundle -> ground-truth file names, in file order (blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("split bundle not found", where=str(path), hint="expected <root>/splits/<split>.split<k>.bundle")
    return [line.strip() for line in read_text_lines(path, "split bundle") if line.strip()]


def read_frame_labels(path: str | Path) -> list[str]:
    """A ground-truth file -> one label per frame (trailing blank lines ignored)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("ground-truth file not found", where=str(path), hint="every name in the bundle needs groundTruth/<name>")
    return [line.strip() for line in read_text_lines(path, "ground-truth file") if line.strip()]


def write_frame_labels(labels: list[str], path: str | Path) -> None:
    """Write a ground-truth file (one label per line, final newline)."""
    Path(path).write_text("".join(f"{lab}\n" for lab in labels), encoding="utf-8")


def read_recognition(path: str | Path) -> list[str]:
    """An MS-TCN result file -> frame labels (line 2, space separated)."""
    lines = read_text(path, "MS-TCN result file").split("\n")
    if len(lines) < 2:
        raise DataError(
            "expected the MS-TCN result format (header line, then the frame labels)",
            where=str(path),
            hint=f"line 1 '{RECOGNITION_HEADER}', line 2 the labels separated by spaces",
        )
    return lines[1].split()


def write_recognition(labels: list[str], path: str | Path) -> None:
    """Write an MS-TCN result file for one video."""
    Path(path).write_text(f"{RECOGNITION_HEADER}\n{' '.join(labels)}", encoding="utf-8")
