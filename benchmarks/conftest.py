"""Print each benchmark as a speed-up over the baseline of its group (measured in the same run).

Speed-ups use the minimum over rounds, the statistic least disturbed by other processes on a shared machine; the
median is printed beside it.
"""

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
        base_time = base[0].stats.min
        batch = base[0].extra_info.get("batch", 1)
        lines.append(f"{group}: baseline {base[0].extra_info.get('case')}, per sample (min / median over rounds)")
        for b in benches:
            lines.append(f"    {b.extra_info.get('case', b.name):<12} {b.stats.min / batch * 1e3:9.3f} / "
                         f"{b.stats.median / batch * 1e3:9.3f} ms   speed-up x{base_time / b.stats.min:6.2f}")
    if lines:
        terminalreporter.write_sep("-", "speed-ups over the baseline of each group (same run)")
        for line in lines:
            terminalreporter.write_line(line)
