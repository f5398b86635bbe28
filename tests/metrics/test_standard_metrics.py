"""MIG, DCI, SAP and TC on hand-constructed codes with known values."""

from __future__ import annotations

import numpy as np
import pytest
from vaetk_plugins.metrics.dci import DCI
from vaetk_plugins.metrics.mig import MIG
from vaetk_plugins.metrics.sap import SAP
from vaetk_plugins.metrics.tc import TC

from vaetk.errors import ConfigError
from vaetk.metrics._mi import ksg_ceiling, ksg_mi

C45 = np.sqrt(0.5)
ROT45 = np.array([[C45, -C45], [C45, C45]])


def grid() -> np.ndarray:
    """Full-factorial design: the two factors have exactly zero sample correlation."""
    a, b = np.meshgrid(np.linspace(-1, 1, 31), np.linspace(-2, 2, 31), indexing="ij")
    return np.column_stack([a.ravel(), b.ravel()])


def gaussian(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 2))


def codes(theta: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "disentangled": theta[:, ::-1] * np.array([2.0, -0.5]) + 1.0,
        "entangled": theta / theta.std(axis=0) @ ROT45.T,
        "redundant": np.column_stack([theta[:, 0], 2.0 * theta[:, 0] + 1.0, theta[:, 1]]),
    }


def test_sap_known_values() -> None:
    c = codes(grid())
    assert SAP()(c["disentangled"], grid(), 0)["sap"] == pytest.approx(1.0, abs=1e-12)
    assert SAP()(c["entangled"], grid(), 0)["sap"] == pytest.approx(0.0, abs=1e-12)
    redundant = SAP()(c["redundant"], grid(), 0)
    assert redundant["sap_0"] == pytest.approx(0.0, abs=1e-12) and redundant["sap"] == pytest.approx(0.5, abs=1e-12)
    constant = np.column_stack([grid()[:, 0], np.full(len(grid()), 4.0)])
    assert SAP()(constant, grid(), 0) == pytest.approx({"sap": 0.5, "sap_0": 1.0, "sap_1": 0.0}, abs=1e-12)


def test_dci_known_values() -> None:
    theta = grid()
    c = codes(theta)
    good = DCI()(c["disentangled"], theta, 0)
    assert good["disentanglement"] == pytest.approx(1.0, abs=1e-9)
    assert good["completeness"] == pytest.approx(1.0, abs=1e-9)
    assert good["informativeness"] == pytest.approx(1.0, abs=1e-4)  # ridge shrinkage alpha = 1e-3
    bad = DCI()(c["entangled"], theta, 0)
    assert bad["disentanglement"] == pytest.approx(0.0, abs=1e-9)
    assert bad["completeness"] == pytest.approx(0.0, abs=1e-9)
    assert bad["informativeness"] == pytest.approx(1.0, abs=1e-4)
    red = DCI()(c["redundant"], theta, 0)
    assert red["disentanglement"] == pytest.approx(1.0, abs=1e-9)
    assert red["completeness"] == pytest.approx((1.0 - np.log(2) / np.log(3) + 1.0) / 2.0, abs=1e-9)
    dead = DCI()(np.full_like(theta, 2.0), theta, 0)
    assert dead == {"disentanglement": 0.0, "completeness": 0.0, "informativeness": 0.0}
    with pytest.raises(ConfigError, match="alpha"):
        DCI.Config(alpha=0.0)


def test_ksg_ceiling_is_reached_by_an_affine_copy() -> None:
    theta = gaussian()
    assert ksg_mi(np.column_stack([theta[:, 0], -3.0 * theta[:, 0] + 2.0]), 3) == pytest.approx(
        ksg_ceiling(1000, 3), abs=1e-12)
    # independent variables: about 0 nats; correlated Gaussians: -1/2 log(1 - r^2)
    assert abs(ksg_mi(theta, 3)) < 0.03
    r = 0.8
    pair = np.column_stack([theta[:, 0], r * theta[:, 0] + np.sqrt(1 - r**2) * theta[:, 1]])
    assert ksg_mi(pair, 3) == pytest.approx(-0.5 * np.log(1 - r**2), abs=0.05)


def test_mig_known_values() -> None:
    theta = gaussian()
    c = codes(theta)
    assert MIG()(c["disentangled"], theta, 0)["mig"] > 0.97
    assert MIG()(c["entangled"], theta, 0)["mig"] < 0.05
    red = MIG()(c["redundant"], theta, 0)
    assert red["mig_0"] == pytest.approx(0.0, abs=1e-12)  # two latents carry factor 0 equally: no gap
    assert red["mig_1"] > 0.97 and red["mig"] == pytest.approx(0.5, abs=0.02)
    constant = MIG()(np.column_stack([theta[:, 1], np.zeros(1000)]), theta, 0)
    assert constant["mig_0"] < 0.03 and constant["mig_1"] > 0.97


@pytest.mark.parametrize("method", ["knn", "gaussian"])
def test_total_correlation_known_values(method: str) -> None:
    theta = gaussian(4000, 1)
    tc = lambda z: TC(TC.Config(method=method))(z, theta, 0)["tc"]  # noqa: E731
    assert abs(tc(theta)) < 0.03
    r = 0.8
    z = np.column_stack([theta[:, 0], r * theta[:, 0] + np.sqrt(1 - r**2) * theta[:, 1]])
    assert tc(z) == pytest.approx(-0.5 * np.log(1 - r**2), abs=0.05)
    assert tc(np.column_stack([theta[:, 0], np.ones(4000)])) == 0.0
    assert tc(codes(theta)["redundant"]) > 2.0
