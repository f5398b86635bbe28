"""Print each benchmark as a speed-up over the baseline of its group (measured in the same run)."""

from __future__ import annotations

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups: dict[str, list] = {}
    for bench in session.benchmarks:
        groups.setdefault(bench.group or "", []).append(bench)
    lines = []
    for group, benches in groups.items():
        base = [b for b in benches if b.extra_info.get("baseline")]
        if not base:
            continue
        base_time = base[0].stats.median
        batch = base[0].extra_info.get("batch", 1)
        lines.append(f"{group}: baseline {base[0].extra_info.get('case')} "
                     f"{base_time / batch * 1e3:.2f} ms per sample (median)")
        for b in benches:
            lines.append(f"    {b.extra_info.get('case', b.name):<12} {b.stats.median / batch * 1e3:9.3f} ms/sample"
                         f"   speed-up x{base_time / b.stats.median:6.2f}")
    if lines:
        terminalreporter.write_sep("-", "speed-ups over the baseline of each group (same run)")
        for line in lines:
            terminalreporter.write_line(line)
