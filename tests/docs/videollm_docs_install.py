"""Installing plugin packages into a private folder for the documentation tests."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def install_into(package: Path, target: Path) -> None:
    """``pip install`` ``package`` into the folder ``target`` (seen only by processes given it on PYTHONPATH).

    A real install (wheel built by setuptools, ``*.dist-info`` with the entry points), kept out
    of the shared virtualenv so that other processes never see the plugin.
    """
    if importlib.util.find_spec("setuptools") is None:
        pytest.fail("setuptools is needed to build plugin packages without network (pip --no-build-isolation)")
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                           "--target", str(target), str(package)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def env_with(target: Path, cache: Path) -> dict[str, str]:
    """The environment of a subprocess that sees the plugins installed in ``target``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["VIDEOLLM_CACHE"] = str(cache)
    env.pop("VIDEOLLM_DISABLE_PLUGIN_AUTOLOAD", None)
    env.pop("VIDEOLLM_STRICT_PLUGINS", None)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 540) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout)


def bin_path(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def install_and_list(package: Path, tmp_path: Path, plugin: str) -> tuple[dict[str, str], dict]:
    """Install ``package`` into ``tmp_path/site-packages``; return the subprocess environment and
    the ``videollm plugins --json`` entry of ``plugin``."""
    target = tmp_path / "site-packages"
    install_into(package, target)
    env = env_with(target, tmp_path / "cache")
    listing = run([bin_path("videollm"), "plugins", "--json"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    return env, {p["name"]: p for p in json.loads(listing.stdout)}[plugin]
