"""A generate killed with SIGKILL or SIGTERM leaves no pool worker (nor multiprocessing's resource tracker) behind
(issue 15): the workers die with their parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

GENERATE = textwrap.dedent("""
    import sys
    from vaetk.data import generate
    config = {"n": 33, "distribution": {"name": "standard_normal"}, "split": {"train": 200000, "test": 0}}
    generate(config, sys.argv[1], seed=1, shard_size=8, n_workers=2)
""")


def _descendants_alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process-tree checks use Linux semantics")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_generate_leaves_no_workers(tmp_path, sig) -> None:
    out = tmp_path / "s.zarr"
    proc = subprocess.Popen([sys.executable, "-c", GENERATE, str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 60
        while True:  # until both workers run shards (flags appear)
            flags = list((out / "_vaetk" / "shards" / "train").glob("*/zarr.json")) if out.exists() else []
            children = parent.children(recursive=True)
            if len(flags) >= 2 and len(children) >= 2:
                break
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.1)
        children = parent.children(recursive=True)
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _descendants_alive(children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = _descendants_alive(children)
        assert not left, f"orphans after {sig!r}: {[(p.pid, p.cmdline()[:3]) for p in left]}"
    finally:
        if proc.poll() is None:
            children += parent.children(recursive=True)
            proc.kill()
            proc.wait()
        for p in _descendants_alive(children):  # never leave a failed test's processes behind
            p.kill()
        if proc.stderr is not None:
            proc.stderr.close()
    if sig == signal.SIGTERM:  # a clean shutdown: the lock is released, and the store resumes
        assert proc.returncode == 128 + signal.SIGTERM
        assert not (out / "_vaetk" / "lock").exists()
