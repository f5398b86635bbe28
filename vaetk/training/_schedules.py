"""Beta schedules (the weight of L_REG) and the piecewise-constant learning rate.

Every beta schedule starts with a reconstruction-only phase of ``reconstruction_epochs`` epochs in which the
regularisation term is left out of the loss entirely (as in the authors' code), then moves beta according to its
kind. A schedule is told about every epoch start (:meth:`BetaSchedule.start_epoch`) and every optimiser step
(:meth:`BetaSchedule.step`, with the batch's per-pixel L_REC); its whole state is ``state_dict()`` so a resumed
run continues exactly.

Kinds (``schedule.kind`` in an experiment file):

``klushyn``
    Klushyn et al. (2019), as used by the authors: after the reconstruction phase beta starts at ``beta0`` and
    is updated every mini-batch by ``beta <- beta * exp(nu * f(beta, delta) * delta)`` with
    ``delta = C - kappa``, ``f(beta, delta) = (1 - H(delta)) * tanh(tau * (beta - 1)) - H(delta)`` and H the
    Heaviside step (H(0) = 0), then clipped to ``beta_max``. C is the mini-batch L_REC in per-pixel units
    (optionally smoothed, ``C <- (1 - alpha) * C_batch + alpha * C_previous``). While the reconstruction
    constraint holds (delta < 0) and beta < 1, f * delta > 0 and beta grows, more and more slowly as it nears 1;
    when the constraint is violated beta shrinks. The authors' settings: nu = 0.005, tau = 1, kappa = 0 (their
    constraint is L_REC < 0 in per-pixel units), beta0 = 1e-9, beta_max = 1, no smoothing. The constraint is
    always evaluated in per-pixel units (the units nu was tuned in), whatever ``training.normalization`` is.
``constant``
    beta = ``value``.
``linear``
    beta rises linearly from ``start`` to ``end`` over ``ramp_epochs`` epochs (per step), then stays at ``end``.
``cyclical``
    Fu et al. (2019): cycles of ``cycle_epochs`` epochs; in each, beta rises linearly from 0 to ``beta_max``
    over the first ``ramp_fraction`` of the cycle and then stays there.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from vaetk._validation import did_you_mean
from vaetk.config import check_param, parse_config
from vaetk.errors import ConfigError

__all__ = [
    "SCHEDULES",
    "BetaSchedule",
    "ConstantSchedule",
    "CyclicalSchedule",
    "KlushynSchedule",
    "LinearSchedule",
    "PiecewiseLR",
    "make_schedule",
]


class BetaSchedule:
    """Base class: the reconstruction phase and the step/epoch bookkeeping.

    Parameters
    ----------
    config : Config
        The kind's frozen configuration.
    steps_per_epoch : int
        Optimiser steps per epoch (used by schedules that ramp within epochs).
    """

    kind: ClassVar[str] = ""

    @dataclass(frozen=True, kw_only=True)
    class Config:
        reconstruction_epochs: int = 0

    def __init__(self, config: Any, *, steps_per_epoch: int) -> None:
        check_param(config.reconstruction_epochs >= 0, "reconstruction_epochs", "an int >= 0",
                    config.reconstruction_epochs, f"schedule {self.kind!r}")
        check_param(steps_per_epoch >= 1, "steps_per_epoch", "an int >= 1", steps_per_epoch, f"schedule {self.kind!r}")
        self.config = config
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self.step_in_epoch = 0

    # -- what the trainer reads ------------------------------------------------------------------------------
    @property
    def in_reconstruction_phase(self) -> bool:
        """True while L_REG is left out of the loss."""
        return self.epoch < self.config.reconstruction_epochs

    @property
    def beta(self) -> float:
        """The weight of L_REG for the next step (0.0 during the reconstruction phase)."""
        return 0.0 if self.in_reconstruction_phase else self._beta()

    def _beta(self) -> float:
        raise NotImplementedError

    @property
    def progress(self) -> float:
        """Epochs elapsed since the reconstruction phase ended, fractional within an epoch."""
        return self.epoch - self.config.reconstruction_epochs + self.step_in_epoch / self.steps_per_epoch

    # -- what the trainer calls ------------------------------------------------------------------------------
    def start_epoch(self, epoch: int) -> None:
        """Called before the first step of ``epoch`` (0-based)."""
        self.epoch = epoch
        self.step_in_epoch = 0

    def step(self, rec_per_pixel: float) -> None:
        """Called after each optimiser step with that mini-batch's L_REC in per-pixel units."""
        if not self.in_reconstruction_phase:
            self._update(rec_per_pixel)
        self.step_in_epoch += 1

    def _update(self, rec_per_pixel: float) -> None:
        """Kind-specific per-step update (after the reconstruction phase); stateless kinds do nothing."""

    # -- checkpointing ---------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "epoch": self.epoch, "step_in_epoch": self.step_in_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("kind") != self.kind:
            raise ConfigError(f"The checkpoint holds a {state.get('kind')!r} beta schedule state but the "
                              f"experiment configures {self.kind!r}.")
        self.epoch = int(state["epoch"])
        self.step_in_epoch = int(state["step_in_epoch"])


