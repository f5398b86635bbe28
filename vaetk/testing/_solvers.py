"""Contract checks for solvers plugins (see :mod:`vaetk.testing`)."""

from __future__ import annotations

from vaetk.testing import Check

CHECKS: list[Check] = []
