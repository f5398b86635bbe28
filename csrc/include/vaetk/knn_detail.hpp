// Inline helpers shared by the k-NN kernels (knn.cpp, knn_grid.cpp, knn_wkv.cpp): the distance formula, the
// k-best list, and one search interface over grid, k-d tree and brute force. Internal.
#pragma once

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "vaetk/common.hpp"
#include "vaetk/knn.hpp"

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

constexpr index_t kRefBlock = 1024;  // reference points per brute-force block (stays in cache)

// One search interface over the three algorithms (all give the same distances).
class NeighbourIndex {
 public:
  NeighbourIndex(const double* ref, index_t n, index_t d, KnnAlgorithm algorithm) : ref_(ref), n_(n), d_(d) {
    if (algorithm == KnnAlgorithm::automatic) {
      // a grid in 1-3 dimensions (linear build, a few cells per query); brute force where a tree cannot prune:
      // tiny sets, or dimensions high for the set size; a k-d tree otherwise
      if (n <= 32 || d > 24 || (d > 12 && n < 4096))
        algorithm = KnnAlgorithm::brute;
      else if (d <= UniformGrid::kMaxDim && n < (index_t{1} << 31))
        algorithm = KnnAlgorithm::grid;
      else
        algorithm = KnnAlgorithm::kdtree;
    }
    if (algorithm == KnnAlgorithm::grid && d > UniformGrid::kMaxDim) algorithm = KnnAlgorithm::kdtree;
    if (algorithm == KnnAlgorithm::kdtree) tree_ = std::make_unique<KdTree>(ref, n, d);
    if (algorithm == KnnAlgorithm::grid) grid_ = std::make_unique<UniformGrid>(ref, n, d);
  }

  // Tree and grid store the points in a locality-preserving order; visiting queries in it shares cache lines.
  bool has_order() const { return tree_ || grid_; }
  const std::vector<index_t>& order() const { return tree_ ? tree_->order() : grid_->order(); }
  const double* point(index_t p) const { return tree_ ? tree_->point(p) : grid_->point(p); }

  void knn_one(const double* q, index_t k, index_t skip, double* out) const {
    if (grid_)
      grid_->knn(q, k, skip, out);
    else if (tree_)
      tree_->knn(q, k, skip, out);
    else
      knn_batch(q, 1, &skip, k, out);
  }

  // Squared k-NN distances of a batch of queries (rows of q, `count` of them), out (count, k).
  void knn_batch(const double* q, index_t count, const index_t* skip, index_t k, double* out) const {
    if (tree_ || grid_) {
      for (index_t i = 0; i < count; ++i) knn_one(q + i * d_, k, skip ? skip[i] : -1, out + i * k);
      return;
    }
    std::fill_n(out, count * k, kInf);
    for (index_t b0 = 0; b0 < n_; b0 += kRefBlock) {
      const index_t b1 = std::min(n_, b0 + kRefBlock);
      for (index_t i = 0; i < count; ++i) {
        const double* qi = q + i * d_;
        double* best = out + i * k;
        const index_t s = skip ? skip[i] : -1;
        for (index_t r = b0; r < b1; ++r) {
          const double v = sq_dist<0>(qi, ref_ + r * d_, d_);
          if (v < best[k - 1] && r != s) push_best(best, k, v);
        }
      }
    }
  }

  void radius_one(const double* q, double r2, index_t skip, index_t* count, double* max_d2) const {
    if (grid_) {
      grid_->radius(q, r2, skip, count, max_d2);
      return;
    }
    if (tree_) {
      tree_->radius(q, r2, skip, count, max_d2);
      return;
    }
    *count = 0;
    *max_d2 = 0.0;
    for (index_t r = 0; r < n_; ++r) {
      const double v = sq_dist<0>(q, ref_ + r * d_, d_);
      if (v <= r2 && r != skip) {
        ++*count;
        *max_d2 = std::max(*max_d2, v);
      }
    }
  }

 private:
  const double* ref_;
  index_t n_, d_;
  std::unique_ptr<KdTree> tree_;
  std::unique_ptr<UniformGrid> grid_;
};

}  // namespace vaetk::knn_detail
