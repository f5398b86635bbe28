"""dense_vae at the paper's size against a plain PyTorch re-implementation of the authors' network.

Run: ``pytest benchmarks/bench_models.py --benchmark-only -s``. One "step" is what training does per mini-batch:
encode, reparameterise, decode, Gaussian NLL + KL, backward and an Adam step, on a batch of 64 samples of
3 x 65 x 65 with 2 latents; an epoch of the paper's 512 training samples is 8 steps. Both networks have the same
layers and parameter count (checked), so the ratio measures implementation overhead (target: at most 1.0).
The ratio test interleaves the two implementations round by round, so machine load affects both alike, and
reports the ratios of the median step times in ``extra_info`` (and prints them with ``-s``): wall-clock, and
the process's CPU time, which other processes on a shared machine disturb much less (with 1 thread it is the
wall-clock time the step would take on an idle core).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _authors_densevae import AuthorsDenseVAE  # noqa: E402

from vaetk.registry import registry  # noqa: E402

BATCH, SHAPE, LATENT = 64, (3, 65, 65), 2
STEPS_PER_EPOCH = 512 // BATCH


@pytest.fixture(params=[1, 2], ids=lambda n: f"threads={n}")
def n_threads(request: pytest.FixtureRequest) -> Iterator[int]:
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


def _make(kind: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if kind == "authors_baseline":
        return AuthorsDenseVAE()
    cls = registry.architectures.get("dense_vae")
    return cls(cls.Config(preset="paper"), input_shape=SHAPE, latent_dim=LATENT)


def _step_fn(model: torch.nn.Module) -> Callable[[], None]:
    x = torch.randn(BATCH, *SHAPE, generator=torch.Generator().manual_seed(1))
    eps = torch.randn(BATCH, LATENT, generator=torch.Generator().manual_seed(2))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    model.train()

    def step() -> None:
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps
        mean, dec_logvar = model.decode(z)
        nll = 0.5 * (dec_logvar + (x - mean) ** 2 * torch.exp(-dec_logvar)).sum((1, 2, 3))
        kl = 0.5 * (torch.exp(logvar) + mu ** 2 - 1 - logvar).sum(1)
        loss = (nll + kl).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def test_same_network_size() -> None:
    ours, base = _make("vaetk"), _make("authors_baseline")
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in base.parameters())


@pytest.mark.parametrize("kind", ["vaetk", "authors_baseline"])
def test_dense_vae_step(benchmark, kind: str, n_threads: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"dense_vae paper step (batch {BATCH}, 65x65), threads={n_threads}"
    step = _step_fn(_make(kind))
    benchmark.extra_info["steps_per_epoch"] = STEPS_PER_EPOCH
    benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)


def test_dense_vae_ratio_to_authors(benchmark, n_threads: int) -> None:  # type: ignore[no-untyped-def]
    benchmark.group = f"dense_vae paper ratio, threads={n_threads}"
    ours, base = _step_fn(_make("vaetk")), _step_fn(_make("authors_baseline"))
    ours()
    base()
    wall: dict[str, list[float]] = {"vaetk": [], "authors_baseline": []}
    cpu: dict[str, list[float]] = {"vaetk": [], "authors_baseline": []}
    for r in range(5):
        order = [("vaetk", ours), ("authors_baseline", base)]
        for name, fn in order if r % 2 == 0 else order[::-1]:
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    lines = []
    for label, times in (("wall", wall), ("cpu", cpu)):
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["vaetk"] / med["authors_baseline"]
        benchmark.extra_info[f"{label}_median_step_s"] = med
        benchmark.extra_info[f"{label}_ratio_vaetk_to_authors"] = ratio
        lines.append(f"[threads={n_threads}] {label} median step: vaetk {med['vaetk']:.3f} s, authors "
                     f"{med['authors_baseline']:.3f} s; epoch (512 samples): vaetk {med['vaetk'] * STEPS_PER_EPOCH:.1f}"
                     f" s, authors {med['authors_baseline'] * STEPS_PER_EPOCH:.1f} s; ratio {ratio:.3f}")
    print("\n" + "\n".join(lines))
    benchmark.pedantic(ours, rounds=1, iterations=1)
