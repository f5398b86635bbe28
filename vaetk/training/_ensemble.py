"""Ensembles: K seeds of one experiment trained at once, as one batched model in one process.

The members of an ensemble are ordinary runs that differ only in ``training.seed`` (and possibly
``semi_supervised.label_seed``): each has its own initial weights, mini-batch order, labels, reparameterisation
noise, beta schedule (an adaptive schedule adapts to its own member), over-regularisation verdict and run directory,
with the same files :func:`~vaetk.training.train_experiment` writes (provenance.json also says which member of
which ensemble it was). ``vaetk evaluate``, ``vaetk summarize`` and ``train_experiment(resume=True)`` read them
like any run.

How
    One :class:`~vaetk.training.Trainer` per member does all the bookkeeping (schedules, labels, history,
    evaluation, checkpoints, RNG streams). Only the optimisation steps are replaced: the members' weights and
    buffers are stacked (:func:`torch.func.stack_module_state`) and one backward of the sum of the K objectives
    gives every member its own gradient (the members share no computation). A single Adam over the stacked
    tensors is exactly K independent Adams (Adam is elementwise, with a step count that is the same for all
    members; the trainer clips no gradient norm and has no other per-model coupling). The stacked weights are
    copied back into the members' models at the end of every epoch, before they are evaluated or checkpointed,
    and the members' optimisers get their slice of the Adam state, so a member's checkpoint is the checkpoint its
    single run would have written. The forward passes run in one of two ways (``batching``):

    ``"loop"`` (the default)
        member by member, each on its slice of the stacked tensors: the single run's kernels, so on CPU the
        members are bitwise equal to their single runs. The ensemble saves the K - 1 process starts and data
        loads, and little else: on an H200, 1.05x the single run's speed per member at K = 10 (DenseVAE, paper
        size, batch 64; benchmarks/README.md).
    ``"vmap"``
        all K as one :func:`torch.func.vmap` of :func:`torch.func.functional_call` over a weightless
        (meta-device) copy of the model: batched kernels. BatchNorm running statistics are updated in the stacked
        buffers per member. Members whose batches differ in length (a semi-supervised batch is extended by the
        labels it lacks) run in one vmap per length. Measured slower than the loop everywhere so far: several
        times on a CPU (benchmarks/bench_ensemble.py), 0.70x the loop on an H200 at K = 10 (0.73 to 0.81x the
        single run per member at K = 10 to 50); kept for devices and models where batched kernels pay.

Random numbers
    Each member draws exactly what its single run draws: the batch order from its own (seed, epoch) generator,
    the reparameterisation noise from its own noise generator (drawn before the forward pass with the same shape,
    dtype and device as :meth:`VAE.reparameterize` would), and the global torch RNG (which priors such as the
    hierarchical one sample from) from its own saved state, swapped in around that member's forward pass
    ("loop"), or around its prior's regularisation, called once per member outside the vmap when a probe at the
    start finds that the prior draws random numbers or cannot be traced by vmap, such as a prior that checks its
    parameters' values ("vmap"; other priors run inside the vmap). With "vmap" the
    architecture's forward pass must not draw random numbers (dropout): vmap runs with ``randomness="error"``
    and says so.

Equality with the single runs
    "loop": bitwise on CPU (tests/training/test_ensemble.py). "vmap": not bitwise: batched kernels (a batched
    matrix product instead of K plain ones, grouped convolutions) sum in another order, so member k agrees with
    the single run of its seed to float32 rounding at first, and the difference grows slowly as training goes on
    (chaotically over long runs, like any change of thread count). The tests check weights, Adam state and
    losses to a relative 5e-5 (measured: at most 7e-6 after 60 steps; see there), and the RNG states exactly.

Members at different epochs (a resumed ensemble whose members had checkpointed at different epochs, or a member
retried after a failure) are trained in groups: the members furthest behind run alone until they catch up, then
they are stacked with the others again. A member whose loss becomes non-finite (or whose bookkeeping raises) fails
alone, with the single run's error; the others go on without it.
"""

from __future__ import annotations

import copy
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from vaetk.config import config_to_dict
from vaetk.errors import ComponentError, ConfigError, DataError
from vaetk.models.vae import LossTerms, encoder_nll, gaussian_nll
from vaetk.training._config import ExperimentConfig
from vaetk.training._trainer import EpochSums, Trainer, TrainResult, _finite_terms, resolve_device

