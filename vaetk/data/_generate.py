"""Dataset generation: theta ~ p(theta) -> KLE permeability -> Darcy solve -> sharded Zarr store.

Determinism: sample ``i`` of split ``split`` draws its theta from
``default_rng(SeedSequence(seed, spawn_key=(SPLIT_IDS[split], i)))``, and each sample is solved alone, so the
store's arrays are bit-identical whatever the shard size, worker count, thread count or scheduler, and any
shard can be regenerated alone. The KLE basis is computed once by the coordinating process and shipped to the
tasks (and stored), so every worker, local or remote, builds permeabilities from the same bytes.

This is the data side of the solve -> shard-writer boundary: a shard task calls :func:`vaetk.darcy.solve` and
everything after it (writing, checksums, flags) is :mod:`vaetk.data`'s.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import importlib.metadata as metadata
import json
import math
import os
import platform
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from vaetk._executors import LOCAL_CLUSTER
from vaetk._validation import is_int
from vaetk.config import check_param, config_to_dict, parse_config, preset_or_file
from vaetk.config import preset_names as config_preset_names
from vaetk.darcy._solve import DEFAULT_QUADRATURE, DEVICE_SOLVER, check_device
from vaetk.data import _store
from vaetk.errors import ConfigError, DataError, SolverError

__all__ = ["SPLIT_IDS", "GenerationConfig", "generate", "load_config", "preset_names", "sample_theta"]

SPLIT_IDS = {"train": 0, "test": 1}
DEFAULT_SHARD_SIZE = 256  # amortises per-shard costs (task, open, flag); a fields chunk is then 13 MB at n=65
# Compressor of the data arrays. Measured on 64 samples of n=65 float32 fields + permeability (4.3 MB, one
# core): blosc lz4 + byte shuffle encodes in 3.3 ms to 70% of the raw size and decodes in 0.8 ms; zstd level 1
# (zarr's usual choice, at its fastest) takes 5.6 ms for 80% (level 3: 21 ms, 79%); no compressor saves ~3 ms
# per 64 samples for 30% more disk. Solution fields have noisy low mantissa bits, so nothing gets much below 70%.
STORE_CODEC = {"cname": "lz4", "clevel": 5, "shuffle": "shuffle"}
SEED_DERIVATION = (
    "theta_i = distribution.sample(1, default_rng(SeedSequence(seed, spawn_key=(split_id, i))))[0]; "
    "split_id: train 0, test 1"
)


# -- configuration -----------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class KLEConfig:
    """Log-permeability G ~ GP(mean, variance exp(-|x - x'| / length_scale)) (paper: l = 0.1, variance 1)."""

    length_scale: float = 0.1
    variance: float = 1.0
    mean: float = 0.0

    def __post_init__(self) -> None:
        for name in ("length_scale", "variance"):
            check_param(getattr(self, name) > 0, name, "a number > 0", getattr(self, name), "the KLE")


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """Samples per split (the paper: 512 + 512)."""

    train: int = 512
    test: int = 512

    def __post_init__(self) -> None:
        for name in ("train", "test"):
            check_param(getattr(self, name) >= 0, name, "an int >= 0", getattr(self, name), "the split")
        check_param(
            self.train + self.test > 0,
            "train",
            "> 0 (or test > 0): a dataset needs samples",
            self.train,
            "the split",
        )


@dataclass(frozen=True, kw_only=True)
class GenerationConfig:
    """What a Darcy dataset is made of (the TOML file of ``vaetk generate darcy``).

    Attributes
    ----------
    n : int
        Nodes per side of the grid (paper: 65).
    n_modes : int
        KLE modes s = dimension of theta (KLE2: 2).
    kle : KLEConfig
        ``[kle]`` length_scale, variance, mean.
    distribution : dict
        ``[distribution]``: ``name`` of a ``vaetk.distributions`` plugin (+ optional ``provider``) and its
        parameters; its dimension must equal ``n_modes``.
    scheme : {"paper", "conservative"}
        Discretisation (see :func:`vaetk.darcy.solve`).
    solver : str
        Solver name passed to :func:`vaetk.darcy.solve` (``"auto"``: the fastest available).
    solver_options : dict
        Parameters of that solver's Config (``solver_options = { maxiter = 300, tol = 1e-11 }``; see
        ``vaetk plugins list --group solvers``), checked when the config is read. The solver and its options may
        change when a store is resumed: every solver solves the same discrete problem to its tolerance, and each
        shard's trust record names the solver that made it.
    device : {"auto", "cpu", "cuda", "cuda:N"}, optional
        Solve with the device-generic ``torch`` solver on this device (``solver`` must then be ``"auto"`` or
        ``"torch"``); None: ``solver`` on the CPU. Results agree with the CPU solvers to within the solver
        tolerance, so a store may be resumed on another device (each shard's trust record names the one it used).
    source_quadrature : {"node", "cell"}, optional
        How the wells become node values; resolved from the scheme when omitted (paper: node).
    split : SplitConfig
        ``[split]`` train, test: samples per split.
    """

    n: int = 65
    n_modes: int = 2
    kle: KLEConfig = field(default_factory=KLEConfig)
    distribution: dict[str, Any] = field(default_factory=lambda: {"name": "standard_normal"})
    scheme: Literal["paper", "conservative"] = "paper"
    solver: str = "auto"
    solver_options: dict[str, Any] = field(default_factory=dict)
    device: str | None = None
    source_quadrature: Literal["node", "cell"] | None = None
    split: SplitConfig = field(default_factory=SplitConfig)

    def __post_init__(self) -> None:
        owner = "the generation config"
        check_param(self.n >= 3, "n", "an int >= 3 (nodes per side)", self.n, owner)
        check_param(
            1 <= self.n_modes <= self.n * self.n,
            "n_modes",
            f"an int in [1, n^2 = {self.n**2}]",
            self.n_modes,
            owner,
        )
        if self.device is not None:
            check_device(self.device, owner)
            check_param(self.solver in ("auto", DEVICE_SOLVER), "solver", f"'auto' or {DEVICE_SOLVER!r} when a "
                        f"device is set (device={self.device!r} runs the {DEVICE_SOLVER!r} solver)", self.solver,
                        owner)
        if self.source_quadrature is None:
            object.__setattr__(self, "source_quadrature", DEFAULT_QUADRATURE[self.scheme])
        self.make_solver()  # unknown solver names and options fail here, before any store exists
        dist = self.make_distribution()
        if dist.dim != self.n_modes:
            raise ConfigError(
                f"distribution: {self.distribution['name']!r} has dimension {dist.dim} but n_modes = "
                f"{self.n_modes}; theta needs one coefficient per KLE mode. Make them equal."
            )

    def make_solver(self) -> Any:
        """The configured solver plugin instance (``solver`` resolved for the scheme and device, with
        ``solver_options``)."""
        from vaetk.darcy._solve import AUTO_SOLVER
        from vaetk.registry import registry

        name = DEVICE_SOLVER if self.device is not None else AUTO_SOLVER[self.scheme] if self.solver == "auto" \
            else self.solver
        options = dict(self.solver_options, **({"device": self.device} if self.device is not None else {}))
        return registry.solvers.get(name)(options)

    def make_distribution(self) -> Any:
        """The configured p(theta) plugin instance."""
        from vaetk.distributions import create

        params = dict(self.distribution)
        name, provider = params.pop("name", None), params.pop("provider", None)
        if not isinstance(name, str):
            raise ConfigError(f"distribution.name: required key is missing or not a string (got {name!r}).")
        return create(name, params, provider=provider, path="distribution")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, path: str = "config") -> GenerationConfig:
        """Parse strictly (unknown keys are errors naming the key path, with suggestions)."""
        return parse_config(cls, data, path=path)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON/TOML-ready data (what stores record as their resolved config)."""
        return config_to_dict(self)

    def with_samples(self, n_samples: int | Mapping[str, int]) -> GenerationConfig:
        """A copy with ``n_samples`` in every split (an int) or per split (a mapping)."""
        if isinstance(n_samples, Mapping):
            unknown = set(n_samples) - set(SPLIT_IDS)
            if unknown:
                raise ConfigError(
                    f"n_samples: unknown split(s) {sorted(unknown)}; splits are {list(SPLIT_IDS)}."
                )
            split = dataclasses.replace(self.split, **dict(n_samples))
        else:
            check_param(
                is_int(n_samples, 1),
                "n_samples",
                "an int >= 1 (samples per split)",
                n_samples,
                "generate()",
            )
            split = SplitConfig(train=n_samples, test=n_samples)
        return dataclasses.replace(self, split=split)


def preset_names() -> list[str]:
    """Dataset presets shipped with vaetk (vaetk/configs/datasets/*.toml)."""
    return config_preset_names("datasets")


def load_config(spec: GenerationConfig | Mapping[str, Any] | str | os.PathLike[str]) -> GenerationConfig:
    """A GenerationConfig from itself, a mapping, a TOML file or a preset name (``"kle2_standard_normal"``).

    A string names a preset or a file by the rule of :func:`vaetk.config.preset_or_file`.

    Raises
    ------
    ConfigError
        Missing file / unknown preset (with suggestions), invalid TOML, unknown keys, bad values.
    """
    if isinstance(spec, GenerationConfig):
        return spec
    if isinstance(spec, Mapping):
        return GenerationConfig.from_dict(spec)
    table, path = preset_or_file(spec, "datasets")
    if path is not None and not table:
        # An empty file is a mistake far more often than a wish for the defaults (a truncated or wrong file),
        # and the defaults are a full-size dataset: say so instead of generating it (issue 15).
        raise ConfigError(
            f"{str(spec)!r} holds no settings (the file is empty or only comments), so every value would be a "
            "default and a full-size dataset would be generated without anyone choosing it. Write the "
            "settings you want (e.g. `n = 65` and a [split] table), or name a preset for the packaged "
            f"defaults: {', '.join(preset_names())}."
        )
    return GenerationConfig.from_dict(table, path=path.name if path is not None else str(spec).removeprefix("preset:"))


# -- the shard task ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShardTask:
    """Everything a worker needs to produce one shard (picklable; no open handles)."""

    root: str
    split: str
    shard: int
    start: int
    stop: int
    seed: int
    config: dict[str, Any]
    eigenvalues: np.ndarray
    modes: np.ndarray
    n_threads: int | None


def sample_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The generator of sample ``index`` of ``split`` (see the module docstring)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SPLIT_IDS[split], index)))


def sample_theta(distribution: Any, seed: int, split: str, start: int, stop: int) -> np.ndarray:
    """theta for samples ``start:stop`` of ``split``: shape (stop - start, s), independent of any batching."""
    rows = [distribution.sample(1, sample_rng(seed, split, i))[0] for i in range(start, stop)]
    return np.asarray(rows, dtype=np.float64).reshape(stop - start, distribution.dim)


@functools.lru_cache(maxsize=4)
def _worker_config(config_json: str) -> tuple[GenerationConfig, Any]:
    config = GenerationConfig.from_dict(json.loads(config_json))
    return config, config.make_distribution()


_OPEN_ARRAYS: dict[tuple[str, str, str], tuple[bytes, Any]] = {}


def _open_array(root: str, split: str, name: str) -> Any:
    """The zarr array ``split/name`` of the store at ``root``, opened once per worker process.

    Opening costs a few metadata reads and parses per shard; the cache is keyed by the array's metadata bytes,
    so a store that was overwritten (same path, other shape or codec) is opened afresh.
    """
    import zarr

    meta = (Path(root) / split / name / "zarr.json").read_bytes()
    cached = _OPEN_ARRAYS.get((root, split, name))
    if cached is not None and cached[0] == meta:
        return cached[1]
    if len(_OPEN_ARRAYS) >= 32:
        _OPEN_ARRAYS.clear()
    array = zarr.open_array(Path(root) / split / name, mode="r+")
    _OPEN_ARRAYS[(root, split, name)] = (meta, array)
    return array


def write_shard_arrays(root: str, split: str, start: int, arrays: dict[str, np.ndarray]) -> None:
    """Write one shard's arrays (each exactly one chunk along N)."""
    for name, values in arrays.items():
        _open_array(root, split, name)[start : start + len(values)] = values


def _check_visible(root: str) -> None:
    """Fail clearly when this worker cannot see the store (a Dask worker on another machine, or in a container,
    without the shared file system at the same path), instead of a misleading write error."""
    if (Path(root) / "zarr.json").is_file():
        return
    import socket

    raise DataError(
        f"A worker (host {socket.gethostname()}, process {os.getpid()}, working directory {os.getcwd()!r}) cannot "
        f"see the store {root!r}: no such {'store' if Path(root).is_dir() else 'directory'} there. Every worker "
        "must see the store at the same absolute path: run the workers on this machine, or put the store on a "
        "file system they share and mounted at the same path (and give --out on it)."
    )


def run_shard(task: ShardTask) -> dict[str, Any]:
    """Produce, write and flag one shard; return its completion record. Runs in worker processes."""
    from vaetk.darcy._kle import KLEBasis
    from vaetk.darcy._solve import solve

    _check_visible(task.root)
    config, distribution = _worker_config(json.dumps(task.config, sort_keys=True))
    theta = sample_theta(distribution, task.seed, task.split, task.start, task.stop)
    basis = KLEBasis(
        n=config.n,
        length_scale=config.kle.length_scale,
        variance=config.kle.variance,
        mean=config.kle.mean,
        eigenvalues=task.eigenvalues,
        modes=task.modes,
    )
    permeability = basis.permeability(theta)
    try:
        fields, info = solve(
            permeability,
            scheme=config.scheme,
            solver=config.make_solver(),
            n_threads=task.n_threads,
            source_quadrature=config.source_quadrature,
            return_info=True,
        )
    except SolverError as exc:
        where = ", ".join(str(task.start + i) for i in exc.samples[:5]) + (" ..." if len(exc.samples) > 5 else "")
        raise SolverError(
            f"Split {task.split!r}, global sample index {where or f'{task.start}-{task.stop - 1}'} (shard "
            f"{task.shard}; the solver below counts from its first sample, {task.start}): {exc} To change the "
            "solver or its settings, set solver / solver_options in the config and run again with --resume (the "
            "shards already written stay valid).",
            samples=tuple(task.start + i for i in exc.samples)) from None
    arrays = {
        "fields": fields.astype(np.float32),
        "theta": theta,
        "permeability": permeability.astype(np.float32),
    }
    write_shard_arrays(task.root, task.split, task.start, arrays)
    record = {
        "split": task.split,
        "shard": task.shard,
        "start": task.start,
        "stop": task.stop,
        **_store.shard_checksums(arrays),
        "trust": {
            "solver": info.solver,
            "device": info.device,
            "tol": float(info.tol),
            "residual_max": float(np.max(info.residual)),
            "mass_balance_max": float(np.max(info.mass_balance)),
            "zero_mean_max": float(np.max(info.zero_mean)),
            "iterations_max": int(np.max(info.iterations)),
        },
    }
    _store.write_flag(Path(task.root), task.split, task.shard, record)  # only now is the shard complete
    return record


# -- generation --------------------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("vaetk", "numpy", "scipy", "zarr"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _check_int(value: Any, name: str, minimum: int) -> None:
    check_param(
        value is None or is_int(value, minimum),
        name,
        f"an int >= {minimum} (or None)",
        value,
        "generate()",
    )


# Everything is nondimensional: the unit square, unit viscosity, wells of strength 10 (paper eq. 16).
FIELD_ATTRS = {
    "long_name": "pressure and Darcy velocity",
    "channel_names": ["p", "u_x", "u_y"],
    "channel_long_names": ["pressure", "Darcy velocity, x component", "Darcy velocity, y component"],
    "units": "1 (nondimensional)",
}
COORDINATE_ATTRS = {
    "x": {"long_name": "x (column) node coordinate", "units": "1 (domain length)"},
    "y": {"long_name": "y (row) node coordinate", "units": "1 (domain length)"},
}


def _plugin_records(config: GenerationConfig) -> dict[str, Any]:
    """The distribution plugin that drew theta: name, fully resolved configuration (defaults included), and the
    package (distribution and version) that provided it, as run directories record their plugins."""
    from vaetk.registry import registry

    table = dict(config.distribution)
    info = registry.distributions.info(table["name"], provider=table.get("provider"))
    instance = config.make_distribution()
    resolved = config_to_dict(instance.config) if getattr(instance, "config", None) is not None else {}
    return {"distribution": {"name": info.name, "config": resolved, "distribution": info.distribution,
                             "version": info.version}}


def _create_store(root: Path, config: GenerationConfig, seed: int, shard_size: int) -> None:
    """Write the store's structure and attributes (no data yet)."""
    import zarr

    from vaetk.darcy._kle import kle_basis
    from vaetk.darcy._verify import observed_order

    basis = kle_basis(
        config.n,
        length_scale=config.kle.length_scale,
        variance=config.kle.variance,
        mean=config.kle.mean,
        n_modes=config.n_modes,
    )
    splits = {s: getattr(config.split, s) for s in SPLIT_IDS if getattr(config.split, s) > 0}
    group = zarr.open_group(root, mode="a", use_consolidated=False)  # the directory already holds our lock
    # The marker first: a store interrupted while being created is still recognised (and can be overwritten).
    group.attrs.update(
        {"vaetk_store": {"kind": _store.KIND, "format_version": _store.FORMAT_VERSION}, "status": "creating"}
    )
    modes = group.create_array(
        "kle_modes",
        shape=basis.modes.shape,
        chunks=basis.modes.shape,
        dtype="float64",
        compressors=None,
        fill_value=0.0,
        dimension_names=("mode", "y", "x"),
        attributes={"long_name": "Karhunen-Loeve modes of the log-permeability (eigenvalue-scaled)"},
    )
    modes[...] = basis.modes
    codec = zarr.codecs.BloscCodec(**STORE_CODEC)
    n, s = config.n, config.n_modes
    for split, count in splits.items():
        g = group.create_group(split)
        size = min(shard_size, count)
        # dimension_names, coordinates and attributes make every split a dataset xarray opens as is
        # (xr.open_zarr(store, group="train")); the attributes say what the numbers are.
        for axis in ("y", "x"):
            coord = g.create_array(axis, shape=(n,), dtype="float64", compressors=None, fill_value=0.0,
                                   dimension_names=(axis,), attributes=COORDINATE_ATTRS[axis])
            coord[...] = np.linspace(0.0, 1.0, n)
        g.create_array(
            "fields",
            shape=(count, 3, n, n),
            chunks=(size, 3, n, n),
            dtype="float32",
            compressors=codec,
            fill_value=0.0,
            dimension_names=("sample", "channel", "y", "x"),
            attributes=FIELD_ATTRS,
        )
        g.create_array(
            "theta", shape=(count, s), chunks=(size, s), dtype="float64", compressors=codec, fill_value=0.0,
            dimension_names=("sample", "factor"),
            attributes={"long_name": "generative parameters (KLE coefficients)", "units": "1",
                        "factor_names": [f"theta_{i + 1}" for i in range(s)]},
        )
        g.create_array(
            "permeability",
            shape=(count, n, n),
            chunks=(size, n, n),
            dtype="float32",
            compressors=codec,
            fill_value=0.0,
            dimension_names=("sample", "y", "x"),
            attributes={"long_name": "permeability K = exp(log-permeability)", "units": "1 (nondimensional)"},
        )
        g.attrs.update(
            {
                "n_samples": count,
                "shard_size": shard_size,
                "n_shards": math.ceil(count / shard_size),
                "split_id": SPLIT_IDS[split],
            }
        )
    _store.init_bookkeeping(root, splits)
    group.attrs.update(
        {
            "config": config.to_dict(),
            "splits": splits,
            "seed": seed,
            "seed_derivation": SEED_DERIVATION,
            "shard_size": shard_size,
            "versions": _versions(),
            "plugins": _plugin_records(config),
            "kle": {
                **basis.params,
                "eigenvalues": basis.eigenvalues.tolist(),
                "modes_sha256": _store.array_sha256(basis.modes),
            },
            "verification": observed_order(config.scheme, config.solver),
            "status": "incomplete",
        }
    )


def _stored_config(root: Path, resume: bool) -> GenerationConfig:
    """The configuration a store records (``generate(None, out, resume=True)``: finish or repair it as it was
    started); its device is not kept (where it was solved, not what it holds): pass ``device`` for a GPU."""
    if not resume:
        raise ConfigError("generate(): a configuration (a preset, a TOML file or a GenerationConfig) is required, "
                          "except with resume=True (--resume), which reads the store's own.")
    if not _store.is_store(root):
        raise DataError(f"Cannot resume {str(root)!r} without a configuration: it is not a dataset store that "
                        "records one (its creation may have been interrupted). Give the configuration "
                        "(vaetk generate darcy CONFIG --out ... --resume).")
    stored = dict(_store.open_store(root).attrs.get("config") or {})
    if not stored:
        raise DataError(f"The store {str(root)!r} records no configuration; give it (CONFIG) to resume.")
    stored["device"] = None
    return GenerationConfig.from_dict(stored, path=f"{root.name} (recorded configuration)")


def _repair_kle_modes(info: _store.StoreInfo, config: GenerationConfig, problem: str) -> None:
    """Rewrite a damaged ``kle_modes`` (``problem`` says how) from the store's KLE parameters, if the recomputed
    basis hashes to the recorded SHA-256 (the eigensolver is deterministic for a given grid); otherwise refuse to
    add shards."""
    from vaetk.darcy._kle import kle_basis

    basis = kle_basis(config.n, length_scale=config.kle.length_scale, variance=config.kle.variance,
                      mean=config.kle.mean, n_modes=config.n_modes)
    if _store.array_sha256(basis.modes) != info.attrs["kle"]["modes_sha256"]:
        raise DataError(f"The store {str(info.path)!r}: {problem}, and recomputing the basis does not reproduce "
                        "it (another eigensolver or library version?); new shards would not match the old ones. "
                        "Regenerate the store with --overwrite.")
    info.root["kle_modes"][...] = basis.modes


def _clear(root: Path) -> None:
    """Delete a store's contents except its lock (held by the caller)."""
    for child in root.iterdir():
        if child.name == "_vaetk":
            for sub in child.iterdir():
                if sub.name != "lock":
                    shutil.rmtree(sub) if sub.is_dir() else sub.unlink()
        else:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _check_resume(
    info: _store.StoreInfo, config: GenerationConfig, seed: int | None, shard_size: int | None
) -> tuple[int, int]:
    attrs = info.attrs
    problems = []
    stored = attrs["config"]
    wanted = config.to_dict()
    for key in sorted(set(stored) | set(wanted)):
        if key in ("device", "solver", "solver_options"):  # how the same discrete problem is solved, to tolerance
            continue
        if stored.get(key) != wanted.get(key):
            problems.append(f"{key}: store has {stored.get(key)!r}, requested {wanted.get(key)!r}")
    if seed is not None and seed != attrs["seed"]:
        problems.append(f"seed: store has {attrs['seed']}, requested {seed}")
    if shard_size is not None and shard_size != attrs["shard_size"]:
        problems.append(f"shard_size: store has {attrs['shard_size']}, requested {shard_size}")
    if problems:
        raise ConfigError(
            f"Cannot resume {str(info.path)!r}: it was started with different settings ("
            + "; ".join(problems)
            + "). Resume with the original settings, or start again with "
            "--overwrite."
        )
    return int(attrs["seed"]), int(attrs["shard_size"])


def _scheduler(executor: Any, scheduler: Any) -> Any:
    """The scheduler (:mod:`vaetk._executors`) that ``generate(executor=..., scheduler=...)`` asks for.

    Raises
    ------
    ConfigError
        Both given, or an executor or scheduler that is not accepted.
    """
    from vaetk._executors import check_scheduler

    if executor is not None and scheduler is not None:
        raise ConfigError(
            f"generate(): executor={executor!r} and scheduler={scheduler!r} both say where tasks run; give "
            f"scheduler only."
        )
    if executor is None or executor == "local":
        check_scheduler(scheduler)
        return scheduler
    if executor == "dask":  # the current default client, else a LocalCluster for this run
        try:
            import distributed
        except ImportError:
            raise ConfigError("executor='dask' needs dask.distributed: pip install 'vaetk[dask]'.") from None
        try:
            return distributed.get_client()
        except ValueError:
            return LOCAL_CLUSTER
    try:  # an address, a Client or an Executor means the same as a scheduler
        check_scheduler(executor)
    except ConfigError:
        raise ConfigError(
            f"Unknown executor {executor!r}. Use None or 'local' (process pool), 'dask' (a Dask cluster), a "
            f"scheduler address such as 'tcp://127.0.0.1:8786', a distributed.Client or a "
            f"concurrent.futures.Executor; or say where tasks run with scheduler= instead."
        ) from None
    return executor


def generate(
    config: GenerationConfig | Mapping[str, Any] | str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    *,
    n_samples: int | Mapping[str, int] | None = None,
    seed: int | None = None,
    shard_size: int | None = None,
    executor: Any = None,
    resume: bool = False,
    overwrite: bool = False,
    n_workers: int | None = None,
    n_threads: int | None = None,
    progress: bool = False,
    scheduler: Any = None,
    device: str | None = None,
) -> _store.StoreInfo:
    """Generate a Darcy dataset into a Zarr v3 store (or finish an interrupted one).

    Parameters
    ----------
    config : GenerationConfig, mapping, TOML path, preset name or None
        What to generate (see :class:`GenerationConfig`; presets: :func:`preset_names`). None, with ``resume``
        only: the configuration the store records (how ``vaetk generate darcy --out DIR.zarr --resume`` finishes
        or repairs a store).
    out : path-like
        The store directory (``DIR.zarr``), made absolute before any task is shipped. Must not exist, be empty,
        or be a vaetk store with ``resume`` or ``overwrite``. A store whose creation was interrupted (only its
        lock or part of its metadata written) is started afresh by either.
    n_samples : int or mapping, optional
        Override the config's split sizes: an int gives every split that many samples; ``{"train": 1000,
        "test": 0}`` sets them one by one.
    seed : int, optional
        Root seed. None: a fresh random one (recorded) for a new store, the stored one when resuming.
    shard_size : int, optional
        Samples per shard (= per chunk along N). Default 256 (DEFAULT_SHARD_SIZE), or the stored one when resuming.
    executor : None, "local", "dask", scheduler address, distributed.Client or concurrent.futures.Executor
        The older way to say where shard tasks run, kept working: None or "local" is a local pool (as
        ``scheduler=None``); "dask" is the current default Dask client, or else a LocalCluster (as
        ``scheduler="local"``); an address, a Client or an Executor is used as ``scheduler``. Give ``executor``
        or ``scheduler``, not both.
    resume : bool
        Finish an interrupted store, or repair a damaged one: shards already flagged complete and matching their
        checksums are kept, every other shard is (re)generated; the returned StoreInfo's ``repaired`` names the
        damaged shards that were regenerated.
    overwrite : bool
        Delete an existing vaetk store at ``out`` first (never a foreign directory).
    n_workers : int, optional
        Worker processes for the local pool or a LocalCluster started here (default: available CPUs; 1 runs in
        this process).
    n_threads : int, optional
        Threads per solve call (see :func:`vaetk.darcy.solve`); results do not depend on it.
    progress : bool
        Show a tqdm progress bar (samples).
    device : {"auto", "cpu", "cuda", "cuda:N"}, optional
        Override the config's ``device`` (solve with the ``torch`` solver there). Checked before anything is
        written: asking for CUDA on a machine without it is a ConfigError. With a CUDA device ``n_workers``
        defaults to 1 (one process feeds the GPU whole shards).
    scheduler : None, "local", scheduler address, distributed.Client or concurrent.futures.Executor
        Where shard tasks run (see :mod:`vaetk._executors`): None, a local pool of ``n_workers`` processes
        (this process when ``n_workers`` is 1); "local", a Dask LocalCluster of ``n_workers`` workers started
        for this run; an address ("tcp://host:8786"), the Dask scheduler there. A Dask cluster's workers must
        see ``out`` at the same path (same machine or a shared file system).

    Returns
    -------
    StoreInfo
        The completed store, opened read-only; ``repaired``: ``{split: [shard, ...]}`` of the shards that were
        flagged complete but failed verification and were regenerated (empty unless resuming a damaged store).

    Raises
    ------
    ConfigError
        Bad config or arguments; resume with settings that differ from the store's.
    DataError
        Output exists and is not resumable/overwritable, foreign or corrupted store, store locked by another
        run,
        disk full or unwritable (completed shards are kept; fix the cause and resume).
    """
    from vaetk._executors import describe_scheduler, run_tasks
    from vaetk._threads import available_cpus

    # Absolute before anything is shipped: a Dask worker runs in another working directory (issue 15).
    root = Path(os.path.abspath(out))
    if config is None:  # the repair command: the store's own recorded configuration
        config = _stored_config(root, resume)
    config = load_config(config)
    if n_samples is not None:
        config = config.with_samples(n_samples)
    if device is not None:
        config = dataclasses.replace(config, device=device)
    gpu = False
    if config.device is not None:
        from vaetk.darcy._torch_solver import resolve_device

        gpu = resolve_device(config.device).type == "cuda"  # fails here, before the store exists
    _check_int(seed, "seed", 0)
    _check_int(shard_size, "shard_size", 1)
    _check_int(n_workers, "n_workers", 1)
    if resume and overwrite:
        raise ConfigError("generate(): resume and overwrite exclude each other; pick one.")
    scheduler = _scheduler(executor, scheduler)
    n_workers = n_workers or (1 if gpu else available_cpus())
    if not gpu and scheduler in (None, LOCAL_CLUSTER):  # work on this machine: its memory must suffice
        from vaetk._memory import check_memory, darcy_solve_bytes  # before anything is allocated (issue 15)

        batch = min(shard_size or DEFAULT_SHARD_SIZE, max(config.split.train, config.split.test))
        check_memory(n_workers * darcy_solve_bytes(config.n, batch, config.n_modes),
                     f"generating on a {config.n} x {config.n} grid ({n_workers} worker(s) solving {batch} sample(s) "
                     "at once)", "Use a smaller grid (n), fewer --workers or a smaller --shard-size.")
    if root.exists() and not root.is_dir():
        raise DataError(
            f"The output {str(root)!r} is a file; give a directory path (DIR.zarr) for the store."
        )
    existing = root.is_dir() and any(root.iterdir())
    if existing and not _store.is_store(root) and not _store.started_store(root):
        raise DataError(
            f"The output {str(root)!r} exists, is not empty and is not a vaetk dataset store. vaetk will not "
            f"write into or delete it; choose another --out path or empty it yourself."
        )
    if existing and not (resume or overwrite):
        raise DataError(
            f"The output {str(root)!r} already holds a dataset store. Pass --resume (resume=True) to "
            f"finish it, or --overwrite (overwrite=True) to replace it."
        )
    root.mkdir(parents=True, exist_ok=True)
    repaired_basis = False
    with _store.writer_lock(root):
        # A store whose creation was interrupted (killed, out of memory) holds no data: start it afresh, whether
        # resumed or overwritten (checked under the lock, so a live creator is never disturbed).
        if existing and (overwrite or _store.started_store(root)):
            _clear(root)
            existing = False
        if existing:
            info = _store.open_store(root, mode="r+")
            seed, shard_size = _check_resume(info, config, seed, shard_size)
            basis_problem = _store.kle_modes_problem(info)
            repaired_basis = basis_problem is not None
            if repaired_basis:  # new shards are built from it: repair it first
                _repair_kle_modes(info, config, basis_problem)
        else:
            seed = int(np.random.SeedSequence().entropy) if seed is None else seed
            shard_size = shard_size or DEFAULT_SHARD_SIZE
            _create_store(root, config, seed, shard_size)
            info = _store.open_store(root, mode="r+")
        modes = np.asarray(info.root["kle_modes"][...])
        eigenvalues = np.asarray(info.attrs["kle"]["eigenvalues"])

        tasks: list[ShardTask] = []
        # flagged complete, but their data fails verification: regenerated, and reported as repaired
        damaged = {split: sorted(bad) for split, bad in _store.verify_store(info).items()} if existing else {}
        for split, count in info.splits.items():
            n_shards = math.ceil(count / shard_size)
            redo = sorted({*info.missing_shards(split), *damaged.get(split, ())}) if existing else range(n_shards)
            for k in redo:
                tasks.append(
                    ShardTask(
                        str(root),
                        split,
                        k,
                        k * shard_size,
                        min((k + 1) * shard_size, count),
                        seed,
                        config.to_dict(),
                        eigenvalues,
                        modes,
                        n_threads,
                    )
                )
        total = sum(info.splits.values())
        todo = sum(t.stop - t.start for t in tasks)
        run = uuid.uuid4().hex[:8]
        keys = [f"vaetk-shard-{t.split}-{t.shard}-{run}" for t in tasks]
        from tqdm.auto import tqdm

        with tqdm(
            total=total,
            initial=total - todo,
            unit="sample",
            disable=not progress,
            desc=f"generate ({describe_scheduler(scheduler)}, {n_workers} workers)",
        ) as bar:
            done = 0  # samples written by this run (tqdm does not count when disabled)
            try:
                for _, record in run_tasks(run_shard, tasks, scheduler=scheduler, workers=n_workers, keys=keys):
                    done += record["stop"] - record["start"]
                    bar.update(record["stop"] - record["start"])
            except OSError as exc:
                reason = "the disk is full" if exc.errno == errno.ENOSPC else f"a write failed ({exc})"
                raise DataError(
                    f"Generation into {str(root)!r} stopped: {reason}. {done} samples of this run were "
                    f"written and flagged complete and are kept; no completed shard was touched. "
                    f"Free space (or fix the "
                    f"cause) and run the same command with --resume."
                ) from exc
        _finalise(root)
    _store.consolidate(root)  # after the lock is gone, so the summary does not list it
    if repaired_basis:
        damaged = {"kle_modes": [], **damaged}
    return dataclasses.replace(_store.open_store(root, require_complete=True), repaired=damaged)


def _finalise(root: Path) -> None:
    """Record the trust summary per split and mark the store complete (coordinating process only)."""
    import zarr

    group = zarr.open_group(root, mode="r+", use_consolidated=False)
    splits = group.attrs["splits"]
    summary = {}
    for split in splits:
        n_shards = int(group[split].attrs["n_shards"])
        records = [_store.read_flag(root, split, k) for k in range(n_shards)]
        if any(r is None for r in records):
            raise DataError(
                f"Internal error: split {split!r} of {str(root)!r} has unflagged shards after the run; "
                f"run again with --resume."
            )
        summary[split] = _store.summarise_trust(records)  # type: ignore[arg-type]
        group[split].attrs["trust"] = summary[split]
    group.attrs.update({"trust": summary, "status": "complete"})
