"""The base class of the ``architectures`` plugin group.

An architecture is a Gaussian encoder q(z|x) = N(mu(x), diag(exp(logvar(x)))) and a Gaussian decoder
p(x|z) = N(mean(z), exp(logvar)) for inputs of one fixed shape (C, H, W). The decoder's log-variance is a learned
constant of shape (H, W) shared across channels (a per-channel variance diverges on boundary pixels where a
velocity component is identically zero); this base class owns that parameter, so every architecture has it and
the trainer can initialise it from the data variance.
"""

from __future__ import annotations

import abc
import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from vaetk._validation import is_int
from vaetk.config import check_param
from vaetk.errors import DataError
from vaetk.plugin import Plugin

__all__ = ["Architecture"]


class Architecture(Plugin, torch.nn.Module):
    """Base class of VAE encoder/decoder pairs.

    Parameters
    ----------
    config : Config or mapping, optional
        The plugin's parameters: a ``Config``, a table parsed strictly into one, or None (``Config()``).
    input_shape : tuple of int
        (C, H, W) of one data sample; any positive sizes.
    latent_dim : int
        Dimension of the latent space. ``input_shape`` and ``latent_dim`` are the group's construction context.

    Attributes
    ----------
    decoder_logvar : torch.nn.Parameter, shape (H, W)
        The decoder's learned log-variance, constant in z and shared across channels (initially 0).
    decoder_offset : Tensor buffer, shape (C, H, W)
        A fixed offset added to the decoder mean (initially 0; saved in the state_dict). Setting it to the data
        mean with :meth:`init_decoder_mean` lets the network learn only the deviations from the mean field,
        which matters for unnormalised data whose spread is small against its mean (the Darcy fields).
    input_offset : Tensor buffer, shape (C, H, W), and data_scale : Tensor buffer, shape (C, 1, 1)
        The fixed standardisation set by :meth:`init_standardization` (initially 0 and 1, i.e. none): the
        network sees (x - input_offset) / data_scale and its raw decoder output is multiplied by data_scale.

    Subclasses start ``encode`` with ``x = self.prepare_input(x)`` and end ``decode`` with ``return
    self.decoder_outputs(raw_mean)``; the contract checks in :mod:`vaetk.testing` verify both.
    """

    plugin_group: ClassVar[str] = "architectures"
    required_methods: ClassVar[tuple[str, ...]] = ("encode", "decode")

    def __init__(self, config: Any = None, *, input_shape: tuple[int, int, int], latent_dim: int) -> None:
        super().__init__(config)
        owner = self.owner()
        ok = isinstance(input_shape, (tuple, list)) and len(input_shape) == 3 and all(
            is_int(s, 1) for s in input_shape)
        check_param(ok, "input_shape", "a (channels, height, width) triple of positive ints", input_shape, owner)
        # An absurd shape (a damaged model.json, a wrong dataset) must be an error, not an allocation that kills
        # the process: the offsets and scales below alone hold 3 C H W + H W floats (issue 15).
        from vaetk._memory import check_memory

        c, h, w = (int(s) for s in input_shape)
        check_memory(4 * (3 * c * h * w + h * w),
                     f"{owner}: input_shape {tuple(int(s) for s in input_shape)} (channels, height, width)",
                     "Check where the shape came from: the dataset's fields, or the `input_shape` of a run's "
                     "model.json.")
        check_param(is_int(latent_dim, 1), "latent_dim", "an int in the range [1, inf)",
                    latent_dim, owner)
        self.input_shape: tuple[int, int, int] = (int(input_shape[0]), int(input_shape[1]), int(input_shape[2]))
        self.latent_dim = latent_dim
        self.decoder_logvar = torch.nn.Parameter(torch.zeros(self.input_shape[1:]))
        self.register_buffer("decoder_offset", torch.zeros(self.input_shape))
        self.register_buffer("input_offset", torch.zeros(self.input_shape))
        self.register_buffer("data_scale", torch.ones(self.input_shape[0], 1, 1))

    @abc.abstractmethod
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The encoder's mean and log-variance, each (B, latent_dim), for data x of shape (B, C, H, W)."""
        raise NotImplementedError

    @abc.abstractmethod
    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's mean (B, C, H, W) and log-variance (1, 1, H, W) for latents z of shape (B, latent_dim)."""
        raise NotImplementedError

    def init_decoder_logvar(self, data_variance: Tensor, *, min_variance: float = 1e-8) -> None:
        """Set the decoder log-variance to log(max(data_variance, min_variance)).

        Starting from the per-pixel data variance (the constant predictor's optimum, Theorem 1) instead of 0
        removes most of the long reconstruction-only phase of the authors' schedule.

        Parameters
        ----------
        data_variance : Tensor, shape (H, W)
            Per-pixel variance of the training data across samples, averaged over channels.
        min_variance : float
            Floor for pixels whose variance is (nearly) zero.
        """
        data_variance = torch.as_tensor(data_variance)
        if tuple(data_variance.shape) != tuple(self.decoder_logvar.shape):
            raise DataError(f"{self.owner()}.init_decoder_logvar: data_variance must have shape (H, W) = "
                            f"{tuple(self.decoder_logvar.shape)}, got {tuple(data_variance.shape)}.")
        if not bool(torch.isfinite(data_variance).all()) or bool((data_variance < 0).any()):
            raise DataError(f"{self.owner()}.init_decoder_logvar: data_variance must be finite and >= 0.")
        check_param(math.isfinite(min_variance) and min_variance > 0, "min_variance", "a positive number",
                    min_variance, f"{self.owner()}.init_decoder_logvar")
        with torch.no_grad():
            value = torch.log(torch.clamp(data_variance.to(torch.float64), min=min_variance))
            self.decoder_logvar.copy_(value.to(self.decoder_logvar.dtype))

    def init_decoder_mean(self, data_mean: Tensor) -> None:
        """Set the fixed decoder offset to ``data_mean`` (C, H, W), the per-pixel mean of the training data.

        The decoder then predicts data_mean + network(z): at the start of training it is close to the constant
        predictor of Theorem 1 instead of to zero, and the network only has to learn the small deviations.
        The model is the same family of distributions; only its starting point changes.
        """
        data_mean = torch.as_tensor(data_mean)
        if tuple(data_mean.shape) != tuple(self.decoder_offset.shape):
            raise DataError(f"{self.owner()}.init_decoder_mean: data_mean must have shape (C, H, W) = "
                            f"{tuple(self.decoder_offset.shape)}, got {tuple(data_mean.shape)}.")
        if not bool(torch.isfinite(data_mean).all()):
            raise DataError(f"{self.owner()}.init_decoder_mean: data_mean must be finite.")
        with torch.no_grad():
            self.decoder_offset.copy_(data_mean.to(self.decoder_offset.dtype))

    def init_standardization(self, data_mean: Tensor, channel_scale: Tensor) -> None:
        """Let the network work in standardised units: it sees (x - data_mean) / channel_scale, and its raw
        decoder output is multiplied by ``channel_scale`` (then ``decoder_offset`` is added).

        A fixed affine change of the network's input and output; the loss stays in data units. The per-channel
        scale alone would be representable by rescaling the first and last layers, but the per-pixel offset is
        not: a convolution's bias is constant over the image, and DenseVAE's convolutions have none, so the
        standardised model family is the unstandardised one plus a fixed per-pixel mean field subtracted from the
        input (and, with ``init_decoder_mean``, added to the output). What it buys is that training no longer
        depends on the data's units or on how small its spread is against its mean (the shifted-Gaussian Darcy
        fields vary by about 1% of their mean).

        Parameters
        ----------
        data_mean : Tensor, shape (C, H, W)
            Per-pixel mean of the training data.
        channel_scale : Tensor, shape (C,)
            Positive per-channel scale, e.g. the standard deviation of the data around ``data_mean``.
        """
        data_mean, channel_scale = torch.as_tensor(data_mean), torch.as_tensor(channel_scale)
        where = f"{self.owner()}.init_standardization"
        if tuple(data_mean.shape) != tuple(self.input_offset.shape):
            raise DataError(f"{where}: data_mean must have shape (C, H, W) = {tuple(self.input_offset.shape)}, "
                            f"got {tuple(data_mean.shape)}.")
        if tuple(channel_scale.shape) != (self.input_shape[0],):
            raise DataError(f"{where}: channel_scale must have shape (C,) = ({self.input_shape[0]},), got "
                            f"{tuple(channel_scale.shape)}.")
        if not bool(torch.isfinite(data_mean).all()):
            raise DataError(f"{where}: data_mean must be finite.")
        if not bool(torch.isfinite(channel_scale).all()) or bool((channel_scale <= 0).any()):
            raise DataError(f"{where}: channel_scale must be finite and > 0, got {channel_scale.tolist()}.")
        with torch.no_grad():
            self.input_offset.copy_(data_mean.to(self.input_offset.dtype))
            self.data_scale.copy_(channel_scale.to(self.data_scale.dtype).view(-1, 1, 1))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Weights saved before the standardisation buffers existed load as unstandardised models.
        state_dict.setdefault(prefix + "input_offset", torch.zeros_like(self.input_offset))
        state_dict.setdefault(prefix + "data_scale", torch.ones_like(self.data_scale))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # -- helpers for subclasses -------------------------------------------------------------------------------
    def prepare_input(self, x: Tensor) -> Tensor:
        """Check x (see :meth:`check_input`) and return it standardised: (x - input_offset) / data_scale.
        Architectures start ``encode`` with ``x = self.prepare_input(x)``."""
        self.check_input(x)
        return (x - self.input_offset.to(x.dtype)) / self.data_scale.to(x.dtype)

    def decoder_outputs(self, mean: Tensor) -> tuple[Tensor, Tensor]:
        """What ``decode`` returns, from the network's raw output (B, C, H, W): (mean * data_scale +
        decoder_offset, decoder log-variance as (1, 1, H, W)). Architectures end ``decode`` with ``return
        self.decoder_outputs(raw)`` so that the standardisation and both initialisations take effect."""
        return mean * self.data_scale.to(mean.dtype) + self.decoder_offset.to(mean.dtype), self.decoder_logvar_4d()

    def decoder_logvar_4d(self) -> Tensor:
        """The decoder log-variance as (1, 1, H, W), broadcastable to the decoder mean."""
        return self.decoder_logvar[None, None]

    def check_input(self, x: Tensor) -> None:
        """Raise DataError unless x is a floating tensor of shape (B, C, H, W) matching ``input_shape``."""
        if not isinstance(x, Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            dims = ", ".join(map(str, self.input_shape))
            raise DataError(f"{self.owner()}.encode: expected data of shape (B, {dims}) (batch, channels, height, "
                            f"width), got {shape}. The architecture was built for "
                            f"input_shape={self.input_shape}.")
        if not x.is_floating_point():
            raise DataError(f"{self.owner()}.encode: data must be floating point, got {x.dtype}.")

    def check_latent(self, z: Tensor) -> None:
        """Raise DataError unless z is a floating tensor of shape (B, latent_dim)."""
        if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[1] != self.latent_dim:
            shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
            raise DataError(f"{self.owner()}.decode: expected latents of shape (B, {self.latent_dim}), got {shape}.")
        if not z.is_floating_point():
            raise DataError(f"{self.owner()}.decode: latents must be floating point, got {z.dtype}.")

    def n_parameters(self) -> int:
        """Number of trainable scalar parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial size after a convolution (PyTorch's formula, dilation 1)."""
    return (size + 2 * padding - kernel) // stride + 1


def center_crop(x: Tensor, height: int, width: int) -> Tensor:
    """Crop the last two dimensions of x to (height, width) around the centre (x must be at least that big)."""
    top = (x.shape[-2] - height) // 2
    left = (x.shape[-1] - width) // 2
    return x[..., top:top + height, left:left + width]
