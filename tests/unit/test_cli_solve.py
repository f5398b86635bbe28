"""`vaetk solve`: the KLE2 batch summary, its determinism and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vaetk.cli.__main__ import main
from vaetk.cli.solve import solve_summary
from vaetk.data import _generate


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("kle-cache")  # one KLE computation per grid size for the whole module


@pytest.fixture(autouse=True)
def kle_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAETK_CACHE_DIR", str(cache_dir))


def test_solve_prints_a_summary_with_timings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--n", "17", "--n-samples", "3", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "3 KLE2 samples on a 17 x 17 grid, conservative scheme, solver 'native' on cpu, 1 thread(s)" in out
    for label in ("per sample", "residual max", "mass balance max", "iterations"):
        assert label in out


def test_solve_json_is_deterministic_and_consistent(capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for _ in range(2):
        assert main(["solve", "--n", "17", "--n-samples", "4", "--scheme", "paper", "--solver", "direct",
                     "--json"]) == 0
        runs.append(json.loads(capsys.readouterr().out))
    a, b = runs
    assert a["solver"] == "direct" and a["iterations_max"] == 0 and a["residual_max"] < 1e-12
    assert (a["pressure_min"], a["pressure_max"]) == (b["pressure_min"], b["pressure_max"])


def test_theta_of_a_sample_does_not_depend_on_the_batch_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # `vaetk solve` draws theta as dataset generation does: sample i of the training split.
    drawn = []
    generation = _generate.sample_theta
    monkeypatch.setattr(_generate, "sample_theta", lambda *args: drawn.append(generation(*args)) or drawn[-1])
    for n_samples, seed in ((5, 7), (3, 7), (1, 8)):
        solve_summary(17, n_samples, seed=seed, solver="direct", n_threads=1)
    np.testing.assert_array_equal(drawn[0][:3], drawn[1])
    assert drawn[0].shape == (5, 2) and not np.array_equal(drawn[1][:1], drawn[2])


def test_summary_trust_measures_hold_for_the_native_solver() -> None:
    summary = solve_summary(17, 4, seed=1, n_threads=2)
    assert summary.solver == "native" and summary.iterations_max >= 1
    assert summary.residual_max <= summary.tol == 1e-10
    assert summary.mass_balance_max < 1e-8 and summary.zero_mean_max < 1e-12
    assert summary.per_sample_ms > 0


@pytest.mark.parametrize(("argv", "message"), [
    (["solve", "--solver", "natve"], "Did you mean 'native'?"),
    (["solve", "--scheme", "paper", "--solver", "amg"], "does not support the 'paper' scheme"),
    (["solve", "--n", "2"], "'n_grid' parameter of solve_summary() must be an int >= 3"),
])
def test_bad_options_exit_1_with_a_message(argv: list[str], message: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_the_old_grid_option_still_works_with_a_deprecation_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "--n-grid", "17", "--n-samples", "2", "--solver", "direct", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_grid"] == 17
    assert "vaetk solve: warning: --n-grid is deprecated; use --n" in captured.err