class KlushynSchedule(BetaSchedule):
    """Klushyn et al.'s constrained-optimisation beta update (see the module docstring)."""

    kind = "klushyn"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        reconstruction_epochs: int = 0
        beta0: float = 1e-9
        nu: float = 0.005
        tau: float = 1.0
        kappa: float = 0.0
        alpha: float = 0.0
        beta_max: float = 1.0

    def __init__(self, config: Any, *, steps_per_epoch: int) -> None:
        super().__init__(config, steps_per_epoch=steps_per_epoch)
        owner = "schedule 'klushyn'"
        check_param(config.beta0 > 0, "beta0", "a number > 0 (the update is multiplicative)", config.beta0, owner)
        check_param(config.nu > 0, "nu", "a number > 0", config.nu, owner)
        check_param(config.tau > 0, "tau", "a number > 0", config.tau, owner)
        check_param(0 <= config.alpha < 1, "alpha", "a number in [0, 1)", config.alpha, owner)
        check_param(config.beta_max >= config.beta0, "beta_max", f"a number >= beta0 = {config.beta0}",
                    config.beta_max, owner)
        self.current = float(config.beta0)
        self.smoothed: float | None = None

    def _beta(self) -> float:
        return self.current

    @staticmethod
    def f(beta: float, delta: float, tau: float) -> float:
        """Klushyn et al.'s f_beta: -1 when the constraint is violated, tanh(tau (beta - 1)) otherwise."""
        heaviside = 1.0 if delta > 0 else 0.0
        return (1.0 - heaviside) * math.tanh(tau * (beta - 1.0)) - heaviside

    def _update(self, rec_per_pixel: float) -> None:
        c = self.config
        if self.smoothed is None or c.alpha == 0:
            self.smoothed = rec_per_pixel
        else:
            self.smoothed = (1.0 - c.alpha) * rec_per_pixel + c.alpha * self.smoothed
        delta = self.smoothed - c.kappa
        exponent = c.nu * self.f(self.current, delta, c.tau) * delta
        self.current = min(self.current * math.exp(exponent), c.beta_max)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "beta": self.current, "smoothed": self.smoothed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self.current = float(state["beta"])
        self.smoothed = None if state["smoothed"] is None else float(state["smoothed"])


class ConstantSchedule(BetaSchedule):
    """beta = ``value`` after the reconstruction phase."""

    kind = "constant"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        reconstruction_epochs: int = 0
        value: float = 1.0

    def __init__(self, config: Any, *, steps_per_epoch: int) -> None:
        super().__init__(config, steps_per_epoch=steps_per_epoch)
        check_param(config.value >= 0, "value", "a number >= 0", config.value, "schedule 'constant'")

    def _beta(self) -> float:
        return float(self.config.value)


