// CUDA bindings for the Darcy kernels. Device memory arrives as integer addresses (torch's data_ptr()) with
// explicit sizes; the Python wrapper (vaetk/darcy/_cuda.py) checks devices, dtypes, shapes and contiguity.
#include <pybind11/pybind11.h>

#include <cstdint>

#include "vaetk/cuda_api.hpp"

namespace py = pybind11;
using vaetk::index_t;

namespace {

template <class T>
T* device_ptr(std::uintptr_t address) {
  return reinterpret_cast<T*>(address);
}

void check_scheme(int scheme) {
  if (scheme != 0 && scheme != 1) throw py::value_error("scheme must be 0 (paper) or 1 (conservative)");
}

}  // namespace

void bind_cuda_darcy(py::module_& m) {
  m.def("darcy_assemble", [](std::uintptr_t K, index_t batch, index_t n, int scheme, std::uintptr_t indptr,
                             std::uintptr_t data, std::uintptr_t stream) {
    check_scheme(scheme);
    py::gil_scoped_release nogil;
    vaetk::cuda::darcy_assemble(device_ptr<const double>(K), batch, n, scheme, device_ptr<const index_t>(indptr),
                                device_ptr<double>(data), stream);
  }, py::arg("permeability"), py::arg("batch"), py::arg("n"), py::arg("scheme"), py::arg("indptr"),
     py::arg("data"), py::arg("stream"));
  m.def("darcy_velocity", [](std::uintptr_t p, std::uintptr_t K, index_t batch, index_t n, int scheme,
                             std::uintptr_t u, std::uintptr_t stream) {
    check_scheme(scheme);
    py::gil_scoped_release nogil;
    vaetk::cuda::darcy_velocity(device_ptr<const double>(p), device_ptr<const double>(K), batch, n, scheme,
                                device_ptr<double>(u), stream);
  }, py::arg("pressure"), py::arg("permeability"), py::arg("batch"), py::arg("n"), py::arg("scheme"),
     py::arg("velocity"), py::arg("stream"));
}
