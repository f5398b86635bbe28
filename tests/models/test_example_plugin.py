"""The third-party example plugin (plugins/example) is found through its entry point, passes the prior contract,
and composes with a built-in architecture from a TOML table. The fast tests present it as installed with a
hand-made dist-info (no pip); the slow integration test really pip-installs it and trains with it."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from vaetk.registry import registry
from vaetk.testing import check_plugin

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "plugins" / "example"


@pytest.mark.usefixtures("example_installed")
def test_example_prior_is_listed_loaded_and_passes_the_contract() -> None:
    assert "mixture_of_gaussians" in registry.priors.names()
    info = registry.priors.info("mixture_of_gaussians")
    assert (info.distribution, info.version) == ("vaetk-example-mog", "0.1.0")
    cls = registry.priors.get("mixture_of_gaussians")
    results = check_plugin(cls)
    failed = [(r.check, r.message) for r in results if not r.passed]
    assert not failed, failed
    assert len(results) > 5


@pytest.mark.usefixtures("example_installed")
def test_example_prior_composes_from_a_toml_table() -> None:
    import tomllib

    import torch

    from vaetk.config import resolve_component
    from vaetk.models.vae import VAE

    table = tomllib.loads('[prior]\nname = "mixture_of_gaussians"\nn_components = 3\n'
                          '[architecture]\nname = "small"\nhidden = 16\n')
    prior_cls, prior_config = resolve_component("priors", table["prior"], path="prior")
    arch_cls, arch_config = resolve_component("architectures", table["architecture"], path="architecture")
    torch.manual_seed(0)
    prior = prior_cls(prior_config, latent_dim=2)
    model = arch_cls(arch_config, input_shape=(3, 9, 9), latent_dim=2)
    VAE(model, prior)  # the latent dimensions agree
    x = torch.randn(4, 3, 9, 9)
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
    loss = prior.regularization(z, mu, logvar)["total"].mean()
    loss.backward()
    assert prior.means.grad is not None and model.mu_head.weight.grad is not None
    assert prior.means.shape == (3, 2)


TRAIN_SCRIPT = textwrap.dedent('''
    import tomllib, torch
    from vaetk.config import resolve_component
    from vaetk.models.gaussian import diag_gaussian_log_prob
    from vaetk.registry import registry
    from vaetk.testing import check_plugin
    info = registry.priors.info("mixture_of_gaussians")
    assert info.distribution == "vaetk-example-mog", info
    failed = [r for r in check_plugin(registry.priors.get("mixture_of_gaussians")) if not r.passed]
    assert not failed, failed
    table = tomllib.loads('[prior]\\nname = "mixture_of_gaussians"\\n[architecture]\\nname = "small"\\n')
    P, pc = resolve_component("priors", table["prior"], path="prior")
    A, ac = resolve_component("architectures", table["architecture"], path="architecture")
    torch.manual_seed(0)
    prior, model = P(pc, latent_dim=2), A(ac, input_shape=(3, 9, 9), latent_dim=2)
    x = torch.randn(64, 3, 9, 9)
    opt = torch.optim.Adam([*model.parameters(), *prior.parameters()], lr=1e-3)
    losses = []
    for _ in range(30):
        mu, logvar = model.encode(x)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        mean, dec_logvar = model.decode(z)
        rec = -diag_gaussian_log_prob(x.flatten(1), mean.flatten(1), dec_logvar.expand_as(mean).flatten(1))
        loss = (rec + prior.regularization(z, mu, logvar)["total"]).mean()
        opt.zero_grad(); loss.backward(); opt.step(); losses.append(float(loss))
    assert losses[-1] < losses[0], losses
    print("TRAINED", losses[0], losses[-1])
''')


@pytest.mark.slow
@pytest.mark.integration
def test_example_plugin_pip_installs_and_trains(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(EXAMPLE)], check=True, cwd=tmp_path)
    assert (target / "vaetk_example_mog-0.1.0.dist-info" / "entry_points.txt").exists()
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "TRAINED" in run.stdout
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert tests.returncode == 0, tests.stdout + tests.stderr
