"""Points of parameter space: interpolating two models, random (Xavier-uniform) initialisations, directions.

A model's "parameters" here are its whole ``state_dict``: learnable parameters and floating-point buffers
(BatchNorm running statistics), so that an interpolated model is complete; integer buffers (BatchNorm's
``num_batches_tracked``) are taken from the first model. Interpolation is exact at the end points:
``(1 - 0) * a + 0 * b == a`` and ``(1 - 1) * a + 1 * b == b`` in floating point for finite values.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

from vaetk.errors import ConfigError, DataError

__all__ = ["interpolate", "random_direction", "shift", "xavier_uniform_init"]

_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def _check_compatible(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        only = sorted(set(sa) ^ set(sb))[:5]
        raise DataError(f"The two models do not have the same parameters (differing: {only}); interpolation "
                        "needs two models of the same architecture and prior.")
    for key in sa:
        if sa[key].shape != sb[key].shape:
            raise DataError(f"Parameter {key!r} has shape {tuple(sa[key].shape)} in one model and "
                            f"{tuple(sb[key].shape)} in the other.")


def interpolate(a: nn.Module, b: nn.Module, alpha: float) -> nn.Module:
    """A new model with parameters ``(1 - alpha) * P_a + alpha * P_b`` (paper eq. 26 with P_i = a, P_T = b)."""
    if not math.isfinite(alpha):
        raise ConfigError(f"alpha must be finite, got {alpha!r}.")
    _check_compatible(a, b)
    sb = b.state_dict()
    state = {}
    for key, va in a.state_dict().items():
        state[key] = (1.0 - alpha) * va + alpha * sb[key] if va.is_floating_point() else va.clone()
    out = copy.deepcopy(a)
    out.load_state_dict(state)
    return out


def xavier_uniform_init(model: nn.Module, seed: int) -> nn.Module:
    """A copy of ``model`` re-initialised as the paper's P_i: Xavier-uniform weights on all layers.

    Linear and (transposed) convolution weights are drawn Xavier-uniform from a generator seeded with ``seed``,
    their biases set to 0; BatchNorm layers get weight 1, bias 0 and fresh running statistics; any other
    parameter (the decoder's constant log-variance, a prior's learned log-variances) is set to 0, the value
    vaetk's architectures and priors start from.
    """
    out = copy.deepcopy(model)
    g = torch.Generator().manual_seed(int(seed))
    owned: set[int] = set()
    with torch.no_grad():
        for module in out.modules():
            if isinstance(module, _LAYERS):
                w = module.weight
                fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                w.copy_((torch.rand(w.shape, generator=g, dtype=torch.float64) * 2 - 1).mul_(bound).to(w.dtype))
                owned.add(id(w))
                if module.bias is not None:
                    module.bias.zero_()
                    owned.add(id(module.bias))
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()
                owned.update(id(p) for p in module.parameters(recurse=False))
        for p in out.parameters():
            if id(p) not in owned:
                p.zero_()
    return out


def random_direction(model: nn.Module, seed: int) -> dict[str, Tensor]:
    """A random direction in parameter space, filter-normalised (Li et al., 2018).

    Each learnable tensor gets Gaussian noise rescaled to that tensor's norm (per output filter for weights
    with two or more dimensions), so a step of length t moves every layer by the same relative amount and the
    curves of differently scaled layers are comparable. Buffers are not moved.
    """
    g = torch.Generator().manual_seed(int(seed))
    direction = {}
    for name, p in model.named_parameters():
        d = torch.randn(p.shape, generator=g, dtype=torch.float64)
        ref = p.detach().double()
        if p.dim() >= 2:
            dn = d.flatten(1).norm(dim=1).clamp_min(1e-30)
            pn = ref.flatten(1).norm(dim=1)
            d = d * (pn / dn).view(-1, *([1] * (p.dim() - 1)))
        else:
            d = d * (ref.norm() / d.norm().clamp_min(1e-30))
        direction[name] = d.to(p.dtype)
    return direction


def shift(model: nn.Module, direction: dict[str, Tensor], t: float) -> nn.Module:
    """A new model with parameters ``P + t * direction`` (buffers unchanged)."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        for name, p in out.named_parameters():
            if name not in direction:
                raise DataError(f"The direction has no entry for parameter {name!r}.")
            p.add_(direction[name], alpha=float(t))
    return out
