// Exact k-nearest-neighbour distances in double precision, and the per-sample terms of the Wang-Kulkarni-Verdu
// (2009) k-NN divergence estimators.
//
// Points are rows of row-major (n, d) arrays. Distances are Euclidean, computed as sqrt(sum_j (q_j - r_j)^2) in
// double precision. In a "self" search the queries are the reference points themselves and each query's own row
// is excluded by index (not by distance 0), so an exact duplicate of the query counts as a neighbour at distance
// 0. Every query is processed independently (OpenMP over queries), so results do not depend on the thread count.
//
// Search structure: a uniform grid (cell list) for d <= 3, a k-d tree (median splits on the widest dimension,
// leaves of a few points, incremental per-dimension bounds as in Arya & Mount) for moderate dimension, or a
// blocked brute-force scan where that wins (small reference sets, high dimension). All give the same distances.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "vaetk/common.hpp"

namespace vaetk {

namespace knn_detail {
class NeighbourIndex;
}

enum class KnnAlgorithm : int { automatic = 0, kdtree = 1, brute = 2, grid = 3 };

// n points of dimension d stored in a search structure's own order, with their original rows: what KdTree and
// UniformGrid share.
class StoredPoints {
 public:
  index_t size() const { return n_; }
  index_t dim() const { return d_; }
  // Original row of the point stored at position p; visiting queries in this order improves locality.
  const std::vector<index_t>& order() const { return ids_; }
  const double* point(index_t p) const { return pts_.data() + p * d_; }

 protected:
  // Bad sizes allocate nothing; the derived constructor reports them.
  StoredPoints(index_t n, index_t d)
      : n_(n), d_(d), pts_(static_cast<size_t>(n > 0 && d > 0 ? n * d : 0)), ids_(static_cast<size_t>(n > 0 ? n : 0)) {}
  index_t n_, d_;
  std::vector<double> pts_;
  std::vector<index_t> ids_;
};

// Scratch space for n doubles: on the stack up to N, on the heap beyond.
template <size_t N>
class ScratchBuffer {
 public:
  explicit ScratchBuffer(index_t n) {
    if (n > static_cast<index_t>(N)) heap_.resize(static_cast<size_t>(n));
  }
  double* data() { return heap_.empty() ? stack_ : heap_.data(); }

 private:
  double stack_[N];
  std::vector<double> heap_;
};

// A k-d tree over n points of dimension d. The points are copied in tree order.
class KdTree : public StoredPoints {
 public:
  KdTree(const double* points, index_t n, index_t d, index_t leaf_size = 8);

  // Squared distances (ascending) of the k nearest points to q, skipping the point whose original row is `skip`
  // (-1: skip nothing). out_d2 has k entries; entries beyond the number of available points stay +inf.
  void knn(const double* q, index_t k, index_t skip, double* out_d2) const;

  // Number of points p (p != skip) with |q - p|^2 <= r2, and the largest such squared distance (0 if none).
  void radius(const double* q, double r2, index_t skip, index_t* out_count, double* out_max_d2) const;

 private:
  struct Node {
    index_t begin, end;    // range of tree positions
    index_t left, right;   // children (-1 for a leaf)
    int dim;               // split dimension
    double low, high;      // largest coordinate of the left child, smallest of the right child, along dim
  };
  index_t build(index_t begin, index_t end, index_t leaf_size, std::vector<std::pair<double, index_t>>& keys,
                std::vector<double>& rows, std::vector<index_t>& ids);
  template <int D>
  void knn_node(index_t node, const double* q, double mind2, double* off, index_t k, index_t skip,
                double* d2) const;
  template <int D>
  void radius_node(index_t node, const double* q, double mind2, double* off, double r2, index_t skip,
                   index_t* count, double* max_d2) const;
  double root_offsets(const double* q, double* off) const;
  // The child on q's side of the split first, then the other, and the squared gap from q to the other's extent.
  struct Children {
    index_t near, far;
    double cut;
  };
  static Children children_by_distance(const Node& node, const double* q);

  std::vector<Node> nodes_;
  std::vector<double> lo_, hi_;  // bounding box of all points
};

// A uniform grid of cubic cells over n points of dimension d <= 3 (a cell list). Cells are sized for about
// `per_cell` points where the data are densest (from the per-dimension spread); points are stored cell by cell
// (counting sort, two passes, stable: within a cell in row order), so building costs O(n + cells).
// Queries search rings of cells (Chebyshev distance r = 0, 1, ... from the query's cell) and stop once the
// k-th best distance is within the Euclidean distance from the query to every unvisited cell (with a margin for
// rounding in the cell assignment), so results are exact; same interface as KdTree.
class UniformGrid : public StoredPoints {
 public:
  UniformGrid(const double* points, index_t n, index_t d, double per_cell = 2.0);

