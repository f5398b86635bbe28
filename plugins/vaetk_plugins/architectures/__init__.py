"""Built-in architectures (entry-point group ``vaetk.architectures``)."""
