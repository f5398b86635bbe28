"""A small, fast convolutional VAE for tests and quick runs (trains a 33x33 3-channel dataset in seconds)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from torch import Tensor, nn

from vaetk.plugin import Architecture, center_crop, check_param

from ._layers import ACTIVATIONS, mlp

__all__ = ["SmallVAE"]


class SmallVAE(Architecture):
    """Strided 3x3 convolutions -> MLP -> (mu, logvar) heads; MLP -> transposed convolutions -> crop -> 3x3 conv.

    Each stage halves the height and width (rounding up); the decoder doubles them back and crops the centre to
    the input size, so any H x W works. No BatchNorm, so training and evaluation modes compute the same thing.
    """

    name: ClassVar[str] = "small"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`SmallVAE`.

        Attributes
        ----------
        channels : tuple of int
            Feature maps of the successive stride-2 convolution stages (the decoder mirrors them).
        hidden : int
            Width of the hidden MLP layer on each side.
        activation : str
            Nonlinearity used everywhere.
        """

        channels: tuple[int, ...] = (16, 32)
        hidden: int = 64
        activation: Literal["relu", "elu", "silu", "tanh"] = "silu"

        def __post_init__(self) -> None:
            owner = "architecture 'small'"
            check_param(len(self.channels) >= 1 and all(c >= 1 for c in self.channels), "channels",
                        "a non-empty list of positive ints", self.channels, owner)
            check_param(self.hidden >= 1, "hidden", "an int in the range [1, inf)", self.hidden, owner)
            check_param(self.activation in ACTIVATIONS, "activation", f"one of {sorted(ACTIVATIONS)}",
                        self.activation, owner)

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, input_shape: tuple[int, int, int],
                 latent_dim: int) -> None:
        super().__init__(config, input_shape=input_shape, latent_dim=latent_dim)
        config = self.config
        act = ACTIVATIONS[config.activation]
        c_in, height, width = self.input_shape
        chans = list(config.channels)

        enc: list[nn.Module] = []
        h, w = height, width
        for c_prev, c in zip([c_in, *chans[:-1]], chans, strict=True):
            enc += [nn.Conv2d(c_prev, c, 3, stride=2, padding=1), act()]
            h, w = math.ceil(h / 2), math.ceil(w / 2)
        self._bottom = (chans[-1], h, w)
        flat = chans[-1] * h * w
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, config.hidden), act())
        self.mu_head = nn.Linear(config.hidden, latent_dim)
        self.logvar_head = nn.Linear(config.hidden, latent_dim)

        self.decoder_mlp = mlp([latent_dim, config.hidden, flat], config.activation, final_activation=True)
        dec: list[nn.Module] = []
        for c, c_next in zip(chans[::-1], [*chans[::-1][1:], chans[0]], strict=True):
            dec += [nn.ConvTranspose2d(c, c_next, 4, stride=2, padding=1), act()]
        self.decoder_convs = nn.Sequential(*dec)
        self.output_conv = nn.Conv2d(chans[0], c_in, 3, padding=1)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.prepare_input(x)
        features = self.encoder(x)
        return self.mu_head(features), self.logvar_head(features)

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_latent(z)
        features = self.decoder_mlp(z).view(z.shape[0], *self._bottom)
        features = center_crop(self.decoder_convs(features), *self.input_shape[1:])
        mean = self.output_conv(features)
        return self.decoder_outputs(mean)
