"""The Python packages ``bench/gpu.sh`` needs beyond a CUDA machine's PyTorch stack, as wheels.

A GPU machine without a package index (such as the lent H100/H200 machines: Python 3.12,
torch, transformers, accelerate, peft, numpy, pyyaml, pluggy, safetensors, tensorboard... but
no mmengine, pydantic, PyAV, editdistance or DeepSpeed) gets them from a folder of wheels that
travels with the repository (``.whl/``, git-ignored)::

    python bench/gpu/wheels.py fetch .whl      # here, with PyPI: CPython 3.12 manylinux wheels into .whl
    python bench/gpu/wheels.py missing         # there: the import names this Python lacks, one a line

``fetch`` pins each distribution to the version installed here when there is one (a consistent
set: pydantic and pydantic-core must match), downloads binary wheels with ``--no-deps`` (every
dependency the machine lacks is listed in :data:`PACKAGES`), and builds DeepSpeed's wheel, which
PyPI has only as a source distribution (``pip wheel --no-build-isolation``: its build imports
torch; CUDA ops are compiled at run time, not here). ``bench/gpu.sh`` installs the folder with
``pip install --no-index --no-deps --target DIR``.
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import subprocess
import sys
from pathlib import Path

#: import name -> the distributions that make it importable (itself and the dependencies the machine lacks).
PACKAGES = {
    "mmengine": ["mmengine", "addict", "termcolor", "yapf", "platformdirs"],  # the registry (opencv: the image's headless one)
    "pydantic": ["pydantic", "pydantic-core", "annotated-types", "typing-inspection"],  # videollm.json of model folders
    "av": ["av"],  # PyAV: video decoding of `videollm extract`
    "editdistance": ["editdistance"],  # action segmentation and LTA metrics (their plugins fail to load without it)
    "deepspeed": ["deepspeed", "hjson"],  # the DeepSpeed launch only
}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]


def missing() -> list[str]:
    """Import names of :data:`PACKAGES` that this Python cannot import."""
    return [name for name in PACKAGES if importlib.util.find_spec(name) is None]


def pinned(dist: str) -> str:
    """``dist==VERSION`` when ``dist`` is installed here, else ``dist`` (the newest)."""
    try:
        return f"{dist}=={md.version(dist)}"
    except md.PackageNotFoundError:
        return dist


def fetch(folder: Path, python: str = "3.12") -> int:
    """Download (build, for DeepSpeed) the wheels of :data:`PACKAGES` into ``folder``; pip's exit code."""
    folder.mkdir(parents=True, exist_ok=True)
    binary = [pinned(d) for names in PACKAGES.values() for d in names if d != "deepspeed"]
    platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
    pip = [sys.executable, "-m", "pip"]
    code = subprocess.call([*pip, "download", "--no-deps", "--only-binary=:all:", "--python-version", python,
                            "--implementation", "cp", *platforms, "-d", str(folder), *binary])
    if code == 0:
        code = subprocess.call([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(folder), pinned("deepspeed")])
    return code


def main(argv: list[str]) -> int:
    if argv[:1] == ["missing"] and len(argv) == 1:
        print("\n".join(missing()))
        return 0
    if argv[:1] == ["fetch"] and len(argv) == 2:
        return fetch(Path(argv[1]))
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
