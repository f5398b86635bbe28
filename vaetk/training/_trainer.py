"""The trainer: one loop for every architecture and prior (it never looks at their names).

What it guarantees:

- **Seeded and deterministic.** The mini-batch order of epoch e comes from a generator seeded by (seed, e); the
  reparameterisation noise from a generator seeded by the run seed; the global torch RNG (used by priors with
  their own sampling) is seeded once. ``torch.use_deterministic_algorithms`` is on during training (CPU: results
  are bitwise reproducible for a fixed thread count). Evaluation runs under ``torch.random.fork_rng`` with its
  own seed, so logging never changes the training trajectory.
- **Resumable.** A checkpoint holds weights, optimiser, schedule, RNG states and history; resuming from one
  reaches bitwise the same final weights on CPU as an uninterrupted run.
- **Fails early and clearly.** A one-batch sanity check before training; a non-finite loss stops training with
  the epoch, the step and the names of the non-finite terms.
- BatchNorm (and dropout) are in eval mode whenever the model is evaluated.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from vaetk.errors import ComponentError, DataError
from vaetk.models.gaussian import unrepresentable_logvar
from vaetk.models.vae import NORMALIZATIONS, VAE, LossTerms, check_dataset
from vaetk.training._config import ExperimentConfig
from vaetk.training._detector import ConstantPredictor, constant_predictor, detect_over_regularization
from vaetk.training._schedules import BetaSchedule, PiecewiseLR, make_schedule
from vaetk.training._streaming import CHUNK, chunks, dataset_columns, is_streamed

__all__ = [
    "EpochCallback",
    "TrainResult",
    "Trainer",
    "derive_seed",
    "encode_dataset",
    "evaluate_model",
    "resolve_device",
    "select_labels",
]

EpochCallback = Callable[["Trainer", dict[str, float]], None]


def derive_seed(*keys: int) -> int:
    """A 63-bit seed derived from integers with numpy's SeedSequence (independent streams per key tuple)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(2, dtype=np.uint64)[0] >> np.uint64(1))


# Stream keys of the derived seeds (never reuse one for another purpose).
_WEIGHTS, _NOISE, _GLOBAL, _BATCHES, _EVAL = 1, 2, 3, 4, 5


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else is checked and returned."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DataError(f"device {device!r} was requested but CUDA is not available in this torch build/machine; "
                        "use device = 'cpu' or 'auto'.")
    return dev


def select_labels(n_train: int, n_labels: int, seed: int) -> np.ndarray:
    """Indices (sorted) of the ``n_labels`` labelled training samples, drawn without replacement with ``seed``."""
    if n_labels > n_train:
        raise DataError(f"semi_supervised.n_labels = {n_labels} is larger than the training set ({n_train} "
                        "samples); labels are drawn from the training split.")
    return np.sort(np.random.default_rng(seed).choice(n_train, size=n_labels, replace=False))


@contextmanager
def _deterministic(enabled: bool, device: torch.device) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=device.type != "cpu")
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


@contextmanager
def _matmul_precision(precision: str) -> Iterator[None]:
    """TF32 matrix products and convolutions on CUDA for ``"tf32"``, plain float32 otherwise (restored after)."""
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    tf32 = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = tf32
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


