"""Package-level promises: light import, build info, threads, the CLI entry points."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import vaetk
from vaetk._threads import available_cpus, effective_n_threads
from vaetk.cli.__main__ import main
from vaetk.errors import BuildFeatureError, ConfigError

ROOT = Path(__file__).parents[2]


def test_import_is_light() -> None:
    code = (
        "import sys, vaetk, vaetk.darcy, vaetk.registry, vaetk.config\n"
        "vaetk.registry.registry.solvers.names()\n"
        "heavy = [m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'vaetk._cuda', 'vaetk_plugins'))]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_compiled_core_imports_from_the_repository_root() -> None:
    # A flat layout can shadow the installed package with the source folder; the editable install must still
    # find the compiled module when Python starts in the repository root.
    out = subprocess.run([sys.executable, "-c", "import vaetk._core as c; print(c.build_info()['version'])"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == vaetk.__version__


def test_build_info() -> None:
    info = vaetk.build_info()
    assert info["version"] == vaetk.__version__
    assert isinstance(info["openmp"], bool)
    assert info["cuda"] in (True, False)


def test_requesting_cuda_without_it_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaetk import _build

    monkeypatch.setattr(_build, "cuda_module", lambda: None)  # as in every build without VAETK_CUDA
    with pytest.raises(BuildFeatureError, match="VAETK_CUDA=ON"):
        _build.require_cuda()


@pytest.mark.parametrize(("n_threads", "expected"), [(1, 1), (3, 3), (-1, None)])
def test_effective_n_threads(n_threads: int, expected: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if not vaetk.build_info()["openmp"]:
        assert effective_n_threads(n_threads) == 1
        return
    assert effective_n_threads(n_threads) == (available_cpus() if expected is None else expected)


def test_effective_n_threads_honours_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert effective_n_threads(None) == (3 if vaetk.build_info()["openmp"] else 1)


@pytest.mark.parametrize("bad", [0, 1.5, "2", True])
def test_effective_n_threads_rejects(bad: object) -> None:
    with pytest.raises(ConfigError, match="'n_threads' parameter"):
        effective_n_threads(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("n_threads", [9, 100_000, 10**12])
def test_absurd_thread_counts_are_rejected_with_the_range(n_threads: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenMP runtimes segfault on absurd team sizes (issue 15): more than 4x the CPUs is an error, not a crash.
    monkeypatch.setattr("vaetk._threads.available_cpus", lambda: 2)
    with pytest.raises(ConfigError, match=rf"'n_threads' parameter \({n_threads}\) is out of range: this process "
                                          r"may run on 2 CPU\(s\), .* between 1 and 8"):
        effective_n_threads(n_threads)
    assert effective_n_threads(8) == (8 if vaetk.build_info()["openmp"] else 1)  # oversubscribing a little: fine


@pytest.mark.parametrize(("value", "problem"), [("1000000", r"\(1000000\) is out of range"),
                                                ("abc", "is not a positive thread count"),
                                                ("0", "is not a positive thread count"),
                                                ("-4", "is not a positive thread count")])
def test_bad_omp_num_threads_is_an_error_naming_the_variable(value: str, problem: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vaetk._threads.available_cpus", lambda: 2)
    monkeypatch.setenv("OMP_NUM_THREADS", value)
    with pytest.raises(ConfigError, match=rf"environment variable OMP_NUM_THREADS .*{problem}.*between 1 and 8"):
        effective_n_threads(None)
    assert effective_n_threads(1) == 1  # an explicit count does not read the variable


@pytest.mark.parametrize(("args", "env", "where"), [
    (["--threads", "1000000"], {}, "The --threads option (1000000) is out of range"),
    ([], {"OMP_NUM_THREADS": "1000000"}, "The environment variable OMP_NUM_THREADS (1000000) is out of range"),
])
def test_solve_with_absurd_threads_fails_cleanly_not_with_a_segfault(args: list[str], env: dict[str, str],
                                                                     where: str) -> None:
    import os

    out = subprocess.run([sys.executable, "-m", "vaetk", "solve", "--n", "17", "--n-samples", "2", *args],
                         capture_output=True, text=True, env={**os.environ, **env}, timeout=120)
    assert out.returncode == 1, out.stderr[-2000:]
    assert where in out.stderr and "between 1 and" in out.stderr


def test_solve_with_absurd_n_threads_argument() -> None:
    code = ("import numpy as np\nfrom vaetk.darcy import solve\n"
            "try:\n    solve(np.ones((2, 17, 17)), n_threads=100000)\n"
            "except ValueError as exc:\n    print('error:', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "'n_threads' parameter (100000) is out of range" in out.stdout, out.stderr


def test_cli_info(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"vaetk {vaetk.__version__}" in out and "OpenMP:" in out and "effective threads" in out


def test_python_dash_m_vaetk() -> None:
    out = subprocess.run([sys.executable, "-m", "vaetk", "info"], capture_output=True, text=True, check=True)
    assert "CUDA:" in out.stdout


def test_cli_plugins_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "list", "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert {e["group"] for e in entries} <= {"solvers", "distributions", "priors", "architectures", "metrics"}


def test_cli_user_error_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "check", "no_such_plugin_anywhere"]) == 1
    assert "No plugin named 'no_such_plugin_anywhere'" in capsys.readouterr().err


def test_cli_usage_error_exit_code() -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["plugins", "frobnicate"])
    assert excinfo.value.code == 2
