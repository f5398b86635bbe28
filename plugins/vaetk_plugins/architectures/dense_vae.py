"""DenseVAE: the DenseED-style convolutional VAE of the paper (adapted from Zhu & Zabaras 2018).

Encoder (two independent copies, one for the mean and one for the log-variance, as in the paper)::

    conv 7x7 stride 2 -> [dense block -> transition down (1x1 conv, 3x3 conv stride 2)] x len(encoder_blocks)
    -> flatten -> MLP -> latent_dim

Decoder::

    MLP -> reshape to the encoder's last feature maps -> [dense block -> transition up (1x1 conv, 3x3
    transposed conv stride 2)] x (len(encoder_blocks) + 1) -> centre crop to H x W -> 5x5 conv -> C channels

Every convolution is bias-free and preceded by BatchNorm + ReLU (DenseNet's pre-activation order). Spatial sizes
are computed from the input shape, so any H x W works: each stride-2 step rounds up, the decoder doubles back
and crops the centre. The decoder log-variance is the learned (H, W) constant of the base class.

Presets. ``paper`` has about 0.86M parameters at 65x65 with 2 latents (the paper says "about 800k"); it differs
from ``authors_default`` (about 8.0M, the default of the authors' repository) only in the number of feature
maps before the flatten (3 against 35), which sets the size of the three MLPs. Only the two parameter counts
and that difference are known (docs/design.md, section 8.7), not the authors' full layer list; the remaining
sizes (48 initial features, growth rate 16, blocks of 4 layers, one hidden layer of 256) are DenseED-like
choices that reproduce both counts. Any size given in the config overrides the preset's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Literal

import torch
from torch import Tensor, nn

from vaetk.plugin import Architecture, center_crop, check_param, conv_output_size

from ._layers import mlp

__all__ = ["PRESETS", "DenseVAE", "DenseVAESizes"]


@dataclass(frozen=True, kw_only=True)
class DenseVAESizes:
    """The resolved sizes of a :class:`DenseVAE` (a preset with the config's overrides applied)."""

    init_features: int
    growth_rate: int
    encoder_blocks: tuple[int, ...]
    decoder_blocks: tuple[int, ...]
    bottleneck_features: int
    hidden: tuple[int, ...]
    compression: float


_PAPER = DenseVAESizes(init_features=48, growth_rate=16, encoder_blocks=(4,), decoder_blocks=(4, 4),
                       bottleneck_features=3, hidden=(256,), compression=0.5)
OWNER = "architecture 'dense_vae'"
PRESETS: dict[str, DenseVAESizes] = {
    "paper": _PAPER,
    "authors_default": replace(_PAPER, bottleneck_features=35),
}


def _resolve_sizes(config: DenseVAE.Config) -> DenseVAESizes:
    """The preset's sizes with the config's overrides, validated (ConfigError naming the bad parameter)."""
    check_param(config.preset in PRESETS, "preset", f"one of {sorted(PRESETS)}", config.preset, OWNER)
    base = PRESETS[config.preset]
    overrides = {f.name: getattr(config, f.name) for f in fields(DenseVAESizes)
                 if getattr(config, f.name) is not None}
    sizes = replace(base, **overrides)
    for key in ("init_features", "growth_rate", "bottleneck_features"):
        value = getattr(sizes, key)
        check_param(value >= 1, key, "an int in the range [1, inf)", value, OWNER)
    for key in ("encoder_blocks", "decoder_blocks", "hidden"):
        value = getattr(sizes, key)
        check_param(all(v >= 1 for v in value), key, "a list of positive ints", value, OWNER)
    check_param(len(sizes.encoder_blocks) >= 1, "encoder_blocks", "a non-empty list of positive ints",
                sizes.encoder_blocks, OWNER)
    check_param(len(sizes.decoder_blocks) == len(sizes.encoder_blocks) + 1, "decoder_blocks",
                f"a list of len(encoder_blocks) + 1 = {len(sizes.encoder_blocks) + 1} positive ints (one "
                f"per stride-2 step of the encoder)", sizes.decoder_blocks, OWNER)
    check_param(0 < sizes.compression <= 1, "compression", "a number in (0, 1]", sizes.compression, OWNER)
    return sizes


def _bn_relu_conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0) -> list[nn.Module]:
    return [nn.BatchNorm2d(c_in), nn.ReLU(inplace=True),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False)]


class _DenseBlock(nn.Module):
    """``n_layers`` BN-ReLU-conv3x3 layers, each fed the concatenation of the block input and all earlier
    outputs; the block returns that concatenation (c_in + n_layers * growth channels)."""

    def __init__(self, c_in: int, n_layers: int, growth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(*_bn_relu_conv(c_in + i * growth, growth, 3, padding=1)) for i in range(n_layers))
        self.out_features = c_in + n_layers * growth

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], dim=1)
        return x


def _transition_down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(*_bn_relu_conv(c_in, c_out, 1), *_bn_relu_conv(c_out, c_out, 3, stride=2, padding=1))


def _transition_up(c_in: int, c_out: int) -> nn.Sequential:
    # kernel 3, stride 2, padding 1, output_padding 1 maps n -> 2n exactly.
    return nn.Sequential(*_bn_relu_conv(c_in, c_out, 1), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
                         nn.ConvTranspose2d(c_out, c_out, 3, stride=2, padding=1, output_padding=1, bias=False))