__all__ = ["EnsembleTrainer", "check_ensemble", "ensemble_configs", "time_epoch", "train_ensemble"]

BATCHING = ("auto", "vmap", "loop")

#: The keys in which the members of an ensemble may differ.
VARYING = (("training", "seed"), ("semi_supervised", "label_seed"))


def ensemble_configs(config: ExperimentConfig, seeds: Sequence[int]) -> list[ExperimentConfig]:
    """``config`` once per seed, with ``training.seed`` set to it."""
    return [replace(config, training=replace(config.training, seed=int(s))) for s in seeds]


def _shared_part(config: ExperimentConfig) -> dict[str, Any]:
    data = config_to_dict(config)
    for table, key in VARYING:
        data[table].pop(key, None)
    data["training"].pop("device", None)
    return data


def check_ensemble(configs: Sequence[ExperimentConfig]) -> None:
    """Raise ConfigError unless ``configs`` can train as one ensemble: equal except in the seeds (:data:`VARYING`),
    on one device, in float32 or tf32 and not compiled."""
    if not configs:
        raise ConfigError("An ensemble needs at least one member.")
    first = _shared_part(configs[0])
    for i, config in enumerate(configs[1:], start=1):
        if _shared_part(config) != first or config.training.device != configs[0].training.device:
            from vaetk.training._run import _differences

            diffs = _differences(first, _shared_part(config)) or ["training.device"]
            raise ConfigError(f"Ensemble member {i} differs from member 0 in more than its seeds "
                              f"({'; '.join(diffs[:3])}); only {', '.join('.'.join(v) for v in VARYING)} may differ.")
    tc = configs[0].training
    if tc.precision == "bf16" or tc.compile:
        raise ConfigError("Ensemble training supports training.precision = 'float32' or 'tf32' without "
                          "training.compile; train bf16 or compiled runs one by one (--ensemble 1).")


class _Forward(nn.Module):
    """The batched part of a training step, with the VAE's own submodule names (so the VAE's parameter and buffer
    names address it): everything :meth:`VAE.loss_terms` computes, with the noise given."""

    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.architecture = vae.architecture
        self.prior = vae.prior

    def forward(self, x: Tensor, theta: Tensor, eps: Tensor, *, with_sup: bool, with_prior: bool
                ) -> dict[str, Any]:
        mu, logvar = self.architecture.encode(x)
        z = mu + torch.exp(0.5 * logvar) * eps  # VAE.reparameterize with the member's noise
        mean, dec_logvar = self.architecture.decode(z)
        out: dict[str, Any] = {"rec": gaussian_nll(x, mean, dec_logvar), "z": z, "mu": mu, "logvar": logvar}
        if with_sup:
            out["sup"] = encoder_nll(theta, mu, logvar)
        if with_prior:
            out["parts"] = self.prior.regularization(z, mu, logvar)
        return out