  void knn(const double* q, index_t k, index_t skip, double* out_d2) const;
  void radius(const double* q, double r2, index_t skip, index_t* out_count, double* out_max_d2) const;

  static constexpr index_t kMaxDim = 3;

 private:
  template <int D>
  void knn_d(const double* q, index_t k, index_t skip, double* d2) const;
  template <int D>
  void radius_d(const double* q, double r2, index_t skip, index_t* count, double* max_d2) const;
  index_t cell_coord(double v, int j) const;  // clamped to [0, g_j - 1]

  std::vector<std::uint32_t> start_;  // first point of each cell; start_[cells] = n
  double lo_[kMaxDim] = {0, 0, 0}, hi_[kMaxDim] = {0, 0, 0};  // grid box lo_ .. lo_ + g_ * h_ (hi_: data max)
  double h_ = 1.0, inv_h_ = 1.0;
  index_t g_[kMaxDim] = {1, 1, 1}, stride_[kMaxDim] = {1, 1, 1};
};

// k-th..1st nearest-neighbour distances: out_dist (n_query, k), row i ascending, for query i among the
// n_ref reference points. self: query == ref (same array, n_query == n_ref) and row i excludes reference row i.
// Requires k <= n_ref - (self ? 1 : 0). Throws std::invalid_argument on bad sizes.
void knn_distances(const double* ref, index_t n_ref, const double* query, index_t n_query, index_t d, index_t k,
                   bool self, KnnAlgorithm algorithm, int n_threads, double* out_dist);

// For each query i: out_count[i] = number of reference points within distance radius[i] (inclusive; self
// excludes row i), out_max_dist[i] = the largest such distance (0 if none).
void knn_radius_counts(const double* ref, index_t n_ref, const double* query, index_t n_query, index_t d,
                       const double* radius, bool self, KnnAlgorithm algorithm, int n_threads,
                       index_t* out_count, double* out_max_dist);

// Per-sample terms of the WKV estimators of D(P || Q) from x ~ P (n, d) and y ~ Q (m, d).
// eps1 == false (fixed k): out_rho[i] = rho_k(i) (k-th NN distance of x_i in x without x_i), out_nu[i] = nu_k(i)
//   (k-th NN distance of x_i in y), out_l[i] = out_k[i] = k.
// eps1 == true (adaptive, WKV 2009 section III): eps(i) = max(rho_k(i), nu_k(i)); out_l[i] = l_i = #x_j (j != i)
//   with |x_j - x_i| <= eps(i), out_k[i] = k_i = #y_j with |y_j - x_i| <= eps(i), out_rho[i] = rho_{l_i}(i),
//   out_nu[i] = nu_{k_i}(i).
// Requires k <= n - 1 and k <= m.
void wkv_terms(const double* x, index_t n, const double* y, index_t m, index_t d, index_t k, bool eps1,
               KnnAlgorithm algorithm, int n_threads, double* out_rho, double* out_nu, index_t* out_l,
               index_t* out_k);

// The WKV estimate of D(P || Q) for one fixed sample x ~ P and many samples y ~ Q, as in an optimisation over
// a transformation of y (S_KL). Everything that depends on x alone is computed once: its search structure,
// rho_k, and (eps1) its sorted neighbour distances up to a cache depth, from which l_i and rho_{l_i} are read
// for most eps(i). Each evaluate() builds y's structure and runs one k-NN query per x_i; values equal those of
// wkv_terms + the Python reduction up to summation order.
class WkvFixedX {
 public:
  WkvFixedX(const double* x, index_t n, index_t d, index_t k, bool eps1);
  ~WkvFixedX();
  WkvFixedX(const WkvFixedX&) = delete;
  WkvFixedX& operator=(const WkvFixedX&) = delete;

  // The estimate for y = scale * z + shift (per column; z is (m, d) row-major), or +inf when a needed distance
  // is exactly 0. n_threads: over x (results independent of it).
  double evaluate(const double* z, index_t m, const double* scale, const double* shift, int n_threads);

  index_t size() const { return n_; }
  index_t dim() const { return d_; }

 private:
  index_t n_, d_, k_, depth_;
  bool eps1_;
  std::vector<double> x_;
  std::vector<double> near2_;  // (n, depth_) ascending squared distances to the nearest other x
  std::vector<double> digamma_;  // psi(i), i = 1.. (index 0 unused)
  std::vector<double> y_, log_terms_, psi_terms_;
  std::unique_ptr<knn_detail::NeighbourIndex> xindex_;
};

}  // namespace vaetk
