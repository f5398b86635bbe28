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
