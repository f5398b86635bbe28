"""Bad inputs give errors that name the problem, not deep tracebacks, crashes or silent nonsense (issue 15).

One table: each case is a call and what its error must say. The memory cases run in a subprocess under an
address-space limit, so that a regression fails with a MemoryError instead of exhausting the machine.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vaetk.cli.__main__ import main
from vaetk.errors import ConfigError, DataError, PluginNotFoundError

LIMIT = 3 << 30  # 3 GiB of address space for the subprocess cases


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _cli_subprocess(tmp_path: Path, args: list[str], files: dict[str, str] | None = None) -> tuple[int, str]:
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VAETK_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "vaetk", *args], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=300, preexec_fn=_limited)
    return out.returncode, out.stderr


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def _saved(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    ragged = np.empty(3, dtype=object)
    ragged[:] = [np.zeros(2), np.zeros(3), np.zeros(1)]
    np.savez(tmp_path / "ragged.npz", latents=ragged, theta=np.zeros((3, 2)))
    np.savez(tmp_path / "mixed.npz", latents=rng.standard_normal((20, 2)),
             theta=np.array([[1.0, "a"]] * 20, dtype=object))
    np.save(tmp_path / "objects.npy", ragged, allow_pickle=True)
    np.savez(tmp_path / "three.npz", latents=rng.standard_normal((3, 2)), theta=rng.standard_normal((3, 2)))


def _solve(K: object) -> Callable[[Path], object]:
    def call(_: Path) -> object:
        from vaetk.darcy import solve

        return solve(K, solver="native")

    return call


def _architecture(shape: tuple[int, int, int]) -> Callable[[Path], object]:
    def call(_: Path) -> object:
        from vaetk.registry import registry

        return registry.architectures.get("small")(input_shape=shape, latent_dim=2)

    return call


def _experiment(table: dict) -> Callable[[Path], object]:
    def call(_: Path) -> object:
        from vaetk.training import parse_experiment

        return parse_experiment(table, source="exp.toml")

    return call


def _generate_config(text: str) -> Callable[[Path], object]:
    def call(tmp_path: Path) -> object:
        from vaetk.data._generate import load_config

        (tmp_path / "data.toml").write_text(text)
        return load_config(str(tmp_path / "data.toml"))

    return call


def _metric(name: str, n: int) -> Callable[[Path], object]:
    def call(_: Path) -> object:
        from vaetk.metrics import evaluate_metric

        rng = np.random.default_rng(0)
        return evaluate_metric(name, rng.standard_normal((n, 2)), rng.standard_normal((n, 2)))

    return call


# (id, kind, what to run, error type (in-process) or exit code (CLI), patterns the message must contain)
IN_PROCESS = [
    ("K=1e-310", _solve(np.full((2, 17, 17), 1e-310)), DataError,
     [r"permeability must lie in \[1e-100, 1e\+100\]", "sample 0 has 1e-310", "K / c"]),
    ("K=1e300", _solve(np.full((1, 17, 17), 1e300)), DataError,
     [r"permeability must lie in \[1e-100, 1e\+100\]", "sample 0 has 1e\\+300"]),
    ("K ragged list", _solve([[1.0, 2.0, 3.0], [1.0, 2.0]]), DataError,
     ["permeability is a ragged nested list", r"\(n, n\) or \(N, n, n\)"]),
    ("K object array", _solve(np.array([[1, "a", 3]] * 3, dtype=object)), DataError,
     ["permeability must be a real numeric array", "dtype object"]),
    ("model input_shape absurd", _architecture((3, 10**6, 10**6)), ConfigError,
     [r"input_shape \(3, 1000000, 1000000\)", "needs at least .* of memory, but only .* is available",
      "model.json"]),
    ("reconstruction_epochs >= epochs",
     _experiment({"training": {"epochs": 5}, "schedule": {"kind": "klushyn", "reconstruction_epochs": 5}}),
     ConfigError, [r"exp.toml: schedule.reconstruction_epochs = 5 is not below training.epochs = 5",
                   "beta would be 0 for the whole run", 'kind = "constant", value = 0']),
    ("unknown metric at parse time", _experiment({"evaluation": {"metrics": [{"name": "sdd"}]}}),
     PluginNotFoundError, [r"evaluation.metrics\[0\].name: Unknown metric 'sdd'", "Did you mean 'sd'",
                           "Available: .*sap, sd"]),
    ("empty dataset TOML", _generate_config("# nothing here\n"), ConfigError,
     ["holds no settings", "name a preset", "kle2_standard_normal"]),
    ("sd on 3 samples", _metric("sd", 3), DataError, ["metric 'sd': .* 3 samples, but at least 8 are needed"]),
    ("sap on 3 samples", _metric("sap", 3), DataError, ["metric 'sap': .* 3 samples, but at least 8 are needed"]),
]

CLI = [
    ("evaluate-latents ragged latents", ["evaluate-latents", "ragged.npz", "--factors", "theta"], 1,
     ["ragged.npz: array 'latents' holds Python objects", "ragged lists"]),
    ("evaluate-latents object factors", ["evaluate-latents", "mixed.npz", "--factors", "theta"], 1,
     ["mixed.npz: array 'theta' holds Python objects"]),
    ("evaluate-latents object .npy", ["evaluate-latents", "objects.npy", "--factors", "objects.npy"], 1,
     ["objects.npy' is not a readable .npy/.npz file", "Object arrays"]),
    ("evaluate-latents 3 samples", ["evaluate-latents", "three.npz", "--factors", "theta", "--metrics", "sd"], 1,
     ["at least 8 are needed"]),
]

SUBPROCESS = [
    ("solve n=20001", ["solve", "--n", "20001", "--n-samples", "2"], {},
     ["solving 2 sample\\(s\\) on a 20001 x 20001 grid needs at least", "is available", "nothing was allocated"]),
    ("generate n=20001", ["generate", "darcy", "big.toml", "--out", "big.zarr", "--workers", "1"],
     {"big.toml": "n = 20001\n"}, ["generating on a 20001 x 20001 grid", "needs at least", "is available"]),
]


@pytest.mark.parametrize(("call", "error", "patterns"), [c[1:] for c in IN_PROCESS], ids=[c[0] for c in IN_PROCESS])
def test_in_process(tmp_path: Path, call: Callable[[Path], object], error: type[Exception],
                    patterns: list[str]) -> None:
    with pytest.raises(error) as excinfo:
        call(tmp_path)
    for pattern in patterns:
        assert re.search(pattern, str(excinfo.value)), (pattern, str(excinfo.value))


@pytest.mark.parametrize(("args", "code", "patterns"), [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
             args: list[str], code: int, patterns: list[str]) -> None:
    _saved(tmp_path)
    monkeypatch.chdir(tmp_path)
    got, err = _cli(tmp_path, capsys, args)
    assert got == code, err
    assert "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


@pytest.mark.parametrize(("args", "files", "patterns"), [c[1:] for c in SUBPROCESS], ids=[c[0] for c in SUBPROCESS])
def test_memory_is_checked_before_allocating(tmp_path: Path, args: list[str], files: dict[str, str],
                                            patterns: list[str]) -> None:
    code, err = _cli_subprocess(tmp_path, args, files)
    assert code == 1, err[-3000:]
    assert "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)
    assert not (tmp_path / "big.zarr").exists()  # nothing was written either
