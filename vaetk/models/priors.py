"""The base class of the ``priors`` plugin group.

A prior owns the regularisation term of the VAE loss: the trainer hands it one reparameterised sample of the
encoder and the encoder's parameters, and gets back per-sample terms in nats. It never computes a KL itself.
Priors are ``torch.nn.Module`` objects because some (the hierarchical prior) have parameters trained jointly
with the VAE; their ``state_dict`` is saved with the model.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from torch import Tensor

from vaetk._validation import is_int
from vaetk.config import check_param
from vaetk.errors import DataError
from vaetk.plugin import Plugin

__all__ = ["Prior"]


class Prior(Plugin, torch.nn.Module):
    """Base class of priors p(z) over a ``latent_dim``-dimensional latent space.

    Parameters
    ----------
    config : Config or mapping, optional
        The plugin's parameters: a ``Config``, a table parsed strictly into one, or None (``Config()``).
    latent_dim : int
        Dimension of the latent space (must equal the architecture's); the group's construction context.

    Attributes
    ----------
    exact_kl : bool
        True when ``regularization(...)["total"]`` is the exact KL[q(z|x) || p(z)] (hence >= 0 for every
        sample); False for Monte Carlo estimates or bounds, which may be negative for single samples.
    """

    plugin_group: ClassVar[str] = "priors"
    required_methods: ClassVar[tuple[str, ...]] = ("regularization", "sample")
    exact_kl: ClassVar[bool] = False

    def __init__(self, config: Any = None, *, latent_dim: int) -> None:
        super().__init__(config)
        check_param(is_int(latent_dim, 1),
                    "latent_dim", "an int in the range [1, inf)", latent_dim, self.owner())
        self.latent_dim = latent_dim

    @abc.abstractmethod
    def regularization(self, z: Tensor, mu: Tensor, logvar: Tensor) -> dict[str, Tensor]:
        """Per-sample regularisation terms in nats.

        Parameters
        ----------
        z : Tensor, shape (B, latent_dim)
            One reparameterised sample from q(z|x) = N(mu, diag(exp(logvar))).
        mu, logvar : Tensor, shape (B, latent_dim)
            The encoder's mean and log-variance.

        Returns
        -------
        dict of str to Tensor
            Each value has shape (B,). ``"total"`` is the regularisation L_REG that beta multiplies, in true
            ELBO units (summed over latent dimensions); the other keys are named sub-terms for the logs.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples from p(z), shape (n, latent_dim), drawn with ``generator`` (the global RNG if None)."""
        raise NotImplementedError

    def authors_normalizer(self) -> float:
        """Divisor the authors' code applied to L_REG to express it in their 'per-pixel' loss units.

        Their plain-VAE code averaged the KL over latent dimensions, hence ``latent_dim`` (with the per-pixel
        reconstruction, code-beta 1 is an effective beta of H*W/latent_dim = 2112.5 at 65x65 with 2 latents).
        Priors whose authors' implementation differs override this.
        """
        return float(self.latent_dim)

    # -- helpers for subclasses -------------------------------------------------------------------------------
    def check_latents(self, z: Tensor, mu: Tensor, logvar: Tensor) -> None:
        """Raise DataError unless z, mu and logvar are all floating tensors of shape (B, latent_dim)."""
        expected = f"(B, {self.latent_dim})"
        for label, t in (("z", z), ("mu", mu), ("logvar", logvar)):
            if not isinstance(t, Tensor) or t.dim() != 2 or t.shape[1] != self.latent_dim:
                shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
                raise DataError(f"{self.owner()}.regularization: {label} must have shape {expected}, got {shape} "
                                f"(is the architecture's latent_dim equal to the prior's?).")
            if not t.is_floating_point():
                raise DataError(f"{self.owner()}.regularization: {label} must be a floating-point tensor, "
                                f"got {t.dtype}.")
        if not (z.shape == mu.shape == logvar.shape):
            raise DataError(f"{self.owner()}.regularization: z, mu and logvar must have the same shape, got "
                            f"{tuple(z.shape)}, {tuple(mu.shape)}, {tuple(logvar.shape)}.")

    def check_n(self, n: int) -> None:
        """Raise ConfigError unless ``n`` is a non-negative int (the number of samples requested)."""
        check_param(is_int(n, 0), "n", "an int in the range [0, inf)",
                    n, f"{self.owner()}.sample")

    def _param_device_dtype(self) -> tuple[torch.device, torch.dtype]:
        for t in (*self.parameters(), *self.buffers()):
            return t.device, t.dtype
        return torch.device("cpu"), torch.get_default_dtype()
