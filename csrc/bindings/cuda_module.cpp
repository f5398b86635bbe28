// vaetk._cuda: the optional CUDA module (built only with VAETK_CUDA=ON).
#include <pybind11/pybind11.h>

#include "vaetk/cuda_api.hpp"

namespace py = pybind11;

void bind_cuda_darcy(py::module_& m);

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "vaetk CUDA kernels. Use the Python wrappers in vaetk.*, not this module.";
  m.def("build_info", [] {
    py::dict info;
    info["version"] = VAETK_VERSION;
    info["cuda_architectures"] = VAETK_CUDA_ARCHS;
    return info;
  });
  m.def("device_count", &vaetk::cuda::device_count);
  m.def("device_name", &vaetk::cuda::device_name, py::arg("device") = 0);

  bind_cuda_darcy(m);
}
