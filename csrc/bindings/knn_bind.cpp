// Bindings for the k-nearest-neighbour kernels (k-NN distances, radius counts, WKV estimator terms).
// Arrays must already be C-contiguous float64 / int64 (the Python wrappers in vaetk.metrics.knn coerce them).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "bind_common.hpp"
#include "vaetk/knn.hpp"

using namespace vaetk::bindings;  // py, Doubles, Indices, shape_of, expect_shape
using vaetk::index_t;

namespace {

void expect_matrix(const py::array& a, const char* name) {
  if (a.ndim() != 2) throw py::value_error(std::string(name) + ": expected a 2-D array, got " + shape_of(a));
}

vaetk::KnnAlgorithm algorithm_of(int a) {
  if (a < 0 || a > 3) throw py::value_error("algorithm: expected 0 (auto), 1 (kdtree), 2 (brute) or 3 (grid)");
  return static_cast<vaetk::KnnAlgorithm>(a);
}

}  // namespace

void bind_knn(py::module_& m) {
  m.def(
      "knn_distances",
      [](Doubles ref, Doubles query, index_t k, bool self, int algorithm, int n_threads, Doubles out_dist) {
        expect_matrix(ref, "ref");
        expect_matrix(query, "query");
        const index_t d = ref.shape(1);
        expect_shape(query, "query", {query.shape(0), d});
        expect_shape(out_dist, "out_dist", {query.shape(0), k});
        const auto alg = algorithm_of(algorithm);
        const double* r = ref.data();
        const double* q = query.data();
        double* o = out_dist.mutable_data();
        const index_t n_ref = ref.shape(0), n_query = query.shape(0);
        {
          py::gil_scoped_release nogil;
          vaetk::knn_distances(r, n_ref, q, n_query, d, k, self, alg, n_threads, o);
        }
      },
      py::arg("ref").noconvert(), py::arg("query").noconvert(), py::arg("k"), py::arg("self"),
      py::arg("algorithm"), py::arg("n_threads"), py::arg("out_dist").noconvert(),
      "Distances to the 1st..k-th nearest reference points of each query (self: exclude the query's own row).");

  m.def(
      "knn_radius_counts",
      [](Doubles ref, Doubles query, Doubles radius, bool self, int algorithm, int n_threads, Indices out_count,
         Doubles out_max_dist) {
        expect_matrix(ref, "ref");
        expect_matrix(query, "query");
        const index_t d = ref.shape(1), nq = query.shape(0);
        expect_shape(query, "query", {nq, d});
        expect_shape(radius, "radius", {nq});
        expect_shape(out_count, "out_count", {nq});
        expect_shape(out_max_dist, "out_max_dist", {nq});
        const auto alg = algorithm_of(algorithm);
        const double *r = ref.data(), *q = query.data(), *rad = radius.data();
        index_t* oc = out_count.mutable_data();
        double* om = out_max_dist.mutable_data();
        const index_t n_ref = ref.shape(0);
        {
          py::gil_scoped_release nogil;
          vaetk::knn_radius_counts(r, n_ref, q, nq, d, rad, self, alg, n_threads, oc, om);
        }
      },
      py::arg("ref").noconvert(), py::arg("query").noconvert(), py::arg("radius").noconvert(), py::arg("self"),
      py::arg("algorithm"), py::arg("n_threads"), py::arg("out_count").noconvert(),
      py::arg("out_max_dist").noconvert(),
      "Number of reference points within radius[i] of query i (inclusive) and the largest such distance.");

  m.def(
      "wkv_terms",
      [](Doubles x, Doubles y, index_t k, bool eps1, int algorithm, int n_threads, Doubles out_rho, Doubles out_nu,
         Indices out_l, Indices out_k) {
        expect_matrix(x, "x");
        expect_matrix(y, "y");
        const index_t n = x.shape(0), m_ = y.shape(0), d = x.shape(1);
        expect_shape(y, "y", {m_, d});
        for (auto* a : {&out_rho, &out_nu}) expect_shape(*a, "out_rho/out_nu", {n});
        for (auto* a : {&out_l, &out_k}) expect_shape(*a, "out_l/out_k", {n});
        const auto alg = algorithm_of(algorithm);
        const double *px = x.data(), *py_ = y.data();
        double *rho = out_rho.mutable_data(), *nu = out_nu.mutable_data();
        index_t *l = out_l.mutable_data(), *kk = out_k.mutable_data();
        {
          py::gil_scoped_release nogil;
          vaetk::wkv_terms(px, n, py_, m_, d, k, eps1, alg, n_threads, rho, nu, l, kk);
        }
      },
      py::arg("x").noconvert(), py::arg("y").noconvert(), py::arg("k"), py::arg("eps1"), py::arg("algorithm"),
      py::arg("n_threads"), py::arg("out_rho").noconvert(), py::arg("out_nu").noconvert(),
      py::arg("out_l").noconvert(), py::arg("out_k").noconvert(),
      "Per-sample WKV terms: rho, nu (distances) and l, k (neighbour counts) for the fixed-k or eps1 estimator.");

  py::class_<vaetk::WkvFixedX>(m, "WkvFixedX",
                               "WKV estimate of D(P || Q) for a fixed sample x of P and many samples of Q.")
      .def(py::init([](Doubles x, index_t k, bool eps1) {
             expect_matrix(x, "x");
             return std::make_unique<vaetk::WkvFixedX>(x.data(), x.shape(0), x.shape(1), k, eps1);
           }),
           py::arg("x").noconvert(), py::arg("k"), py::arg("eps1"))
      .def(
          "evaluate",
          [](vaetk::WkvFixedX& self, Doubles z, Doubles scale, Doubles shift, int n_threads) {
            expect_matrix(z, "z");
            const index_t d = self.dim();
            expect_shape(z, "z", {z.shape(0), d});
            expect_shape(scale, "scale", {d});
            expect_shape(shift, "shift", {d});
            const double *pz = z.data(), *ps = scale.data(), *pb = shift.data();
            const index_t m_ = z.shape(0);
            py::gil_scoped_release nogil;
            return self.evaluate(pz, m_, ps, pb, n_threads);
          },
          py::arg("z").noconvert(), py::arg("scale").noconvert(), py::arg("shift").noconvert(),
          py::arg("n_threads") = 1,
          "The estimate for y = scale * z + shift (per column); +inf when a needed distance is exactly 0.");
}
