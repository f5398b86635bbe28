"""Darcy assembly and velocity on the GPU (the optional ``vaetk._cuda`` module) for torch CUDA tensors.

Same formulas and layouts as :mod:`vaetk.darcy._kernels` (shared per-node code, no FMA contraction), so the
results equal the CPU kernels'. Needs a build with ``VAETK_CUDA=ON`` and a visible device; otherwise
:class:`vaetk.errors.BuildFeatureError` says how to get one.
"""

from __future__ import annotations

from typing import Any

from vaetk._build import require_cuda
from vaetk.darcy._kernels import SCHEME_CODES, pattern
from vaetk.errors import ConfigError, DataError

__all__ = ["assemble_cuda", "velocity_cuda"]


def _check(tensor: Any, name: str, shape: tuple[int, ...] | None = None) -> None:
    import torch

    if not isinstance(tensor, torch.Tensor) or not tensor.is_cuda:
        raise DataError(f"{name} must be a CUDA torch.Tensor; got {type(tensor).__name__}"
                        f"{'' if not isinstance(tensor, torch.Tensor) else ' on ' + str(tensor.device)}.")
    if tensor.dtype != torch.float64:
        raise DataError(f"{name} must be float64 (the solve needs double precision); got {tensor.dtype}.")
    if not tensor.is_contiguous():
        raise DataError(f"{name} must be contiguous; call .contiguous() first.")
    if shape is not None and tuple(tensor.shape) != shape:
        raise DataError(f"{name} must have shape {shape}; got {tuple(tensor.shape)}.")
    if shape is None and (tensor.ndim != 3 or tensor.shape[1] != tensor.shape[2] or tensor.shape[1] < 3):
        raise DataError(f"{name} must have shape (N, n, n) with n >= 3; got {tuple(tensor.shape)}.")


def _scheme(scheme: str) -> int:
    if scheme not in SCHEME_CODES:
        raise ConfigError(f"Unknown scheme {scheme!r}. Available: {', '.join(SCHEME_CODES)}.")
    return SCHEME_CODES[scheme]


def assemble_cuda(permeability: Any, scheme: str) -> Any:
    """CSR values (N, 5 n^2 - 4 n) of the operators of a (N, n, n) CUDA float64 batch (pattern: ``pattern(n)``)."""
    import torch

    mod = require_cuda()
    code = _scheme(scheme)
    _check(permeability, "permeability")
    batch, n = permeability.shape[0], permeability.shape[1]
    indptr = torch.from_numpy(pattern(n)[0].copy()).to(permeability.device)
    data = torch.empty((batch, 5 * n * n - 4 * n), dtype=torch.float64, device=permeability.device)
    stream = torch.cuda.current_stream(permeability.device).cuda_stream
    with torch.cuda.device(permeability.device):
        mod.darcy_assemble(permeability.data_ptr(), batch, n, code, indptr.data_ptr(), data.data_ptr(), stream)
    return data


def velocity_cuda(pressure: Any, permeability: Any, scheme: str) -> Any:
    """u = -K grad p, (N, 2, n, n), for (N, n, n) CUDA float64 batches (normal component zero on the boundary)."""
    import torch

    mod = require_cuda()
    code = _scheme(scheme)
    _check(permeability, "permeability")
    _check(pressure, "pressure", tuple(permeability.shape))
    batch, n = permeability.shape[0], permeability.shape[1]
    u = torch.empty((batch, 2, n, n), dtype=torch.float64, device=permeability.device)
    stream = torch.cuda.current_stream(permeability.device).cuda_stream
    with torch.cuda.device(permeability.device):
        mod.darcy_velocity(pressure.data_ptr(), permeability.data_ptr(), batch, n, code, u.data_ptr(), stream)
    return u
