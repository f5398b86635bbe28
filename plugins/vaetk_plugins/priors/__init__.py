"""Built-in priors (entry-point group ``vaetk.priors``)."""
