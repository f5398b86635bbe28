// Bindings for the k-nearest-neighbour kernels (k-NN search and the KL-divergence estimator).
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_knn(py::module_& m) { (void)m; }
