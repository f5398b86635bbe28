"""One prepared measurement of vaetk's accelerator paths, written as a JSON and a Markdown report.

Run through ``benchmarks/device_check.sh`` on a machine with a CUDA GPU (it builds vaetk with the CUDA module
first). ``--quick`` shrinks every case to seconds and ``--device cpu`` skips the GPU columns: that is how CI runs it,
so the script cannot rot between the rare occasions a GPU is available. Every speed is a ratio against a baseline
measured in the same run (the native C++ solver, the same network on the CPU, K single-model steps).

Cases, each independent (a failing case is recorded with its error and the others still run):

- ``solve``: Darcy solves per second at n = 65, 129, 257, 513, the device-generic torch solver on the device
  against the native multigrid solver on all CPU cores, with the largest relative difference of the fields.
- ``dense_vae``: one training epoch of DenseVAE at the paper's size (512 samples of 3 x 65 x 65, batch 64) on
  the device against the CPU, in float32, TF32 and bfloat16 autocast, and how far TF32 / bf16 move the loss.
- ``ensemble``: an epoch of an ensemble of K = 1, 10, 25, 50 DenseVAE members (one batched model) against a
  single run, and the trials per hour it gives at the paper's 6,500 epochs per trial.
- ``knn``: the k-NN KL estimator at n = 65,536 on the CPU against a brute-force torch k-NN on the device.
- ``processes``: P = 1, 2, 4, 8 independent training processes started together on the device: aggregate
  samples per second against one process (several trials per GPU instead of an ensemble).
- ``profile``: one epoch of a single run under torch.profiler: device kernel time against wall time, and the
  kernels that take most of it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

BATCH, SHAPE, LATENT, N_TRAIN = 64, (3, 65, 65), 2, 512


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_time(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _environment() -> dict[str, Any]:
    import vaetk

    env: dict[str, Any] = {
        "python": platform.python_version(), "torch": torch.__version__, "vaetk": vaetk.__version__,
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["cuda_runtime"] = torch.version.cuda
    try:
        from vaetk import _build

        mod = _build.cuda_module()
        env["vaetk_cuda_module"] = None if mod is None else dict(mod.build_info())
    except Exception as exc:  # noqa: BLE001 - reported, not fatal
        env["vaetk_cuda_module"] = f"error: {exc}"
    return env


# ---------------------------------------------------------------------------------------------------- DenseVAE


def _paper_training(device: str, epochs: int, n_train: int, **training: Any) -> dict[str, Any]:
    """Train the section 5.3 paper preset (DenseVAE, hierarchical prior) through vaetk's Trainer on synthetic
    in-memory data of the paper's size; per-epoch seconds (the first epoch, which pays start-up, left out) and the
    final training loss."""
    from vaetk.config import preset_table
    from vaetk.sweeps._grid import apply_overrides
    from vaetk.training import OverRegularizationWarning, Trainer, build_model, parse_experiment

    overrides = {"data.path": "unused.zarr", "training.epochs": epochs, "training.device": device,
                 "training.lr_milestones": [], "schedule.reconstruction_epochs": min(1, epochs - 1),
                 "training.sanity_check": False,
                 **{f"training.{k}": v for k, v in training.items()}}
    config = parse_experiment(apply_overrides(preset_table("experiments", "mixture_hierarchical"), overrides))
    gen = torch.Generator().manual_seed(1)
    x = 1.0 + 0.1 * torch.randn(n_train, *SHAPE, generator=gen)
    theta = torch.randn(n_train, LATENT, generator=gen)
    model, _ = build_model(config, SHAPE)
    with warnings.catch_warnings():  # a few epochs on noise end at the constant predictor: expected here
        warnings.simplefilter("ignore", OverRegularizationWarning)
        result = Trainer(config, model, x, theta).fit()
    seconds = [row["seconds"] for row in result.history[1:]] or [result.history[0]["seconds"]]
    return {"epoch_s": statistics.median(seconds), "final_train_loss_per_pixel": result.final["train_loss_per_pixel"]}


def case_dense_vae(device: torch.device, quick: bool) -> dict[str, Any]:
    """DenseVAE epochs through the Trainer: CPU float32 against the device in each precision (and compiled)."""
    epochs, n_train = (1, BATCH) if quick else (6, N_TRAIN)
    out: dict[str, Any] = {"epoch": f"{n_train} samples of {SHAPE}, batch {BATCH}, section 5.3 hierarchical preset",
                           "cpu_float32": _paper_training("cpu", epochs, n_train)}
    if device.type != "cuda":
        return out
    variants = {"float32": {}, "tf32": {"precision": "tf32"}, "bf16": {"precision": "bf16"},
                "float32_compiled": {"compile": True}}
    for name, training in variants.items():
        out[f"gpu_{name}"] = _paper_training(str(device), epochs if name != "float32_compiled" else epochs + 4,
                                             n_train, **training)
    reference = out["gpu_float32"]
    for name in variants:
        row = out[f"gpu_{name}"]
        row["speedup_vs_cpu_float32"] = out["cpu_float32"]["epoch_s"] / row["epoch_s"]
        row["loss_diff_vs_float32"] = row["final_train_loss_per_pixel"] - reference["final_train_loss_per_pixel"]
    return out


# ---------------------------------------------------------------------------------------------------- ensemble


def case_ensemble(device: torch.device, quick: bool) -> dict[str, Any]:
    """Epochs of ensembles of K DenseVAE members trained as one batched model (vaetk.training.train_ensemble's
    trainer) against single runs in the same process; trials per hour at the paper's 6,500 epochs per trial."""
    from vaetk.training import OverRegularizationWarning
    from vaetk.training._ensemble import time_epoch

    sizes = (1, 2) if quick else (1, 10, 25, 50)
    out: dict[str, Any] = {"epoch": f"{N_TRAIN if not quick else BATCH} samples of {SHAPE} per member, "
                                    f"batch {BATCH}, DenseVAE, standard normal prior"}
    for k in sizes:
        with warnings.catch_warnings():  # two epochs on noise end at the constant predictor: expected here
            warnings.simplefilter("ignore", OverRegularizationWarning)
            row = time_epoch(k, str(device), n_train=BATCH if quick else N_TRAIN,
                             single=1 if k == sizes[0] else False)
        row["trials_per_hour_at_6500_epochs"] = 3600.0 / (row["ensemble_epoch_s"] * 6500) * k
        out[f"K{k}"] = row
    if not quick and device.type == "cuda":  # is the batched (vmap) ensemble faster than the member loop here?
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OverRegularizationWarning)
            loop = time_epoch(10, str(device), n_train=N_TRAIN, batching="loop")
        out["K10_loop"] = loop | {"vmap_speedup_vs_loop": loop["ensemble_epoch_s"] / out["K10"]["ensemble_epoch_s"]}
    single = out[f"K{sizes[0]}"].get("single_epoch_s")
    if single:
        out["per_member_speedup_vs_single"] = {f"K{k}": single / out[f"K{k}"]["ensemble_member_epoch_s"]
                                               for k in sizes}
    return out


