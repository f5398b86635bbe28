// vaetk._core: the compiled CPU module. Each kernel family binds itself in its own *_bind.cpp file.
#include <pybind11/pybind11.h>

#include "vaetk/parallel.hpp"

namespace py = pybind11;

void bind_darcy(py::module_& m);
void bind_knn(py::module_& m);

PYBIND11_MODULE(_core, m) {
  m.doc() = "vaetk compiled kernels (C++17, OpenMP). Use the Python wrappers in vaetk.*, not this module.";
  m.attr("__version__") = VAETK_VERSION;

  m.def("build_info", [] {
    py::dict info;
    info["version"] = VAETK_VERSION;
    info["openmp"] = vaetk::openmp_enabled();
    info["build_type"] = VAETK_BUILD_TYPE;
    info["compiler"] = VAETK_CXX_COMPILER;
    return info;
  }, "Compile-time facts about this build: version, OpenMP, build type, compiler.");
  m.def("openmp_max_threads", &vaetk::openmp_max_threads,
        "omp_get_max_threads() of this process (1 without OpenMP).");

  bind_darcy(m);
  bind_knn(m);
}
