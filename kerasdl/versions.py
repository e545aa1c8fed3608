"""Versions of the libraries that produced a run, for config.yaml and model cards."""

import platform
from importlib.metadata import PackageNotFoundError, version


def library_versions():
    """`{"python": ..., "tensorflow": ..., "keras": ..., "ai_edge_litert": ...}`."""
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "keras-hub", "tensorflow-text", "ai-edge-litert"):
        try:
            versions[package.replace("-", "_")] = version(package)
        except PackageNotFoundError:
            versions[package.replace("-", "_")] = "not installed"
    try:
        versions["jax"] = version("jax")  # optional: backend=jax
    except PackageNotFoundError:
        pass
    return versions
