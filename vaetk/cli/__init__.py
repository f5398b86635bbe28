"""The ``vaetk`` command line: one module per subcommand with ``populate_parser(p)`` and ``run(args) -> int``."""
