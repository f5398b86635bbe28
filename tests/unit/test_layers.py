"""The package's layers: the physics (``vaetk.darcy``) never imports the data pipeline (``vaetk.data``), the sweep
runner never imports the analyses, and the names that moved to ``vaetk.data`` are still reachable from their old
home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# package -> packages none of its modules may import (not even inside a function)
LAYERS = {
    "vaetk.darcy": ("vaetk.data",),
    "vaetk.sweeps": ("vaetk.analysis",),
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of every module an import statement in ``source`` may load.

    ``from a.b import c`` gives both ``a.b`` and ``a.b.c`` (``c`` may be a submodule); relative imports are
    resolved by the caller's package layout, so they are returned with their leading dots.
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}" if node.module else base + alias.name)
                      for alias in node.names]
    return found


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import vaetk.data", ["vaetk.data"]),
        ("from vaetk.data._store import open_store", ["vaetk.data._store", "vaetk.data._store.open_store"]),
        ("from vaetk import data", ["vaetk", "vaetk.data"]),
        ("def f():\n    from vaetk.data import generate\n", ["vaetk.data", "vaetk.data.generate"]),
        ("from . import _kle", [".", "._kle"]),
    ],
)
def test_imported_modules_sees_every_form_of_import(source: str, expected: list[str]) -> None:
    assert [name for _, name in imported_modules(source)] == expected


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_a_lower_layer_does_not_import_a_higher_one(package: str) -> None:
    folder = ROOT.joinpath(*package.split("."))
    files = sorted(folder.rglob("*.py"))
    assert files, folder
    offending = []
    for path in files:
        for line, name in imported_modules(path.read_text(encoding="utf-8")):
            if name.startswith("."):
                continue  # within the package itself
            if any(within(name, higher) for higher in LAYERS[package]):
                offending.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not offending, f"{package} must not import {', '.join(LAYERS[package])}:\n" + "\n".join(offending)


def test_the_layering_test_would_catch_a_violation() -> None:
    names = [name for _, name in imported_modules("def f():\n    from vaetk.data import _generate\n")]
    assert any(within(n, "vaetk.data") for n in names)
    assert not within("vaetk.database", "vaetk.data")


def test_names_that_moved_to_vaetk_data_are_still_reachable_from_vaetk_darcy() -> None:
    import vaetk.darcy
    import vaetk.data

    moved = {"generate", "GenerationConfig", "describe_store", "open_store", "export_hdf5", "DarcyDataset"}
    assert moved <= set(vaetk.data.__all__) and moved <= set(vaetk.darcy.__all__)
    for name in moved:  # names added to vaetk.data later have no old home to keep
        assert getattr(vaetk.darcy, name) is getattr(vaetk.data, name), name
    from vaetk.darcy import DarcyDataset, generate  # the old spelling

    assert generate.__module__ == "vaetk.data._generate" and DarcyDataset.__module__ == "vaetk.data._dataset"
