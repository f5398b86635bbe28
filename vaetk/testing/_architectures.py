"""Contract checks for architectures plugins (see :mod:`vaetk.testing`)."""

from __future__ import annotations

from vaetk.testing import Check

CHECKS: list[Check] = []