class LinearSchedule(BetaSchedule):
    """beta from ``start`` to ``end`` linearly over ``ramp_epochs`` epochs after the reconstruction phase."""

    kind = "linear"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        reconstruction_epochs: int = 0
        start: float = 0.0
        end: float = 1.0
        ramp_epochs: int = 100

    def __init__(self, config: Any, *, steps_per_epoch: int) -> None:
        super().__init__(config, steps_per_epoch=steps_per_epoch)
        owner = "schedule 'linear'"
        check_param(config.start >= 0, "start", "a number >= 0", config.start, owner)
        check_param(config.end >= 0, "end", "a number >= 0", config.end, owner)
        check_param(config.ramp_epochs >= 1, "ramp_epochs", "an int >= 1", config.ramp_epochs, owner)

    def _beta(self) -> float:
        c = self.config
        t = min(max(self.progress / c.ramp_epochs, 0.0), 1.0)
        return c.start + (c.end - c.start) * t


class CyclicalSchedule(BetaSchedule):
    """Cyclical annealing (Fu et al., 2019): linear ramps from 0 to ``beta_max`` repeated every cycle."""

    kind = "cyclical"

    @dataclass(frozen=True, kw_only=True)
    class Config:
        reconstruction_epochs: int = 0
        cycle_epochs: int = 100
        ramp_fraction: float = 0.5
        beta_max: float = 1.0

    def __init__(self, config: Any, *, steps_per_epoch: int) -> None:
        super().__init__(config, steps_per_epoch=steps_per_epoch)
        owner = "schedule 'cyclical'"
        check_param(config.cycle_epochs >= 1, "cycle_epochs", "an int >= 1", config.cycle_epochs, owner)
        check_param(0 < config.ramp_fraction <= 1, "ramp_fraction", "a number in (0, 1]", config.ramp_fraction,
                    owner)
        check_param(config.beta_max >= 0, "beta_max", "a number >= 0", config.beta_max, owner)

    def _beta(self) -> float:
        c = self.config
        phase = (self.progress % c.cycle_epochs) / c.cycle_epochs
        return c.beta_max * min(phase / c.ramp_fraction, 1.0)


SCHEDULES: dict[str, type[BetaSchedule]] = {
    cls.kind: cls for cls in (KlushynSchedule, ConstantSchedule, LinearSchedule, CyclicalSchedule)
}


def parse_schedule(table: Mapping[str, Any] | None, *, path: str = "schedule") -> tuple[str, Any]:
    """Parse a ``[schedule]`` table ``{kind = ..., <that kind's parameters>}`` into ``(kind, Config)``."""
    params = dict(table or {})
    kind = params.pop("kind", "klushyn")
    if kind not in SCHEDULES:
        hint = did_you_mean(kind, SCHEDULES)
        raise ConfigError(f"{path}.kind: unknown beta schedule {kind!r}.{hint} Available: {', '.join(SCHEDULES)}.")
    return kind, parse_config(SCHEDULES[kind].Config, params, path=path)


def make_schedule(kind: str, config: Any, *, steps_per_epoch: int) -> BetaSchedule:
    """Build the beta schedule of ``kind`` from its parsed Config."""
    return SCHEDULES[kind](config, steps_per_epoch=steps_per_epoch)


class PiecewiseLR:
    """A piecewise-constant learning rate: ``lr`` until the first milestone, then each milestone's value.

    Parameters
    ----------
    lr : float
        Initial learning rate.
    milestones : sequence of (epoch, lr)
        From ``epoch`` (0-based) on, the learning rate is ``lr``; epochs strictly increasing.

    Examples
    --------
    >>> sched = PiecewiseLR(5e-4, [(5900, 1e-4)])
    >>> sched(0), sched(5899), sched(5900)
    (0.0005, 0.0005, 0.0001)
    """

    def __init__(self, lr: float, milestones: Any = ()) -> None:
        milestones = [(int(e), float(v)) for e, v in milestones]
        epochs = [e for e, _ in milestones]
        if any(b <= a for a, b in zip(epochs, epochs[1:], strict=False)) or any(e < 1 for e in epochs):
            raise ConfigError(f"training.lr_milestones: epochs must be >= 1 and strictly increasing, got {epochs}.")
        if lr <= 0 or any(v <= 0 for _, v in milestones):
            raise ConfigError(f"training: learning rates must be > 0, got lr={lr} and milestones {milestones}.")
        self.epochs = epochs
        self.values = [float(lr)] + [v for _, v in milestones]

    def __call__(self, epoch: int) -> float:
        return self.values[bisect.bisect_right(self.epochs, epoch)]