# ---------------------------------------------------------------------------------------------------- solve


def _kle_like(n: int, batch: int, seed: int) -> np.ndarray:
    """Smooth log-normal fields (a few low cosine modes), like the KLE fields of the paper presets."""
    rng = np.random.default_rng(seed)
    s = np.linspace(0.0, 1.0, n)
    log_k = np.zeros((batch, n, n))
    for a in range(1, 4):
        for b in range(1, 4):
            mode = np.cos(math.pi * a * s)[:, None] * np.cos(math.pi * b * s)[None, :] / (a * b)
            log_k += rng.standard_normal((batch, 1, 1)) * mode
    return np.exp(log_k)


def case_solve(device: torch.device, quick: bool) -> dict[str, Any]:
    from vaetk.darcy import solve

    grids = (17, 33) if quick else (65, 129, 257, 513)
    batches = {17: 8, 33: 8, 65: 2048, 129: 512, 257: 128, 513: 32}
    out: dict[str, Any] = {}
    for n in grids:
        K = _kle_like(n, batches[n], seed=n)
        for scheme in ("conservative", "paper"):
            row: dict[str, Any] = {"batch": batches[n]}
            out[f"n{n}_{scheme}"] = row
            t0 = time.perf_counter()
            try:
                ref = solve(K, scheme=scheme, solver="native")
            except Exception as exc:  # noqa: BLE001 - one grid's failure must not hide the others' timings
                row["native_error"] = f"{type(exc).__name__}: {exc}"
                continue
            row["native_cpu_s"] = time.perf_counter() - t0
            row["native_cpu_samples_per_s"] = batches[n] / row["native_cpu_s"]
            try:
                fields = solve(K[:2], scheme=scheme, device=str(device))  # warm-up: kernels, caches
                t0 = time.perf_counter()
                fields = solve(K, scheme=scheme, device=str(device))
                row["torch_device_s"] = time.perf_counter() - t0
                row["torch_device_samples_per_s"] = batches[n] / row["torch_device_s"]
                row["speedup_vs_native"] = row["native_cpu_s"] / row["torch_device_s"]
                row["max_rel_diff"] = float(np.abs(fields - ref).max() / np.abs(ref).max())
            except Exception as exc:  # noqa: BLE001 - recorded, the other grids still run
                row["torch_device_error"] = f"{type(exc).__name__}: {exc}"
    return out


