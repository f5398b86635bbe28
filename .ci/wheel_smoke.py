"""Smoke test of an installed vaetk wheel, run from outside the source tree (CI and cibuildwheel): the compiled
core loads from the wheel, not from a checkout, and a Darcy solve through the native solver is right."""

import sys
from pathlib import Path

import numpy as np

import vaetk
import vaetk._core
from vaetk.darcy import solve

here = Path.cwd().resolve()
for module in (vaetk, vaetk._core):
    origin = Path(module.__file__).resolve()
    assert "site-packages" in origin.parts, f"{module.__name__} was imported from {origin}, not from the wheel"
fields, info = solve(np.ones((2, 17, 17)), scheme="conservative", return_info=True)
assert fields.shape == (2, 3, 17, 17) and np.isfinite(fields).all()
assert info.residual.max() < 1e-8, info.residual
print(f"wheel smoke test passed: vaetk {vaetk.__version__} from {Path(vaetk.__file__).parent}, python {sys.version.split()[0]}")
