"""Example third-party vaetk plugin: a learnable mixture-of-Gaussians prior."""

from vaetk_example_mog.prior import MixtureOfGaussiansPrior

__all__ = ["MixtureOfGaussiansPrior"]
__version__ = "0.1.0"
