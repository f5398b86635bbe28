"""What a wheel ships besides code: the licence its metadata declares, and the typing marker."""

from __future__ import annotations

import tomllib
from pathlib import Path

import vaetk

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_file_matches_the_declared_license() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")


def test_the_package_is_marked_typed() -> None:
    assert (Path(vaetk.__file__).parent / "py.typed").is_file()