class _PriorCall(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.prior = vae.prior

    def forward(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        return self.prior.regularization(z, mu, logvar)


def _rng_state(device: torch.device) -> dict[str, Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: Mapping[str, Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


class EnsembleTrainer:
    """Train the members' :class:`Trainer` objects together (see the module docstring).

    Parameters
    ----------
    trainers : sequence of Trainer
        One per member, built as for single runs (checkpoint writers and callbacks included); their configs must
        pass :func:`check_ensemble` and their data must be the same.
    progress : bool
        A tqdm bar over the epochs of the ensemble.
    batching : {"auto", "vmap", "loop"}
        How the members' forward and backward passes run: ``"loop"``, one member after the other on its slice of
        the stacked weights (the single run's kernels, so bitwise its results on CPU); ``"vmap"``, batched (one
        kernel for all members; measured slower on a CPU and on an H200); ``"auto"``: the loop, the faster of the
        two wherever measured. Either way one backward and one Adam step serve all.
    """

    def __init__(self, trainers: Sequence[Trainer], *, progress: bool = False, batching: str = "auto") -> None:
        if batching not in BATCHING:
            raise ConfigError(f"batching must be one of {', '.join(map(repr, BATCHING))}, got {batching!r}.")
        self.members = list(trainers)
        check_ensemble([t.config for t in self.members])
        first = self.members[0]
        if any(not isinstance(t.train_x, Tensor) for t in self.members):
            raise ConfigError("Ensembles train on data in memory; data streamed from a Dataset is trained run by run.")
        self.device = first.device
        keys = [(n, tuple(v.shape), v.dtype) for n, v in first.model.state_dict().items()]
        for t in self.members[1:]:
            if not (t.train_x.shape == first.train_x.shape and torch.equal(t.train_x, first.train_x)):
                raise DataError("The members of an ensemble must train on the same data.")
            if [(n, tuple(v.shape), v.dtype) for n, v in t.model.state_dict().items()] != keys:
                raise DataError("The members of an ensemble must have the same model structure.")
        self.progress = progress
        self.batching = "loop" if batching == "auto" else batching
        meta = copy.deepcopy(first.model).to("meta")
        self._forward_module = _Forward(meta)
        self._prior_module = _PriorCall(meta)
        self._param_names = [n for n, _ in first.model.named_parameters()]
        self._prior_params = [n for n in self._param_names if n.startswith("prior.")]
        self._prior_buffers = [n for n, _ in first.model.named_buffers() if n.startswith("prior.")]
        self._normalizers = [float(t.model.prior.authors_normalizer()) for t in self.members]
        self._rng: list[dict[str, Tensor] | None] = [None] * len(self.members)
        self._stacked: list[int] = []  # members in the stacked tensors, in order
        self.params: dict[str, Tensor] = {}
        self.buffers: dict[str, Tensor] = {}
        self.optimizer: torch.optim.Optimizer | None = None
        self.loop_prior = False
        self.failed: dict[int, Exception] = {}

    # -- per-member global RNG ---------------------------------------------------------------------------------
    @contextmanager
    def _member_rng(self, k: int) -> Iterator[None]:
        """The global torch RNG is member k's for the duration (its single run's state)."""
        if self._rng[k] is not None:
            _set_rng_state(self._rng[k], self.device)
        try:
            yield
        finally:
            self._rng[k] = _rng_state(self.device)

    def _prior_outside_vmap(self) -> bool:
        """Probe: must the prior's regularisation run per member, outside the vmap? Yes when it draws from the
        global RNG (each member's single run draws from its own state) or when vmap cannot trace it (a prior
        that checks its parameters branches on their values)."""
        model = self.members[0].model
        zeros = torch.zeros(2, model.latent_dim, device=self.device)
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            before = _rng_state(self.device)
            model.prior.regularization(zeros, zeros, zeros)
            after = _rng_state(self.device)
            if any(not torch.equal(before[key], after[key]) for key in before):
                return True
            params = {n: p.detach()[None] for n, p in model.named_parameters() if n in self._prior_params}
            buffers = {n: b[None] for n, b in model.named_buffers() if n in self._prior_buffers}

            def one(p: dict[str, Tensor], b: dict[str, Tensor], z: Tensor) -> dict[str, Tensor]:
                return torch.func.functional_call(self._prior_module, (p, b), (z, z, z))

            try:
                torch.func.vmap(one, randomness="error")(params, buffers, zeros[None])
            except RuntimeError:
                return True
        return False

    # -- stacking ----------------------------------------------------------------------------------------------
    def _sync_out(self) -> None:
        """Copy the stacked weights, buffers and Adam state into the stacked members' models and optimisers."""
        if not self._stacked:
            return
        assert self.optimizer is not None
        lr = self.optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            for i, k in enumerate(self._stacked):
                model, opt = self.members[k].model, self.members[k].optimizer
                params = dict(model.named_parameters())
                for name, value in self.params.items():
                    params[name].copy_(value[i])
                    state = self.optimizer.state.get(value)
                    if state:
                        opt.state[params[name]] = {
                            key: (v[i].clone() if isinstance(v, Tensor) and v.shape == value.shape else
                                  v.clone() if isinstance(v, Tensor) else v) for key, v in state.items()}
                buffers = dict(model.named_buffers())
                for name, value in self.buffers.items():
                    buffers[name].copy_(value[i])
                for group in opt.param_groups:
                    group["lr"] = lr

    def _stack(self, group: list[int]) -> None:
        """Stack the members ``group`` (their models and optimiser states) into the batched tensors."""
        if group == self._stacked:
            return
        self._sync_out()
        self._stacked = list(group)
        if not group:
            self.params, self.buffers, self.optimizer = {}, {}, None
            return
        models = [self.members[k].model for k in group]
        params, buffers = torch.func.stack_module_state(models)
        self.params = {n: params[n] for n in self._param_names}
        self.buffers = buffers
        opt0 = self.members[group[0]].optimizer
        hyper = {k: v for k, v in opt0.param_groups[0].items() if k != "params"}
        self.optimizer = torch.optim.Adam(list(self.params.values()), **hyper)
        member_params = [dict(m.named_parameters()) for m in models]
        for name, stacked in self.params.items():
            states = [self.members[k].optimizer.state.get(mp[name]) for k, mp in zip(group, member_params,
                                                                                      strict=True)]
            if all(not s for s in states):
                continue
            if any(not s for s in states):
                raise DataError("Ensemble members at the same epoch must all have optimiser state or none.")
            joint: dict[str, Any] = {}
            for key, v0 in states[0].items():
                if isinstance(v0, Tensor) and v0.shape == member_params[0][name].shape and v0.dim() > 0:
                    joint[key] = torch.stack([s[key] for s in states]).to(stacked.device)
                else:
                    if any(not torch.equal(torch.as_tensor(s[key]), torch.as_tensor(v0)) for s in states):
                        raise DataError(f"Ensemble members at the same epoch differ in the optimiser's {key!r}.")
                    joint[key] = v0.clone() if isinstance(v0, Tensor) else v0
            self.optimizer.state[stacked] = joint

    # -- the batched step --------------------------------------------------------------------------------------
    def _terms(self, idx: dict[int, Tensor], eps: dict[int, Tensor]) -> dict[int, LossTerms]:
        """Every stacked member's LossTerms of its batch ``idx[k]`` with noise ``eps[k]``."""
        ss = self.members[0].config.semi_supervised
        with_sup = ss.n_labels > 0  # then every batch holds every label (Trainer._batches)
        position = {k: i for i, k in enumerate(self._stacked)}
        groups: dict[int, list[int]] = defaultdict(list)  # equal batch lengths run in one vmap
        for k in self._stacked:
            groups[len(idx[k])].append(k)
        terms: dict[int, LossTerms] = {}
        if self.batching == "loop":
            # unbind: views of every member's slice; one backward node per tensor gathers all members' gradients
            params = {n: v.unbind(0) for n, v in self.params.items()}
            buffers = {n: v.unbind(0) for n, v in self.buffers.items()}
            for k in self._stacked:
                m, i = self.members[k], position[k]
                p = {n: v[i] for n, v in params.items()}
                b = {n: v[i] for n, v in buffers.items()}
                with self._member_rng(k):  # the architecture and the prior may draw from the global RNG
                    out = torch.func.functional_call(self._forward_module, (p, b),
                                                     (m.train_x[idx[k]], m.train_theta[idx[k]], eps[k]),
                                                     {"with_sup": with_sup, "with_prior": True})
                terms[k] = self._loss_terms(k, out, m.labelled[idx[k]], with_sup)
            return terms
        for ks in groups.values():
            members = [self.members[k] for k in ks]
            x = torch.stack([m.train_x[idx[k]] for k, m in zip(ks, members, strict=True)])
            theta = torch.stack([m.train_theta[idx[k]] for k, m in zip(ks, members, strict=True)])
            labelled = [m.labelled[idx[k]] for k, m in zip(ks, members, strict=True)]
            noise = torch.stack([eps[k] for k in ks])
            whole = ks == self._stacked
            if whole:
                params, buffers = self.params, self.buffers
            else:
                sel = torch.as_tensor([position[k] for k in ks], device=self.device)
                params = {n: v[sel] for n, v in self.params.items()}
                buffers = {n: v[sel] for n, v in self.buffers.items()}
            module, loop_prior = self._forward_module, self.loop_prior

            def one(p: dict[str, Tensor], b: dict[str, Tensor], x_: Tensor, t_: Tensor, e_: Tensor,
                    module: nn.Module = module, loop_prior: bool = loop_prior) -> dict[str, Any]:
                return torch.func.functional_call(module, (p, b), (x_, t_, e_),
                                                  {"with_sup": with_sup, "with_prior": not loop_prior})

            try:
                out = torch.func.vmap(one, randomness="error")(params, buffers, x, theta, noise)
            except RuntimeError as exc:
                if "randomness" not in str(exc):
                    raise
                raise ComponentError(f"Ensemble training: the model draws random numbers inside its forward pass "
                                     f"(dropout?), which a batched ensemble cannot reproduce per member ({exc}). "
                                     "Train these runs one by one.") from None
            if not whole:
                with torch.no_grad():
                    for n, v in buffers.items():
                        self.buffers[n][sel] = v
            for j, (k, _member) in enumerate(zip(ks, members, strict=True)):
                if loop_prior:
                    i = position[k]
                    p = {n: self.params[n][i] for n in self._prior_params}
                    b = {n: self.buffers[n][i] for n in self._prior_buffers}
                    with self._member_rng(k):
                        parts = torch.func.functional_call(self._prior_module, (p, b),
                                                           (out["z"][j], out["mu"][j], out["logvar"][j]))
                else:
                    parts = {key: v[j] for key, v in out["parts"].items()}
                one_out = {"rec": out["rec"][j], "parts": parts}
                if with_sup:
                    one_out["sup"] = out["sup"][j]
                terms[k] = self._loss_terms(k, one_out, labelled[j], with_sup)
        return terms

    def _loss_terms(self, k: int, out: Mapping[str, Any], labelled: Tensor, with_sup: bool) -> LossTerms:
        """Member k's LossTerms from its forward outputs (as :meth:`VAE.loss_terms` assembles them)."""
        rec, parts = out["rec"], out["parts"]
        sup = torch.where(labelled, out["sup"], torch.zeros_like(rec)) if with_sup else torch.zeros_like(rec)
        shape = self.members[k].model.input_shape
        return LossTerms(rec=rec, reg=parts["total"], sup=sup, labelled=labelled, reg_parts=parts,
                         n_pixels=int(shape[-2] * shape[-1]), reg_normalizer=self._normalizers[k])

    def _fail(self, k: int, exc: Exception) -> None:
        self.failed[k] = exc

    def _epoch(self, epoch: int) -> None:
        """One epoch of the stacked members (those failing leave the stack)."""
        t0 = time.perf_counter()
        members = {k: self.members[k] for k in self._stacked}
        lrs = {k: m.start_epoch(epoch) for k, m in members.items()}
        lr = lrs[self._stacked[0]]
        assert self.optimizer is not None and all(v == lr for v in lrs.values())
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self._forward_module.train()
        sums = {k: EpochSums() for k in members}
        batches = {k: m._batches(epoch) for k, m in members.items()}
        n_steps = len(batches[self._stacked[0]])
        latent = self.members[0].model.latent_dim
        for step in range(n_steps):
            active = list(self._stacked)
            idx = {k: batches[k][step] for k in active}
            eps = {k: torch.randn((len(idx[k]), latent), generator=self.members[k].noise, device=self.device,
                                  dtype=torch.float32) for k in active}
            terms = self._terms(idx, eps)
            objectives: dict[int, Tensor] = {}
            for k in active:
                m = self.members[k]
                objective, beta = m.objective(terms[k])
                if _finite_terms(terms[k], objective):
                    self._sync_out()  # the hint looks at the member's current encoder
                    try:
                        m.check_finite(terms[k], objective, epoch=epoch, step=step, lr=lr, beta=beta,
                                       idx=idx[k])
                    except ComponentError as exc:
                        self._fail(k, exc)
                        continue
                objectives[k] = objective
            ok = [k for k in active if k in objectives]
            if ok:
                self.optimizer.zero_grad(set_to_none=True)
                torch.stack([objectives[k] for k in ok]).sum().backward()
                self.optimizer.step()
            for k in ok:
                self.members[k].record_step(terms[k], objectives[k], len(idx[k]), sums[k])
            if len(ok) < len(active):
                self._stack(ok)
                if not ok:
                    return
        self._sync_out()
        for k in list(self._stacked):
            m = self.members[k]
            try:
                with self._member_rng(k):
                    row = m.epoch_row(epoch, lr, sums[k], t0)
                    m.end_epoch(row)
            except Exception as exc:  # noqa: BLE001 - a member's bookkeeping fails that member only
                self._fail(k, exc)
        self._stack([k for k in self._stacked if k not in self.failed])

    # -- the loop ----------------------------------------------------------------------------------------------
    def fit(self, resume_states: Sequence[dict[str, Any] | None] | None = None) -> list[TrainResult | Exception]:
        """Train every member for ``training.epochs`` epochs (each continuing from its ``resume_states`` entry
        when given). Returns, per member, its TrainResult or the exception that stopped it."""
        start = time.perf_counter()
        n = len(self.members)
        states = list(resume_states) if resume_states is not None else [None] * n
        epochs = self.members[0].config.training.epochs
        results: list[TrainResult | Exception | None] = [None] * n
        devices = [self.device] if self.device.type == "cuda" else []
        with self.members[0].training_context(), torch.random.fork_rng(devices=devices):
            for k, m in enumerate(self.members):
                try:
                    with self._member_rng(k):
                        m.begin(states[k])
                except Exception as exc:  # noqa: BLE001 - recorded for that member
                    self._fail(k, exc)
            self.loop_prior = self.batching == "vmap" and self._prior_outside_vmap()
            bar = None
            if self.progress:
                from tqdm.auto import tqdm

                done = min((m.epoch for m in self.members), default=0)
                bar = tqdm(total=epochs, initial=done, desc=f"ensemble of {n}", unit="epoch", leave=False)
            try:
                while True:
                    pending = [k for k, m in enumerate(self.members) if k not in self.failed and m.epoch < epochs]
                    if not pending:
                        break
                    epoch = min(self.members[k].epoch for k in pending)
                    self._stack([k for k in pending if self.members[k].epoch == epoch])
                    self._epoch(epoch)
                    if bar is not None:
                        bar.n = min(m.epoch for k, m in enumerate(self.members) if k not in self.failed) \
                            if len(self.failed) < n else epochs
                        bar.refresh()
            finally:
                if bar is not None:
                    bar.close()
            self._stack([])
            for k, m in enumerate(self.members):
                if k in self.failed:
                    continue
                try:
                    with self._member_rng(k):
                        results[k] = m.result(start)
                except Exception as exc:  # noqa: BLE001
                    self._fail(k, exc)
        return [self.failed.get(k, results[k]) for k in range(n)]  # type: ignore[misc]


def train_ensemble(config: ExperimentConfig | Sequence[ExperimentConfig], seeds: Sequence[int] | None,
                   outs: Sequence[str | Path], *, resume: bool = False, progress: bool = False,
                   callbacks: Sequence[Any] = (), batching: str = "auto") -> list[TrainResult | Exception]:
    """Train K runs of one experiment that differ only in their seeds as one batched ensemble (one process).

    Parameters
    ----------
    config : ExperimentConfig or sequence of ExperimentConfig
        The experiment, trained once per entry of ``seeds``; or the K member experiments themselves (``seeds``
        None), which may differ only in ``training.seed`` and ``semi_supervised.label_seed``.
    seeds : sequence of int or None
        The members' ``training.seed``.
    outs : sequence of path-like
        One run directory per member (the rules of :func:`~vaetk.training.train_experiment` apply to each).
    resume : bool
        Continue the members from the checkpoints in their run directories (each from its own; members at
        different epochs catch up with each other).
    progress : bool
        tqdm progress bar.
    callbacks : sequence of callables
        ``callback(trainer, row)`` after each epoch of each member (``trainer``: that member's
        :class:`Trainer`); raising fails that member only (a BaseException that is not an Exception, such as
        KeyboardInterrupt, stops the ensemble).
    batching : {"auto", "vmap", "loop"}
        See :class:`EnsembleTrainer` (auto: member by member).

    Returns
    -------
    list
        Per member, its :class:`TrainResult`, or the exception that stopped it (a non-finite loss, a run
        directory that cannot be used) while the others went on. Errors common to all (bad configuration,
        missing data) are raised.
    """
    if isinstance(config, ExperimentConfig):
        if seeds is None:
            raise ConfigError("train_ensemble: give the seeds, or a list of member experiments.")
        configs = ensemble_configs(config, seeds)
    else:
        if seeds is not None:
            raise ConfigError("train_ensemble: give either member experiments or seeds, not both.")
        configs = list(config)
    outs = [Path(o) for o in outs]
    if len(outs) != len(configs):
        raise ConfigError(f"train_ensemble: {len(configs)} members but {len(outs)} run directories.")
    if len({o.resolve() for o in outs}) != len(outs):
        raise ConfigError("train_ensemble: every member needs its own run directory.")
    check_ensemble(configs)
    with ExitStack() as locks:  # each member's run directory is locked for the whole run, as train_experiment's
        return _train_locked(configs, outs, locks, resume, progress, callbacks, batching)


def _train_locked(configs: list[ExperimentConfig], outs: list[Path], locks: ExitStack, resume: bool,
                  progress: bool, callbacks: Sequence[Any], batching: str) -> list[TrainResult | Exception]:
    from vaetk.training import _files as files
    from vaetk.training import _run

    n = len(configs)
    failed: dict[int, Exception] = {}
    existing: list[Any] = [None] * n
    for k, (c, out) in enumerate(zip(configs, outs, strict=True)):
        try:
            locks.enter_context(files.run_lock(out))
            existing[k] = _run._check_run_dir(out, c, resume)
        except DataError as exc:
            failed[k] = exc
    train_x, train_theta, test_x, test_theta = _run.load_data(configs[0])
    device = resolve_device(configs[0].training.device)
    if batching not in BATCHING:
        raise ConfigError(f"batching must be one of {', '.join(map(repr, BATCHING))}, got {batching!r}.")
    mode = "loop" if batching == "auto" else batching
    train_x, train_theta = train_x.to(device, torch.float32), train_theta.to(device, torch.float32)
    if test_x is not None and test_theta is not None:
        test_x, test_theta = test_x.to(device, torch.float32), test_theta.to(device, torch.float32)
    fingerprint = _run._fingerprint(train_x, train_theta)
    shape = tuple(train_x.shape[1:])
    trainers: list[Trainer] = []
    states: list[dict[str, Any] | None] = []
    members: list[int] = []
    versions_of: dict[int, dict[str, Any]] = {}
    for k, (c, out) in enumerate(zip(configs, outs, strict=True)):
        if k in failed:
            continue
        try:
            model, plugins = _run.build_model(c, shape)
            versions = _run.current_versions(plugins)
            state = _run.resume_state(out, c, versions, fingerprint) if existing[k] is not None else None
            out.mkdir(parents=True, exist_ok=True)
            trainer = Trainer(c, model, train_x, train_theta, test_x, test_theta,
                              checkpoint=_run.checkpoint_writer(out, versions, fingerprint),
                              callbacks=[_run.history_logger(out), *callbacks])
            note = (f"trained as member {k} of an ensemble of {n} in one process (vaetk.training.train_ensemble, "
                    f"batching {mode!r}): " + ("batched kernels, equal to its single run up to float32 rounding, "
                                               "not bitwise" if mode == "vmap" else
                                               "the single run's kernels member by member") +
                    "; the history's 'seconds' are the whole ensemble's epoch times.")
            _run.start_run_dir(out, trainer, existing[k], state, versions, fingerprint, ensemble={
                "member": k, "size": n, "seeds": [cc.training.seed for cc in configs], "batching": mode,
                "note": note})
        except (DataError, ConfigError, ComponentError, OSError) as exc:
            failed[k] = exc
            continue
        trainers.append(trainer)
        states.append(state)
        members.append(k)
        versions_of[k] = versions
    results: list[TrainResult | Exception | None] = [None] * n
    if trainers:
        outcome = EnsembleTrainer(trainers, progress=progress, batching=batching).fit(states)
        for k, trainer, result in zip(members, trainers, outcome, strict=True):
            if isinstance(result, Exception):
                failed[k] = result
                continue
            try:
                _run.finish_run_dir(outs[k], trainer, result, versions_of[k])
                results[k] = result
            except (OSError, DataError) as exc:
                failed[k] = exc
    return [failed.get(k, results[k]) for k in range(n)]  # type: ignore[misc]


# -- timing (for device checks and benchmarks) ---------------------------------------------------------------
def time_epoch(k: int, device: str = "cuda", *, architecture: Mapping[str, Any] | None = None,
               shape: tuple[int, int, int] = (3, 65, 65), n_train: int = 512, batch_size: int = 64,
               epochs: int = 2, single: bool | int = False, n_threads: int | None = None,
               batching: str = "auto") -> dict[str, float]:
    """Seconds per epoch of an ensemble of ``k`` members (default: DenseVAE at the paper's size, 512 samples of
    3 x 65 x 65, batch 64 = 8 steps, standard normal prior) on ``device``, on random data.

    ``epochs`` epochs run; the first (warm-up: kernel selection, allocator) is not counted. With ``single``,
    the same members (``True``: all ``k``; an int: that many of them) are also trained one after the other by their
    own Trainers, for the ratio. The ensemble and single runs do the same per-epoch work (no evaluation, no
    checkpoints).

    For a device check (the machine needs vaetk and its plugins installed)::

        from vaetk.training._ensemble import time_epoch
        for k in (1, 4, 10):
            print(time_epoch(k, "cuda", single=2))

    Returns
    -------
    dict
        ``ensemble_epoch_s`` (wall time of an epoch of all k members), ``ensemble_member_epoch_s`` (the same / k),
        ``ensemble_epoch_cpu_s`` (process CPU time, less disturbed by other load on a shared machine) and, with
        ``single``, ``single_epoch_s`` and ``single_epoch_cpu_s`` (one member alone, mean over those timed),
        ``speedup`` (k single epochs / one ensemble epoch, wall) and ``speedup_cpu_time`` (the same in CPU time).
    """
    from vaetk.training._config import ModelConfig, TrainingConfig
    from vaetk.training._run import build_model

    if epochs < 2:
        raise ConfigError("time_epoch: epochs must be >= 2 (the first is a warm-up).")
    arch = dict(architecture or {"name": "dense_vae", "preset": "paper"})
    base = ExperimentConfig(
        model=ModelConfig(latent_dim=2, architecture=arch, prior={"name": "standard_normal"}),
        training=TrainingConfig(epochs=epochs, batch_size=batch_size, lr=5e-4, device=device, eval_every=10 ** 6,
                                checkpoint_every=0, deterministic=False, n_threads=n_threads),
        schedule={"kind": "constant", "value": 1.0})
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n_train, *shape, generator=gen)
    theta = torch.randn(n_train, 2, generator=gen)
    dev = torch.device(device)
    x, theta = x.to(dev), theta.to(dev)

    def trainers(configs: Sequence[ExperimentConfig]) -> list[Trainer]:
        return [Trainer(c, build_model(c, shape)[0], x, theta) for c in configs]

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    out: dict[str, float] = {"k": float(k)}
    members = trainers(ensemble_configs(base, range(k)))
    clock = _EpochClock(k, sync)
    for m in members:
        m.callbacks.append(clock)
    EnsembleTrainer(members, batching=batching).fit()
    out["ensemble_epoch_s"], out["ensemble_epoch_cpu_s"] = clock.mean()
    out["ensemble_member_epoch_s"] = out["ensemble_epoch_s"] / k
    if single:
        n_single = k if single is True else max(1, min(int(single), k))
        walls, cpus = [], []
        for c in ensemble_configs(base, range(n_single)):
            (t,) = trainers([c])
            clock = _EpochClock(1, sync)
            t.callbacks.append(clock)
            t.fit()
            wall, cpu = clock.mean()
            walls.append(wall)
            cpus.append(cpu)
        out["single_epoch_s"] = sum(walls) / len(walls)
        out["single_epoch_cpu_s"] = sum(cpus) / len(cpus)
        out["speedup"] = k * out["single_epoch_s"] / out["ensemble_epoch_s"]
        out["speedup_cpu_time"] = k * out["single_epoch_cpu_s"] / out["ensemble_epoch_cpu_s"]
    return out


class _EpochClock:
    """An epoch callback: wall and process CPU time at the end of every epoch (the last of ``k`` members' calls);
    epoch e's time is the difference to the end of epoch e - 1, so the first epoch is the warm-up."""

    def __init__(self, k: int, sync: Any) -> None:
        self.k, self.sync, self.calls, self.ends = k, sync, 0, []

    def __call__(self, trainer: Trainer, row: dict[str, float]) -> None:
        self.calls += 1
        if self.calls % self.k == 0:
            self.sync()
            self.ends.append((time.perf_counter(), time.process_time()))

    def mean(self) -> tuple[float, float]:
        n = len(self.ends) - 1
        return ((self.ends[-1][0] - self.ends[0][0]) / n, (self.ends[-1][1] - self.ends[0][1]) / n)
