"""Exception and warning classes.

Each exception also subclasses the builtin a caller would naturally catch (``except ValueError`` keeps working
for configuration mistakes, ``except ImportError`` for a plugin that fails to import, ...).
"""

from __future__ import annotations

__all__ = [
    "BuildFeatureError",
    "ComponentError",
    "ConfigError",
    "DataError",
    "PluginConflictError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "PluginValidationError",
    "SolverError",
    "VaetkDeprecationWarning",
    "VaetkError",
    "VaetkWarning",
]


class VaetkError(Exception):
    """Base class of every error vaetk raises on purpose."""


class ConfigError(VaetkError, ValueError):
    """A configuration value or parameter is invalid (unknown key, wrong type, out of range)."""


class DataError(VaetkError, ValueError):
    """Input data or a stored dataset is invalid, incomplete, corrupted or does not match what was expected."""


class PluginError(VaetkError):
    """Base class of the plugin-registry errors."""


class PluginNotFoundError(PluginError, LookupError):
    """No plugin of that name is registered in the group."""


class PluginLoadError(PluginError, ImportError):
    """A plugin's entry point failed to import."""


class PluginValidationError(PluginError, TypeError):
    """A plugin imported but does not satisfy its group's contract."""


class PluginConflictError(PluginError, LookupError):
    """Two distributions provide the same plugin name and the caller did not pick a provider."""


class BuildFeatureError(VaetkError, RuntimeError):
    """The requested feature (CUDA, OpenMP) was not compiled into this build."""


class ComponentError(VaetkError, RuntimeError):
    """A model component misbehaved at run time (sanity check failed, non-finite loss, ...)."""


class SolverError(VaetkError, RuntimeError):
    """A linear solve failed (no convergence, singular system); the message names the sample.

    ``samples`` holds the batch indices of the failed samples when the solver reports them (else empty), so a
    caller that knows where the batch came from can name them (dataset generation: split and global index).
    """

    def __init__(self, message: str, samples: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.samples = tuple(samples)


class VaetkWarning(UserWarning):
    """Base class of vaetk's warnings."""


class VaetkDeprecationWarning(VaetkWarning, DeprecationWarning):
    """A deprecated name or option was used."""