# ---------------------------------------------------------------------------------------------------- k-NN


def _torch_knn_kth(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance to the k-th neighbour (self excluded) of every row, brute force in chunks."""
    out = torch.empty(x.shape[0], device=x.device, dtype=x.dtype)
    for start in range(0, x.shape[0], 8192):
        d = torch.cdist(x[start:start + 8192], x)
        out[start:start + 8192] = d.topk(k + 1, largest=False).values[:, k]
    return out


def case_knn(device: torch.device, quick: bool) -> dict[str, Any]:
    from vaetk.metrics.knn import knn_kl_divergence

    n = 4096 if quick else 65536
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((n, 2)), rng.standard_normal((n, 2)) * 1.1
    out: dict[str, Any] = {"n": n, "d": 2, "k": 5}
    out["cpu_knn_kl_s"] = _median_time(lambda: knn_kl_divergence(x, y, k=5), torch.device("cpu"), 3)
    if device.type == "cuda":
        xd = torch.from_numpy(x).to(device)
        out["gpu_bruteforce_kth_s"] = _median_time(lambda: _torch_knn_kth(xd, 5), device, 3)
        out["note"] = ("the CPU estimator does two k-NN searches (x in x, x in y); the GPU number is one "
                       "search, so the CPU/GPU ratio favours the GPU by about 2x")
    return out


# ---------------------------------------------------------------------------------------------------- processes

_CHILD = """
import json, sys, time, warnings
from pathlib import Path
import torch
from vaetk.training import OverRegularizationWarning
from vaetk.training._ensemble import time_epoch
device, n_train, epochs, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
torch.zeros(1, device=device)  # CUDA context before the start signal
print("ready", flush=True)
while not go.exists():
    time.sleep(0.01)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", OverRegularizationWarning)
    row = time_epoch(1, device, n_train=n_train, epochs=epochs, n_threads=1)
print(json.dumps(row), flush=True)
"""


def case_processes(device: torch.device, quick: bool) -> dict[str, Any]:
    """P independent single-run trainings started together on one device (P = 1, 2, 4, 8): the aggregate samples
    per second against one process alone, i.e. how many trials one device runs at once without slowing each."""
    import subprocess
    import tempfile

    counts = (1, 2) if quick else (1, 2, 4, 8)
    n_train, epochs = (BATCH, 2) if quick else (N_TRAIN, 6)
    out: dict[str, Any] = {"epoch": f"{n_train} samples of {SHAPE}, batch {BATCH}, DenseVAE, one process per "
                                    "training, all started at once"}
    for p in counts:
        with tempfile.TemporaryDirectory() as tmp:
            go = Path(tmp) / "go"
            procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(device), str(n_train), str(epochs),
                                       str(go)], stdout=subprocess.PIPE, text=True) for _ in range(p)]
            for proc in procs:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            go.touch()
            rows = []
            for proc in procs:
                stdout, _ = proc.communicate(timeout=600)
                if proc.returncode:
                    raise RuntimeError(f"a training process exited with {proc.returncode}")
                rows.append(json.loads(stdout.strip().splitlines()[-1]))
        epoch_s = [r["ensemble_epoch_s"] for r in rows]
        out[f"P{p}"] = {"epoch_s_mean": statistics.mean(epoch_s), "epoch_s_max": max(epoch_s),
                        "samples_per_s": sum(n_train / e for e in epoch_s)}
    base = out[f"P{counts[0]}"]["samples_per_s"]
    out["throughput_vs_one_process"] = {f"P{p}": out[f"P{p}"]["samples_per_s"] / base for p in counts}
    return out


def case_profile(device: torch.device, quick: bool) -> dict[str, Any]:
    """Where one DenseVAE training step's time goes: device kernel time against wall time (a ratio well below 1
    means the step waits on Python and kernel launches), and the kernels that take most of it."""
    from torch.profiler import ProfilerActivity, profile

    from vaetk.training._config import ExperimentConfig, ModelConfig, TrainingConfig
    from vaetk.training._run import build_model
    from vaetk.training._trainer import Trainer

    config = ExperimentConfig(
        model=ModelConfig(latent_dim=LATENT, architecture={"name": "dense_vae", "preset": "paper"},
                          prior={"name": "standard_normal"}),
        training=TrainingConfig(epochs=1, batch_size=BATCH, lr=5e-4, device=str(device), eval_every=10 ** 6,
                                checkpoint_every=0, deterministic=False),
        schedule={"kind": "constant", "value": 1.0})
    gen = torch.Generator().manual_seed(0)
    n = BATCH * (1 if quick else 8)
    x, theta = torch.randn(n, *SHAPE, generator=gen), torch.randn(n, LATENT, generator=gen)
    model = build_model(config, SHAPE)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Trainer(config, model, x, theta).fit()  # warm-up: kernel selection, allocator
        trainer = Trainer(config, model, x, theta)
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
        _sync(device)
        start = time.perf_counter()
        with profile(activities=activities) as prof:
            trainer.fit()
            _sync(device)
        wall = time.perf_counter() - start
    # the kernels themselves (device-side events), not the CPU operators that launched them: no double counting
    kernels = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy = sum(e.self_device_time_total for e in kernels) / 1e6
    top = sorted(kernels, key=lambda e: e.self_device_time_total, reverse=True)[:8]
    return {"steps": n // BATCH, "wall_s": wall, "device_kernel_s": busy, "device_busy_fraction": busy / wall,
            "top_kernels_ms": {e.key[:80]: e.self_device_time_total / 1e3 for e in top},
            "kernel_launches": int(sum(e.count for e in kernels))}


# ---------------------------------------------------------------------------------------------------- report

CASES: dict[str, Callable[[torch.device, bool], dict[str, Any]]] = {
    "solve": case_solve, "dense_vae": case_dense_vae, "ensemble": case_ensemble, "knn": case_knn,
    "processes": case_processes, "profile": case_profile,
}


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# vaetk device check ({report['date']})", "", "```", json.dumps(report["environment"], indent=1),
             "```", ""]
    for name, result in report["cases"].items():
        lines += [f"## {name} ({result.get('seconds', 0):.0f} s)", ""]
        lines += [f"- {key}: {value}" for key, value in result.items() if key != "seconds"]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the accelerator to measure ('cpu' skips GPU columns)")
    parser.add_argument("--quick", action="store_true", help="seconds-long cases (CI)")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    parser.add_argument("--out", default=".", help="folder for device_check.json and device_check.md")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda but torch sees no CUDA device; use --device cpu for the CPU-only parts")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "environment": _environment(), "quick": args.quick, "cases": {}}
    failed = 0
    for name in args.cases.split(","):
        if name not in CASES:
            parser.error(f"unknown case {name!r}; available: {', '.join(CASES)}")
        start = time.perf_counter()
        try:
            result = CASES[name](device, args.quick)
        except Exception:  # noqa: BLE001 - one broken case must not hide the others
            result = {"error": traceback.format_exc(limit=3)}
            failed += 1
        result["seconds"] = time.perf_counter() - start
        report["cases"][name] = result
        print(f"[{name}] {json.dumps(result, default=str)}", flush=True)
        (out / "device_check.json").write_text(json.dumps(report, indent=1, default=str))
        (out / "device_check.md").write_text(_markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
