"""The CUDA Darcy kernels: a clear error without the CUDA module; on a CUDA build with a device (marker `cuda`,
run with `-m cuda`), equality with the CPU kernels."""

from __future__ import annotations

import numpy as np
import pytest

from vaetk import _build
from vaetk.errors import BuildFeatureError


def test_without_the_cuda_module_the_error_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaetk.darcy._cuda import assemble_cuda, velocity_cuda

    monkeypatch.setattr(_build, "cuda_module", lambda: None)
    with pytest.raises(BuildFeatureError, match="VAETK_CUDA=ON"):
        assemble_cuda(None, "conservative")
    with pytest.raises(BuildFeatureError, match="VAETK_CUDA=ON"):
        velocity_cuda(None, None, "paper")


@pytest.mark.cuda
@pytest.mark.parametrize("scheme", ["paper", "conservative"])
def test_cuda_kernels_equal_the_cpu_kernels(scheme: str, rng: np.random.Generator) -> None:
    import torch

    from vaetk.darcy import _kernels
    from vaetk.darcy._cuda import assemble_cuda, velocity_cuda

    K = np.exp(rng.standard_normal((3, 19, 19)))
    p = rng.standard_normal((3, 19, 19))
    Kd, pd = torch.from_numpy(K).cuda(), torch.from_numpy(p).cuda()
    np.testing.assert_array_equal(assemble_cuda(Kd, scheme).cpu().numpy(), _kernels.assemble(K, scheme).data)
    np.testing.assert_array_equal(velocity_cuda(pd, Kd, scheme).cpu().numpy(), _kernels.velocity(p, K, scheme))
