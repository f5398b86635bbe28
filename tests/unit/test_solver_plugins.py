"""The solver group end to end: a third-party solver from a fake installed distribution (tests/fixtures/
solver_dist) is listed by `vaetk plugins list`, used by `vaetk.darcy.solve(solver=...)` and passes the contract
checks; solver names and configs are validated with helpful errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vaetk.cli.__main__ import main
from vaetk.darcy import solve
from vaetk.errors import ConfigError, PluginNotFoundError
from vaetk.registry import registry
from vaetk.testing import check_plugin

DIST = Path(__file__).parents[1] / "fixtures" / "solver_dist"


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(DIST))
    for name in [m for m in sys.modules if m.startswith("acme_darcy")]:
        monkeypatch.delitem(sys.modules, name)
    registry.solvers.refresh()
    yield
    monkeypatch.undo()
    registry.solvers.refresh()


def test_third_party_solver_is_listed_without_import(acme: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "list", "--group", "solvers", "--json"]) == 0
    listed = {(e["name"], e["distribution"], e["version"]) for e in json.loads(capsys.readouterr().out)}
    assert ("acme_jacobi_cg", "acme-darcy", "0.1") in listed
    assert {"native", "direct", "amg", "reference"} <= {name for name, _, _ in listed}
    assert "acme_darcy.solvers" not in sys.modules


def test_third_party_solver_is_used_by_solve(acme: None, rng: np.random.Generator) -> None:
    K = np.exp(0.5 * rng.standard_normal((2, 17, 17)))
    fields, info = solve(K, solver="acme_jacobi_cg", return_info=True)
    assert info.solver == "acme_jacobi_cg" and np.all(info.iterations > 0)
    expected = solve(K, solver="reference")
    np.testing.assert_allclose(fields, expected, rtol=0, atol=1e-7 * np.abs(expected).max())


def test_third_party_solver_passes_the_contract(acme: None) -> None:
    results = check_plugin(registry.solvers.get("acme_jacobi_cg"))
    assert [r for r in results if not r.passed] == []
    assert len(results) > 5


def test_unknown_solver_name_suggests_a_close_match() -> None:
    with pytest.raises(PluginNotFoundError, match=r"Did you mean 'native'\?.*Available:.*amg.*direct"):
        solve(np.ones((5, 5)), solver="natve")


def test_auto_picks_native_for_conservative_and_direct_for_paper() -> None:
    K = np.ones((9, 9))
    assert solve(K, return_info=True)[1].solver == "native"
    assert solve(K, scheme="paper", return_info=True)[1].solver == "direct"


def test_solver_that_does_not_support_the_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'native' does not support the 'paper' scheme.*direct.*reference"):
        solve(np.ones((5, 5)), scheme="paper", solver="native")


def test_solver_config_is_strict() -> None:
    native = registry.solvers.get("native")
    with pytest.raises(ConfigError, match=r"maxiterr: unknown key; did you mean 'maxiter'"):
        native({"maxiterr": 3})
    with pytest.raises(ConfigError, match=r"'tol' parameter of solver 'native' must be a number in \(0, 1\)"):
        native({"tol": 2.0})
    with pytest.raises(ConfigError, match="'tol' parameter"):
        solve(np.ones((5, 5)), tol=-1.0)
    assert native({"maxiter": 7}).config.maxiter == 7
