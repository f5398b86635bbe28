"""``python -m vaetk``: the same command line as ``vaetk``."""

from __future__ import annotations

from vaetk.cli.__main__ import main

raise SystemExit(main())
