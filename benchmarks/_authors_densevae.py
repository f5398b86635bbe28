"""Baseline for bench_models.py: a plain PyTorch re-implementation of the authors' DenseVAE network.

Written independently of vaetk_plugins.architectures.dense_vae, in the style of the DenseED code the authors
adapted (nn.Sequential subclasses, add_module, shapes hard-coded for 65x65 inputs), with the same sizes as the
`paper` preset: 48 initial features, growth rate 16, one 4-layer encoder block, two 4-layer decoder blocks,
3 feature maps before the flatten, one hidden layer of 256, compression 0.5, 2 latents.
"""

from __future__ import annotations

import torch
from torch import nn


class _DenseLayer(nn.Sequential):
    def __init__(self, in_features: int, growth_rate: int) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(in_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(in_features, growth_rate, kernel_size=3, stride=1, padding=1,
                                           bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        y = super().forward(x)
        return torch.cat([x, y], 1)


class _DenseBlock(nn.Sequential):
    def __init__(self, num_layers: int, in_features: int, growth_rate: int) -> None:
        super().__init__()
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", _DenseLayer(in_features + i * growth_rate, growth_rate))


class _Transition(nn.Sequential):
    def __init__(self, in_features: int, out_features: int, down: bool) -> None:
        super().__init__()
        self.add_module("norm1", nn.BatchNorm2d(in_features))
        self.add_module("relu1", nn.ReLU(inplace=True))
        self.add_module("conv1", nn.Conv2d(in_features, out_features, 1, 1, 0, bias=False))
        self.add_module("norm2", nn.BatchNorm2d(out_features))
        self.add_module("relu2", nn.ReLU(inplace=True))
        if down:
            self.add_module("conv2", nn.Conv2d(out_features, out_features, 3, 2, 1, bias=False))
        else:
            self.add_module("convT2", nn.ConvTranspose2d(out_features, out_features, 3, 2, 1, output_padding=1,
                                                         bias=False))


class _EncoderNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential()
        self.features.add_module("In_conv", nn.Conv2d(3, 48, 7, 2, 3, bias=False))  # 65 -> 33
        self.features.add_module("EncBlock1", _DenseBlock(4, 48, 16))  # 48 -> 112
        self.features.add_module("TransDown1", _Transition(112, 3, down=True))  # 33 -> 17
        self.fc1 = nn.Linear(3 * 17 * 17, 256)
        self.fc2 = nn.Linear(256, 2)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.features(x)
        out = out.view(out.size(0), -1)
        return self.fc2(self.relu(self.fc1(out)))


class AuthorsDenseVAE(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.enc_mu = _EncoderNet()
        self.enc_logvar = _EncoderNet()
        self.dec_fc1 = nn.Linear(2, 256)
        self.dec_fc2 = nn.Linear(256, 3 * 17 * 17)
        self.relu = nn.ReLU()
        self.decoder = nn.Sequential()
        self.decoder.add_module("DecBlock1", _DenseBlock(4, 3, 16))  # 3 -> 67
        self.decoder.add_module("TransUp1", _Transition(67, 33, down=False))  # 17 -> 34
        self.decoder.add_module("DecBlock2", _DenseBlock(4, 33, 16))  # 33 -> 97
        self.decoder.add_module("TransUp2", _Transition(97, 48, down=False))  # 34 -> 68
        self.last = nn.Sequential(nn.BatchNorm2d(48), nn.ReLU(inplace=True), nn.Conv2d(48, 3, 5, 1, 2, bias=False))
        self.logvar = nn.Parameter(torch.zeros(65, 65))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.enc_mu(x), self.enc_logvar(x)

    def decode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.dec_fc2(self.relu(self.dec_fc1(z))).view(-1, 3, 17, 17)
        out = self.decoder(out)[:, :, 1:66, 1:66]
        return self.last(out), self.logvar.view(1, 1, 65, 65)