@contextmanager
def _torch_threads(n_threads: int | None) -> Iterator[None]:
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def _eval_mode(model: torch.nn.Module, seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Eval mode, no grad, and an isolated RNG (the training streams are untouched)."""
    was_training = model.training
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch.no_grad():
        torch.manual_seed(seed)
        model.eval()
        try:
            yield torch.Generator(device=device).manual_seed(seed)
        finally:
            model.train(was_training)


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Attributes
    ----------
    history : list of dict
        One row per completed epoch (see :attr:`Trainer.history`).
    final : dict
        Final training-set and test-set losses in both units, S_D, beta.
    baseline : ConstantPredictor
        The training data's constant predictor (Theorem 1).
    over_regularized : bool
        The detector's verdict on the final model.
    label_indices : ndarray of shape (n_labels,)
        Training indices of the labelled samples.
    seconds : float
        Wall time of this call (training + final evaluation).
    """

    history: list[dict[str, float]]
    final: dict[str, float]
    baseline: ConstantPredictor
    over_regularized: bool
    label_indices: np.ndarray
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpochSums:
    """Running sums of an epoch's steps: batch means times batch sizes, and the samples seen."""

    terms: dict[str, float] = field(default_factory=dict)
    objective: float = 0.0
    seen: int = 0  # samples seen (labelled ones are seen at every step)


def _finite_terms(terms: LossTerms, objective: Tensor) -> list[str]:
    bad = []
    for name, t in (("L_REC", terms.rec), ("L_REG", terms.reg), ("L_SUP", terms.sup), ("loss", objective)):
        if not bool(torch.isfinite(t).all()):
            bad.append(name)
    return bad


class Trainer:
    """Train a :class:`~vaetk.models.vae.VAE` on in-memory tensors.

    Parameters
    ----------
    config : ExperimentConfig
        Uses ``training``, ``schedule`` and ``semi_supervised`` (``data`` and ``model`` are the caller's job).
    model : VAE
        Built (and seeded) by the caller, e.g. with :func:`vaetk.training.build_model`.
    train_x : Tensor of shape (N, C, H, W), or a Dataset / DataLoader
        The fields; or a map-style Dataset of ``(fields, theta)`` items (a DataLoader: its Dataset), read one
        mini-batch at a time, so data larger than memory can stream from a store
        (``DarcyDataset(path, return_theta=True, in_memory=False)``); the batch order, and so the run, is the same.
    train_theta : Tensor of shape (N, s)
        Generative parameters (needed for labels and S_D); None when ``train_x`` is a Dataset.
    test_x, test_theta : Tensor or Dataset, optional
        Held-out data for the per-epoch test losses and S_D (the same forms).
    checkpoint : callable, optional
        ``checkpoint(state: dict)`` persists a checkpoint (the run directory's writer); called every
        ``training.checkpoint_every`` epochs and at the end.
    callbacks : sequence of callables
        ``callback(trainer, row)`` after each epoch (row: that epoch's metrics). Raising stops training.
    progress : bool
        Show a tqdm progress bar over epochs.
    """

    def __init__(self, config: ExperimentConfig, model: VAE, train_x: Tensor | Dataset | DataLoader,
                 train_theta: Tensor | None = None, test_x: Tensor | Dataset | DataLoader | None = None,
                 test_theta: Tensor | None = None, *,
                 checkpoint: Callable[[dict[str, Any]], None] | None = None,
                 callbacks: Sequence[EpochCallback] = (), progress: bool = False) -> None:
        self.config = config
        tc = config.training
        self.device = resolve_device(tc.device)
        train_x, train_theta = _as_columns(train_x, train_theta, "training")
        _check_data(train_x, train_theta, "training")
        if test_x is not None:
            test_x, test_theta = _as_columns(test_x, test_theta, "test")
            _check_data(test_x, test_theta, "test")
            if tuple(test_x.shape[1:]) != tuple(train_x.shape[1:]):
                raise DataError(f"Test samples have shape {tuple(test_x.shape[1:])}, training samples "
                                f"{tuple(train_x.shape[1:])}.")
        if tuple(train_x.shape[1:]) != tuple(model.input_shape):
            raise DataError(f"The data's sample shape {tuple(train_x.shape[1:])} does not fit the model, built for "
                            f"{tuple(model.input_shape)} (C, H, W).")
        self.model = model.to(self.device)
        if tc.compile:  # instance attributes shadow the methods; the weights and state_dict are unchanged
            arch = self.model.architecture
            arch.encode, arch.decode = torch.compile(arch.encode), torch.compile(arch.decode)
        self.train_x = train_x.to(self.device, torch.float32)
        self.train_theta = train_theta.to(self.device, torch.float32)
        self.test_x = None if test_x is None else test_x.to(self.device, torch.float32)
        self.test_theta = None if test_theta is None else test_theta.to(self.device, torch.float32)
        self.n_train = int(train_x.shape[0])
        self.batch_size = self.n_train if tc.batch_size == 0 else min(tc.batch_size, self.n_train)
        self.steps_per_epoch = math.ceil(self.n_train / self.batch_size)
        self.schedule: BetaSchedule = make_schedule(config.schedule_kind, config.schedule_config,
                                                    steps_per_epoch=self.steps_per_epoch)
        self.lr_schedule = PiecewiseLR(tc.lr, tc.lr_milestones)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=tc.lr)
        ss = config.semi_supervised
        self.label_indices = select_labels(self.n_train, ss.n_labels, ss.label_seed)
        if ss.n_labels and self.train_theta.shape[1] != model.latent_dim:
            raise DataError(f"Semi-supervised training needs one generative parameter per latent dimension: "
                            f"theta has {self.train_theta.shape[1]} columns, latent_dim is {model.latent_dim}.")
        self.labelled = torch.zeros(self.n_train, dtype=torch.bool, device=self.device)
        self.labelled[torch.as_tensor(self.label_indices, dtype=torch.long, device=self.device)] = True
        self.baseline = constant_predictor(self.train_x)
        self.noise = torch.Generator(device=self.device).manual_seed(derive_seed(tc.seed, _NOISE))
        self.history: list[dict[str, float]] = []
        self.initial: dict[str, float] = {}  # test-set metrics of the initial model (epoch 0)
        self.epoch = 0  # epochs completed
        self._checkpoint = checkpoint
        self.callbacks = list(callbacks)
        self.progress = progress

    # -- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (what a checkpoint holds)."""
        rng = {"global": torch.get_rng_state(), "noise": self.noise.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "rng": rng,
            "history": [dict(row) for row in self.history],
            "initial": dict(self.initial),
            "label_indices": torch.as_tensor(self.label_indices, dtype=torch.long),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict` (e.g. a checkpoint) to continue training."""
        saved_labels = np.asarray(state["label_indices"])
        if not np.array_equal(saved_labels, self.label_indices):
            raise DataError("The checkpoint's labelled samples differ from this run's (different n_labels, "
                            "label_seed or training set); it belongs to another run.")
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise DataError(f"The checkpoint does not fit this model: {exc}") from None
        self.schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"]["global"].cpu())
        self.noise.set_state(state["rng"]["noise"].cpu() if self.device.type == "cpu" else state["rng"]["noise"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"].cpu(), self.device)
        self.history = [dict(row) for row in state["history"]]
        self.initial = dict(state.get("initial", {}))  # absent in checkpoints written before it was recorded
        self.epoch = int(state["epoch"])

    # -- the loop ---------------------------------------------------------------------------------------------
    def fit(self, *, resume_state: dict[str, Any] | None = None) -> TrainResult:
        """Train for ``training.epochs`` epochs (continuing from ``resume_state`` when given)."""
        start = time.perf_counter()
        tc = self.config.training
        with self.training_context():
            self.begin(resume_state)
            bar = None
            if self.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=tc.epochs, initial=self.epoch, desc="training", unit="epoch", leave=False)
            try:
                while self.epoch < tc.epochs:
                    row = self._run_epoch(self.epoch)
                    self.end_epoch(row)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(rec=f"{row['train_rec_per_pixel']:.3f}",
                                        reg=f"{row['train_reg_per_pixel']:.3f}", beta=f"{row['beta']:.2g}")
            finally:
                if bar is not None:
                    bar.close()
            return self.result(start)

    # The pieces of fit(), also driven by the ensemble trainer (vaetk.training._ensemble), which replaces only the
    # optimisation steps of an epoch.
    @contextmanager
    def training_context(self) -> Iterator[None]:
        """Deterministic algorithms, thread count and matmul precision of training (restored after)."""
        tc = self.config.training
        with _deterministic(tc.deterministic, self.device), _torch_threads(tc.n_threads), \
                _matmul_precision(tc.precision):
            yield

    def begin(self, resume_state: dict[str, Any] | None = None) -> None:
        """Restore ``resume_state``, or seed the global RNG, initialise from the data, run the sanity check and
        evaluate the initial model."""
        tc = self.config.training
        if resume_state is not None:
            self.load_state_dict(resume_state)
            return
        torch.manual_seed(derive_seed(tc.seed, _GLOBAL))
        if self.config.model.init_decoder_logvar:
            self.model.architecture.init_decoder_logvar(self.baseline.variance)
        if self.config.model.init_decoder_mean:
            self.model.architecture.init_decoder_mean(self.baseline.mean)
        if self.config.model.standardize:
            self.model.architecture.init_standardization(self.baseline.mean, self.baseline.channel_std)
        if tc.sanity_check:
            self.sanity_check()
        if self.test_x is not None:  # where the orientation starts (isolated RNG: training is unchanged)
            self.initial = {f"test_{k}": v for k, v in self.evaluate(self.test_x, self.test_theta).items()}

    def end_epoch(self, row: dict[str, float]) -> None:
        """Count a finished epoch: history, checkpoint when due, callbacks."""
        tc = self.config.training
        self.epoch += 1
        self.history.append(row)
        due = tc.checkpoint_every and self.epoch % tc.checkpoint_every == 0
        if self._checkpoint is not None and (due or self.epoch == tc.epochs):
            self._checkpoint(self.state_dict())
        for callback in self.callbacks:
            callback(self, row)

    def result(self, start: float) -> TrainResult:
        """Final metrics and the detector's verdict (``start``: ``time.perf_counter()`` when fit began)."""
        tc = self.config.training
        final = self.final_metrics()
        over = detect_over_regularization(
            final["train_rec_per_pixel"], final["train_reg_per_pixel"], self.baseline,
            reg_tol=tc.detector_reg_tol, rec_margin=tc.detector_rec_margin)
        return TrainResult(self.history, final, self.baseline, over, self.label_indices,
                           time.perf_counter() - start)

    def _batches(self, epoch: int) -> list[Tensor]:
        """The mini-batches of ``epoch``: a seeded permutation split into ``batch_size`` pieces, each extended by
        the labelled samples it lacks, so every step sees all labels (as the authors' semi-supervised code did)."""
        gen = torch.Generator().manual_seed(derive_seed(self.config.training.seed, _BATCHES, epoch))
        order = torch.randperm(self.n_train, generator=gen).to(self.device)
        batches = list(torch.split(order, self.batch_size))
        if len(batches) > 1 and len(batches[-1]) == 1:  # BatchNorm cannot train on one sample
            batches[-2] = torch.cat(batches[-2:])
            batches.pop()
        if len(self.label_indices) and len(batches) > 1:
            labels = torch.as_tensor(self.label_indices, dtype=torch.long, device=self.device)
            batches = [torch.cat([b, labels[~torch.isin(labels, b)]]) for b in batches]
        return batches

    def _non_finite_hint(self, x: Tensor) -> str:
        """The likely cause of a non-finite loss on batch x, for the error message."""
        with torch.no_grad():
            logvar = self.model.encode(x)[1]
        if bool(unrepresentable_logvar(logvar).any()):
            floor = float(logvar.min())
            return (f"The encoder log-variance reached {floor:.0f} (posterior standard deviation "
                    f"exp({floor / 2:.0f})), beyond what {logvar.dtype} can hold, so a sampled log q(z|x) becomes "
                    "0 * inf (compute it with vaetk.models.gaussian.sample_log_density, which handles this). Nothing "
                    "bounds the posterior variance in a long reconstruction-only phase: shorten "
                    "schedule.reconstruction_epochs, or use an analytic regulariser.")
        return ("Lower the learning rate, check the data for NaN/inf, or keep the decoder log-variance initialised "
                "from the data (model.init_decoder_logvar = true).")

    def _run_epoch(self, epoch: int) -> dict[str, float]:
        t0 = time.perf_counter()
        lr = self.start_epoch(epoch)
        sums = EpochSums()
        for step, idx in enumerate(self._batches(epoch)):
            with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                enabled=self.config.training.precision == "bf16"):
                terms = self.model.loss_terms(self.train_x[idx], self.train_theta[idx], self.labelled[idx],
                                              generator=self.noise)
            objective, beta = self.objective(terms)
            self.check_finite(terms, objective, epoch=epoch, step=step, lr=lr, beta=beta, idx=idx)
            self.optimizer.zero_grad(set_to_none=True)
            objective.backward()
            self.optimizer.step()
            self.record_step(terms, objective, len(idx), sums)
        return self.epoch_row(epoch, lr, sums, t0)

    def start_epoch(self, epoch: int) -> float:
        """Set the epoch's learning rate (returned) and start the beta schedule's epoch; train mode."""
        lr = self.lr_schedule(epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.schedule.start_epoch(epoch)
        self.model.train()
        return lr

    def objective(self, terms: LossTerms) -> tuple[Tensor, float]:
        """The scalar minimised at this step (with the schedule's current beta and phase) and that beta."""
        tc, ss = self.config.training, self.config.semi_supervised
        beta = self.schedule.beta
        objective = terms.objective(beta, tc.normalization, sup_weight=ss.weight if ss.n_labels else 0.0,
                                    include_reg=not self.schedule.in_reconstruction_phase)
        return objective, beta

    def check_finite(self, terms: LossTerms, objective: Tensor, *, epoch: int, step: int, lr: float, beta: float,
                     idx: Tensor) -> None:
        """Raise ComponentError naming the non-finite terms of a step (``idx``: its batch, read again only for the
        hint when something is not finite)."""
        bad = _finite_terms(terms, objective)
        if self.schedule.in_reconstruction_phase and "L_REG" in bad and "loss" not in bad:
            bad.remove("L_REG")  # L_REG is left out of the reconstruction phase; only a warning sign
        if bad:
            raise ComponentError(
                f"Non-finite loss at epoch {epoch + 1}, step {step + 1} (of {self.steps_per_epoch}): "
                f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not finite (beta = {beta:.3g}, "
                f"lr = {lr:.3g}). {self._non_finite_hint(self.train_x[idx])}"
            )

    def record_step(self, terms: LossTerms, objective: Tensor, n: int, sums: EpochSums) -> None:
        """After the optimiser step: advance the schedule and add the step's batch means (weight ``n``)."""
        summary = terms.summary()
        self.schedule.step(summary["rec_per_pixel"])
        sums.seen += n
        for key, value in summary.items():
            sums.terms[key] = sums.terms.get(key, 0.0) + value * n
        sums.objective += float(objective.detach()) * n

    def epoch_row(self, epoch: int, lr: float, sums: EpochSums, t0: float) -> dict[str, float]:
        """The epoch's history row (test losses when due, evaluated on the current weights)."""
        tc = self.config.training
        row: dict[str, float] = {"epoch": float(epoch + 1), "lr": lr, "beta": self.schedule.beta,
                                 "reconstruction_phase": float(self.schedule.in_reconstruction_phase)}
        for key, value in sums.terms.items():
            row[f"train_{key}"] = value / sums.seen
        for unit in NORMALIZATIONS:
            row[f"train_loss_{unit}"] = row[f"train_rec_{unit}"] + row[f"train_reg_{unit}"]
        row["train_objective"] = sums.objective / sums.seen
        last = epoch + 1 == tc.epochs
        if self.test_x is not None and ((epoch + 1) % tc.eval_every == 0 or last):
            row.update({f"test_{k}": v for k, v in self.evaluate(self.test_x, self.test_theta).items()})
        row["seconds"] = time.perf_counter() - t0
        return row

    # -- evaluation -------------------------------------------------------------------------------------------
    def evaluate(self, x: Tensor, theta: Tensor | None) -> dict[str, float]:
        """Losses (both units; ``loss`` is L_REC + L_REG) and S_D of a data set, in eval mode, seeded."""
        return evaluate_model(self.model, x, theta, seed=derive_seed(self.config.training.seed, _EVAL),
                              device=self.device)

    def final_metrics(self) -> dict[str, float]:
        """Training-set (and test-set) losses and S_D of the current model, the initial model's test metrics
        (``initial_test_*``), beta and the epoch count."""
        final = {f"train_{k}": v for k, v in self.evaluate(self.train_x, self.train_theta).items()}
        if self.test_x is not None:
            final.update({f"test_{k}": v for k, v in self.evaluate(self.test_x, self.test_theta).items()})
        final.update({f"initial_{k}": v for k, v in self.initial.items()})
        final["beta"] = self.schedule.beta
        final["epochs"] = float(self.epoch)
        return final

    def sanity_check(self) -> None:
        """Run one small batch forward and backward (eval mode, isolated RNG); raise ComponentError if broken."""
        n = min(self.n_train, 8)
        x, theta, labelled = self.train_x[:n], self.train_theta[:n], self.labelled[:n]
        arch, prior = type(self.model.architecture).__name__, type(self.model.prior).__name__
        with _eval_mode(self.model, 0, self.device) as gen, torch.enable_grad():
            mu, logvar = self.model.encode(x)
            expected = (n, self.model.latent_dim)
            if tuple(mu.shape) != expected or tuple(logvar.shape) != expected:
                raise ComponentError(f"Sanity check: architecture {arch}.encode returned shapes {tuple(mu.shape)} "
                                     f"and {tuple(logvar.shape)}; expected {expected} each.")
            terms = self.model.loss_terms(x, theta, labelled, generator=gen)
            if tuple(terms.reg.shape) != (n,):
                raise ComponentError(f"Sanity check: prior {prior}.regularization()['total'] has shape "
                                     f"{tuple(terms.reg.shape)}; expected one value per sample, ({n},).")
            objective = terms.objective(1.0, self.config.training.normalization, sup_weight=1.0)
            bad = _finite_terms(terms, objective)
            if bad:
                raise ComponentError(f"Sanity check: {', '.join(bad)} not finite on the first batch with the "
                                     f"initial weights ({arch} + {prior}). Check the data for NaN/inf and the "
                                     "architecture's output scales.")
            objective.backward()
        grads = [p.grad for p in self.model.parameters() if p.grad is not None]
        if not grads:
            raise ComponentError(f"Sanity check: the loss does not depend on any parameter of {arch} + {prior}.")
        if not all(bool(torch.isfinite(g).all()) for g in grads):
            raise ComponentError(f"Sanity check: non-finite gradients on the first batch ({arch} + {prior}).")
        self.optimizer.zero_grad(set_to_none=True)


def _as_columns(x: Any, theta: Any, which: str) -> tuple[Any, Any]:
    """Tensors and streamed columns pass; a Dataset or DataLoader of (fields, theta) becomes its two columns."""
    if isinstance(x, (Dataset, DataLoader)):
        if theta is not None:
            raise DataError(f"The {which} data is a {type(x).__name__}, whose items carry theta: pass no separate "
                            f"{which} theta.")
        return dataset_columns(x)
    return x, theta


def _check_data(x: Any, theta: Any, which: str) -> None:
    if not is_streamed(x):
        check_dataset(x, theta, which, require_theta=True, min_samples=2, finite=True)
        return
    if x.dim() != 4 or theta is None or theta.dim() != 2 or theta.shape[0] != x.shape[0]:
        raise DataError(f"The {which} Dataset must give fields (C, H, W) and theta (s,) per item; got shapes "
                        f"{tuple(x.shape[1:])} and {None if theta is None else tuple(theta.shape[1:])}.")
    if len(x) < 2:
        raise DataError(f"The {which} set needs at least 2 samples, got {len(x)}.")
    for start, chunk in zip(range(0, len(x), CHUNK), chunks(x), strict=True):  # one streaming pass
        if not bool(torch.isfinite(chunk).all()):
            raise DataError(f"The {which} data contains NaN or inf values (samples {start}-{start + len(chunk) - 1}).")


def evaluate_model(model: VAE, x: Tensor, theta: Tensor | None, *, seed: int, device: torch.device,
                   batch_size: int = 512) -> dict[str, float]:
    """Mean losses of ``x`` in both units (``loss`` = L_REC + L_REG) and S_D of the encoder means against ``theta``.

    Eval mode (BatchNorm running statistics), no gradients, reparameterisation noise and prior sampling seeded by
    ``seed`` in an isolated RNG scope.
    """
    sums: dict[str, float] = {}
    means = []
    with _eval_mode(model, seed, device) as gen:
        for chunk in chunks(x, batch_size):
            terms = model.loss_terms(chunk, generator=gen)
            for key, value in terms.summary().items():
                if not key.startswith("sup_"):
                    sums[key] = sums.get(key, 0.0) + value * len(chunk)
            means.append(model.encode(chunk)[0])
    out = {key: value / len(x) for key, value in sums.items()}
    for unit in NORMALIZATIONS:
        out[f"loss_{unit}"] = out[f"rec_{unit}"] + out[f"reg_{unit}"]
    if theta is not None and theta.shape[0] > 1:
        out["sd"] = _sd(torch.cat(means), theta if isinstance(theta, Tensor) else torch.cat(list(chunks(theta))))
    return out


def _sd(latents: Tensor, theta: Tensor) -> float:
    """S_D (eq. 6) of encoder means against the generative parameters, for the log.

    The ``sd`` metric's own computation with its defaults (|cov|, inactive dimensions scored 1/s), called
    directly: no input checks, so a diverging model logs a number instead of stopping the evaluation.
    """
    from vaetk_plugins.metrics.sd import SD

    z = latents.detach().cpu().double().numpy()
    t = theta.detach().cpu().double().numpy()
    return SD().compute(z, t, np.random.default_rng(0))["sd"]


def encode_dataset(model: VAE, x: Tensor, *, seed: int, device: torch.device, batch_size: int = 512
                   ) -> dict[str, Tensor]:
    """Encoder means and standard deviations, one posterior sample per input and the decoder means (eval mode)."""
    out: dict[str, list[Tensor]] = {"mean": [], "std": [], "sample": [], "reconstruction": []}
    with _eval_mode(model, seed, device) as gen:
        for chunk in chunks(x, batch_size):
            mu, logvar = model.encode(chunk)
            out["mean"].append(mu)
            out["std"].append(torch.exp(0.5 * logvar))
            out["sample"].append(model.reparameterize(mu, logvar, gen))
            out["reconstruction"].append(model.decode(mu)[0])
    return {key: torch.cat(values).cpu() for key, values in out.items()}
