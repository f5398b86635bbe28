"""Built-in Darcy solvers: ``native`` (C++ multigrid-CG), ``torch`` (the same method in torch, CPU or GPU),
``direct`` (SuperLU), ``amg`` (pyamg), ``reference``."""