class _Encoder(nn.Module):
    def __init__(self, c_in: int, sizes: DenseVAESizes, flat: int, latent_dim: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(c_in, sizes.init_features, 7, stride=2, padding=3, bias=False)]
        features = sizes.init_features
        for i, n_layers in enumerate(sizes.encoder_blocks):
            block = _DenseBlock(features, n_layers, sizes.growth_rate)
            last = i == len(sizes.encoder_blocks) - 1
            out = sizes.bottleneck_features if last else max(1, math.floor(sizes.compression * block.out_features))
            layers += [block, _transition_down(block.out_features, out)]
            features = out
        self.features = nn.Sequential(*layers)
        self.head = mlp([flat, *sizes.hidden, latent_dim], "relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.flatten(self.features(x), 1))


class DenseVAE(Architecture):
    """DenseED-style VAE with separate mean and log-variance encoders (see the module docstring)."""

    name: ClassVar[str] = "dense_vae"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        """Parameters of :class:`DenseVAE`; sizes left out come from ``preset``.

        Attributes
        ----------
        preset : str
            ``"paper"`` (about 0.86M parameters at 65x65) or ``"authors_default"`` (about 8.0M).
        init_features : int
            Feature maps of the first 7x7 convolution.
        growth_rate : int
            Feature maps each dense layer adds.
        encoder_blocks : tuple of int
            Layers of each encoder dense block; each block is followed by a stride-2 transition.
        decoder_blocks : tuple of int
            Layers of each decoder dense block; there must be len(encoder_blocks) + 1 of them (one per stride-2
            step of the encoder, the first convolution included).
        bottleneck_features : int
            Feature maps before the flatten (and after the decoder MLP's reshape).
        hidden : tuple of int
            Hidden widths of the encoder MLPs (the decoder MLP uses them in reverse order).
        compression : float
            Fraction of the feature maps a transition keeps, in (0, 1].
        output_init_scale : float
            Factor on the final convolution's initial weights. The data's per-pixel spread is tiny (std about
            0.015), so a default-initialised decoder starts far outside it and the first epochs only undo the
            initialisation (per-pixel L_REC about +476 after one epoch at the paper's size). With 0.01 the decoder
            mean starts at the decoder offset (the data mean, see ``init_decoder_mean``) plus a small perturbation;
            1.0 is PyTorch's default initialisation, as in the authors' network.
        """

        preset: Literal["paper", "authors_default"] = "paper"
        init_features: int | None = None
        growth_rate: int | None = None
        encoder_blocks: tuple[int, ...] | None = None
        decoder_blocks: tuple[int, ...] | None = None
        bottleneck_features: int | None = None
        hidden: tuple[int, ...] | None = None
        compression: float | None = None
        output_init_scale: float = 0.01

        def __post_init__(self) -> None:
            _resolve_sizes(self)
            check_param(self.output_init_scale > 0, "output_init_scale", "a number > 0", self.output_init_scale,
                        OWNER)

    def __init__(self, config: Config | Mapping[str, Any] | None = None, *, input_shape: tuple[int, int, int],
                 latent_dim: int) -> None:
        super().__init__(config, input_shape=input_shape, latent_dim=latent_dim)
        config = self.config
        self.sizes = sizes = _resolve_sizes(config)
        c_in, height, width = self.input_shape

        n_down = 1 + len(sizes.encoder_blocks)
        h = conv_output_size(height, 7, 2, 3)
        w = conv_output_size(width, 7, 2, 3)
        for _ in sizes.encoder_blocks:
            h, w = conv_output_size(h, 3, 2, 1), conv_output_size(w, 3, 2, 1)
        self._bottom = (sizes.bottleneck_features, h, w)
        flat = sizes.bottleneck_features * h * w

        self.mu_encoder = _Encoder(c_in, sizes, flat, latent_dim)
        self.logvar_encoder = _Encoder(c_in, sizes, flat, latent_dim)

        self.decoder_mlp = mlp([latent_dim, *sizes.hidden[::-1], flat], "relu")
        layers: list[nn.Module] = []
        features = sizes.bottleneck_features
        for n_layers in sizes.decoder_blocks:
            block = _DenseBlock(features, n_layers, sizes.growth_rate)
            out = max(1, math.floor(sizes.compression * block.out_features))
            layers += [block, _transition_up(block.out_features, out)]
            features = out
        self.decoder_features = nn.Sequential(*layers)
        assert h * 2 ** n_down >= height and w * 2 ** n_down >= width  # each stride-2 step rounded up
        self.output_conv = nn.Sequential(*_bn_relu_conv(features, c_in, 5, padding=2))
        with torch.no_grad():
            self.output_conv[-1].weight.mul_(config.output_init_scale)

    @classmethod
    def resolve_sizes(cls, config: Config) -> DenseVAESizes:
        """The preset's sizes with the config's overrides, validated (ConfigError naming the bad parameter)."""
        return _resolve_sizes(config)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = self.prepare_input(x)
        return self.mu_encoder(x), self.logvar_encoder(x)

    def decode(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self.check_latent(z)
        features = self.decoder_features(self.decoder_mlp(z).view(z.shape[0], *self._bottom))
        mean = self.output_conv(center_crop(features, *self.input_shape[1:]))
        return self.decoder_outputs(mean)
