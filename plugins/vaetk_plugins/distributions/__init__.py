"""Built-in parameter distributions p(theta) (entry-point group ``vaetk.distributions``)."""
