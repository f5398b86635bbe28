// Small inline helpers shared by the k-NN search structures (knn.cpp, knn_grid.cpp, knn_wkv.cpp). Internal.
#pragma once

#include <limits>

#include "vaetk/common.hpp"

namespace vaetk::knn_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Insert v into the ascending k-best list d2[0..k) if it beats the current worst.
inline void push_best(double* d2, index_t k, double v) {
  if (!(v < d2[k - 1])) return;
  index_t j = k - 1;
  while (j > 0 && d2[j - 1] > v) {
    d2[j] = d2[j - 1];
    --j;
  }
  d2[j] = v;
}

// D > 0: dimension known at compile time (unrolled); D == 0: runtime dimension d. Every structure computes
// distances with this one formula, so they agree bit for bit.
template <int D>
inline double sq_dist(const double* a, const double* b, index_t d) {
  double s = 0.0;
  const index_t dd = D > 0 ? D : d;
  for (index_t j = 0; j < dd; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

}  // namespace vaetk::knn_detail
