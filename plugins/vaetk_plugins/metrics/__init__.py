"""Built-in disentanglement metrics (registered in vaetk's pyproject under ``vaetk.metrics``)."""
