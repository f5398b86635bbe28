"""Built-in Darcy solvers: ``native`` (C++ multigrid-CG), ``direct`` (SuperLU), ``amg`` (pyamg), ``reference``."""
