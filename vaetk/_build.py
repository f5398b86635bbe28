"""What this build of vaetk contains: the compiled CPU core, OpenMP, and the optional CUDA module."""

from __future__ import annotations

import functools
import importlib
import platform
from types import ModuleType
from typing import Any

from vaetk.errors import BuildFeatureError

__all__ = ["build_info", "core", "cuda_module", "has_cuda"]


@functools.cache
def core() -> ModuleType:
    """The compiled module ``vaetk._core``, with a clear error when it is missing."""
    try:
        return importlib.import_module("vaetk._core")
    except ImportError as exc:
        raise BuildFeatureError(
            "vaetk's compiled core (vaetk._core) could not be imported: "
            f"{type(exc).__name__}: {exc}. If you run from a source checkout, install it first with "
            "`pip install torch==2.13.0 && pip install -e .` so the C++ extension is built."
        ) from exc


@functools.cache
def cuda_module() -> ModuleType | None:
    """The optional compiled module ``vaetk._cuda``, or None when this build has no CUDA support."""
    try:
        return importlib.import_module("vaetk._cuda")
    except ImportError:
        return None


def has_cuda() -> bool:
    """True when the CUDA module was compiled and at least one CUDA device is visible."""
    mod = cuda_module()
    return mod is not None and mod.device_count() > 0


def require_cuda() -> ModuleType:
    """Return ``vaetk._cuda`` or raise BuildFeatureError explaining how to build it."""
    mod = cuda_module()
    if mod is None:
        raise BuildFeatureError(
            "vaetk was built without CUDA support (build_info()['cuda'] is False). Rebuild on a machine with "
            "nvcc: `pip install . -Ccmake.define.VAETK_CUDA=ON` (or set VAETK_CUDA=ON in the environment)."
        )
    if mod.device_count() == 0:
        raise BuildFeatureError("vaetk._cuda is built but no CUDA device is visible to this process.")
    return mod


def build_info() -> dict[str, Any]:
    """Compile-time and run-time facts: version, OpenMP, CUDA, compiler, platform.

    Returns
    -------
    dict
        Keys ``version``, ``openmp``, ``build_type``, ``compiler``, ``cuda`` (module compiled),
        ``cuda_devices`` (visible devices, 0 without the module), ``cuda_architectures``, ``platform``.
    """
    info: dict[str, Any] = dict(core().build_info())
    mod = cuda_module()
    info["cuda"] = mod is not None
    info["cuda_devices"] = mod.device_count() if mod is not None else 0
    info["cuda_architectures"] = mod.build_info()["cuda_architectures"] if mod is not None else None
    info["platform"] = f"{platform.system()} {platform.machine()}, Python {platform.python_version()}"
    return info
