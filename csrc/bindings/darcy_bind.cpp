// Bindings for the Darcy kernels (assembly, operators, solvers, velocity).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_darcy(py::module_& m) { (void)m; }
