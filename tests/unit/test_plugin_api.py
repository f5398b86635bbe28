"""``vaetk.plugin`` is the one public module for plugin authors: plugins import nothing private, every exported
name resolves, and importing the module stays cheap."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import vaetk.plugin

ROOT = Path(__file__).parents[2]
SCANNED = ("plugins", "tests/fixtures")
SKIPPED_DIRS = {"build", "dist", "__pycache__", ".venv"}  # build outputs hold stale copies of the sources


def private_vaetk_module(module: str) -> bool:
    """Whether the dotted name ``module`` is below vaetk with a ``_``-prefixed component (dunders excepted)."""
    parts = module.split(".")
    return parts[0] == "vaetk" and any(p.startswith("_") and not p.endswith("__") for p in parts[1:])


def private_imports(source: str) -> list[tuple[int, str]]:
    """``(line, statement)`` of each import in ``source`` that reaches a private part of vaetk.

    Covers ``import vaetk._x``, ``from vaetk._x import y``, ``from vaetk import _x`` (a private module or name)
    and ``importlib.import_module("vaetk._x")``; relative imports (within a plugin package) are not vaetk's.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                continue
            modules = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (getattr(node.func, "attr", None) == "import_module"
                   or getattr(node.func, "id", None) in ("import_module", "__import__"))):
            modules = [node.args[0].value]
        else:
            continue
        if any(private_vaetk_module(m) for m in modules):
            found.append((node.lineno, ast.get_source_segment(source, node) or ast.dump(node)))
    return sorted(found)


def scanned_files() -> list[Path]:
    files = []
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts[:-1]
            if not any(p in SKIPPED_DIRS or p.endswith(".egg-info") or p.startswith(".") for p in parts):
                files.append(path)
    return files


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import vaetk._core", True),
        ("import numpy as np, vaetk._core as c", True),
        ("from vaetk.darcy._kernels import assemble", True),
        ("from vaetk import _lazy", True),
        ("from vaetk._build import core", True),
        ("def f():\n    from vaetk.metrics.knn import _terms_scipy\n", True),
        ("from vaetk import __version__", False),
        ("import importlib\nimportlib.import_module('vaetk._core')", True),
        ("from vaetk.plugin import Prior, check_param", False),
        ("from vaetk.darcy.solvers import Solver", False),
        ("from ..architectures._layers import mlp", False),
        ("from vaetk_plugins.distributions._gaussian import vector", False),
        ("import vaetkx._core", False),
    ],
)
def test_the_scan_recognises_private_vaetk_modules(source: str, expected: bool) -> None:
    assert bool(private_imports(source)) is expected


def test_plugins_and_fixtures_import_no_private_vaetk_module() -> None:
    files = scanned_files()
    assert any(f.name == "skl.py" for f in files) and any("acme_darcy" in f.parts for f in files)
    offences = [
        f"{path.relative_to(ROOT)}:{line}: {statement}"
        for path in files
        for line, statement in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert not offences, "import these names from vaetk.plugin instead:\n" + "\n".join(offences)


def test_every_exported_name_resolves() -> None:
    assert "Plugin" in vaetk.plugin.__all__
    assert len(set(vaetk.plugin.__all__)) == len(vaetk.plugin.__all__)
    for name in vaetk.plugin.__all__:
        assert getattr(vaetk.plugin, name) is not None, name
    namespace: dict[str, object] = {}
    exec("from vaetk.plugin import *", namespace)
    assert set(vaetk.plugin.__all__) <= set(namespace)


def test_exports_are_the_objects_vaetk_uses() -> None:
    # the same classes the registry validates against, not copies
    from vaetk.registry import GROUPS

    for spec in GROUPS.values():
        module, _, attr = spec.base.partition(":")
        base = getattr(importlib.import_module(module), attr)
        assert getattr(vaetk.plugin, attr) is base
        assert issubclass(base, vaetk.plugin.Plugin)
    from vaetk import errors

    assert set(errors.__all__) <= set(vaetk.plugin.__all__)


def test_dir_lists_the_lazy_names() -> None:
    listed = dir(vaetk.plugin)
    assert set(vaetk.plugin.__all__) <= set(listed)
    assert {"Prior", "wkv_terms", "trapezoid_weights", "check_param"} <= set(listed)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_helper'"):
        vaetk.plugin.no_such_helper  # noqa: B018


def test_import_is_cheap() -> None:
    code = (
        "import sys, vaetk.plugin\n"
        "dir(vaetk.plugin)\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'scipy', 'vaetk_plugins')\n"
        "               or m.startswith(('vaetk._core', 'vaetk._cuda')))\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
