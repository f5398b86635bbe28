"""vaetk's built-in plugins, registered through the same entry points as third-party plugins.

Subpackages by group: ``solvers``, ``distributions``, ``priors``, ``architectures``, ``metrics``. Nothing here is
imported by ``import vaetk``; the registry imports one plugin module when that plugin is first used.
"""
