"""Package layout: ``videollm_core/`` is the kernel; the folder ``plugins/`` installs as ``videollm_plugins``.

Everything else (metadata, dependencies, scripts) is in pyproject.toml.
"""
from setuptools import find_packages, setup

PLUGIN_PACKAGES = ["videollm_plugins"] + [f"videollm_plugins.{p}" for p in find_packages("plugins")]

setup(
    packages=find_packages(include=["videollm_core", "videollm_core.*"]) + PLUGIN_PACKAGES,
    package_dir={"videollm_plugins": "plugins"},
    package_data={"videollm_plugins": ["**/*.json", "**/*.yaml", "**/*.txt"], "videollm_core": ["py.typed", "cli/plugin_template/**/*.tmpl"],
                  "videollm_core.study": ["paper_numbers.yaml"]},
    include_package_data=False,
)
