"""The ``vaetk`` command line: one module per subcommand with ``populate_parser(p)`` and ``run(args) -> int``;
options shared by several subcommands, and their deprecated spellings, live in ``_options``."""
