// Bindings for the Darcy kernels (pattern, assembly, velocity, multigrid-preconditioned CG). Validation of values
// (K > 0, finite) happens in the Python wrappers (vaetk/darcy/_kernels.py); here only shapes are checked.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bind_common.hpp"
#include "vaetk/darcy.hpp"

using namespace vaetk::bindings;  // py, Doubles, Indices, shape_of, expect_shape
using vaetk::index_t;

namespace {

vaetk::Scheme to_scheme(int scheme) {
  if (scheme != 0 && scheme != 1) throw py::value_error("scheme must be 0 (paper) or 1 (conservative)");
  return static_cast<vaetk::Scheme>(scheme);
}

// (batch, n) of a (batch, n, n) array.
std::pair<index_t, index_t> batch_grid(const Doubles& K, const char* name) {
  if (K.ndim() != 3 || K.shape(1) != K.shape(2))
    throw py::value_error(std::string(name) + ": expected shape (batch, n, n), got " + shape_of(K));
  return {K.shape(0), K.shape(1)};
}

// Both multigrid solvers share one signature, so one binding serves them.
using MGSolver = void (*)(const double*, const double*, index_t, index_t, const vaetk::MGOptions&, double*, double*,
                          index_t*, int);

void bind_mg_solver(py::module_& m, const char* name, MGSolver solver) {
  m.def(name,
        [solver](Doubles K, Doubles f, double tol, int maxiter, int pre_sweeps, int post_sweeps, index_t coarse_nodes,
                 Doubles p, Doubles residual, Indices iterations, int n_threads, bool rediscretize) {
    auto [batch, n] = batch_grid(K, "permeability");
    expect_shape(f, "source", {batch, n, n});
    expect_shape(p, "pressure", {batch, n, n});
    expect_shape(residual, "residual", {batch});
    expect_shape(iterations, "iterations", {batch});
    vaetk::MGOptions opt;
    opt.tol = tol;
    opt.maxiter = maxiter;
    opt.pre_sweeps = pre_sweeps;
    opt.post_sweeps = post_sweeps;
    opt.coarse_nodes = coarse_nodes;
    opt.rediscretize = rediscretize;
    const double* k = K.data();
    const double* src = f.data();
    double* out_p = p.mutable_data();
    double* out_r = residual.mutable_data();
    index_t* out_it = iterations.mutable_data();
    { py::gil_scoped_release nogil;
      solver(k, src, batch, n, opt, out_p, out_r, out_it, n_threads); }
  }, py::arg("permeability").noconvert(), py::arg("source").noconvert(), py::arg("tol"), py::arg("maxiter"),
     py::arg("pre_sweeps"), py::arg("post_sweeps"), py::arg("coarse_nodes"), py::arg("pressure").noconvert(),
     py::arg("residual").noconvert(), py::arg("iterations").noconvert(), py::arg("n_threads"),
     py::arg("rediscretize") = false);
}

}  // namespace

void bind_darcy(py::module_& m) {
  m.def("darcy_nnz", &vaetk::darcy_nnz, py::arg("n"));

  m.def("darcy_pattern", [](index_t n, Indices indptr, Indices indices) {
    expect_shape(indptr, "indptr", {n * n + 1});
    expect_shape(indices, "indices", {vaetk::darcy_nnz(n)});
    index_t* ip = indptr.mutable_data();
    index_t* ix = indices.mutable_data();
    { py::gil_scoped_release nogil; vaetk::darcy_pattern(n, ip, ix); }
  }, py::arg("n"), py::arg("indptr").noconvert(), py::arg("indices").noconvert());

  m.def("darcy_assemble", [](Doubles K, int scheme, Doubles data, int n_threads) {
    auto [batch, n] = batch_grid(K, "permeability");
    expect_shape(data, "data", {batch, vaetk::darcy_nnz(n)});
    const vaetk::Scheme s = to_scheme(scheme);
    const double* k = K.data();
    double* out = data.mutable_data();
    { py::gil_scoped_release nogil; vaetk::darcy_assemble(k, batch, n, s, out, n_threads); }
  }, py::arg("permeability").noconvert(), py::arg("scheme"), py::arg("data").noconvert(), py::arg("n_threads"));

  m.def("darcy_velocity", [](Doubles p, Doubles K, int scheme, Doubles u, int n_threads) {
    auto [batch, n] = batch_grid(K, "permeability");
    expect_shape(p, "pressure", {batch, n, n});
    expect_shape(u, "velocity", {batch, 2, n, n});
    const vaetk::Scheme s = to_scheme(scheme);
    const double* pp = p.data();
    const double* k = K.data();
    double* out = u.mutable_data();
    { py::gil_scoped_release nogil; vaetk::darcy_velocity(pp, k, batch, n, s, out, n_threads); }
  }, py::arg("pressure").noconvert(), py::arg("permeability").noconvert(), py::arg("scheme"),
     py::arg("velocity").noconvert(), py::arg("n_threads"));

  bind_mg_solver(m, "darcy_solve_conservative_mg", vaetk::darcy_solve_conservative_mg);
  bind_mg_solver(m, "darcy_solve_paper_mg", vaetk::darcy_solve_paper_mg);
}
