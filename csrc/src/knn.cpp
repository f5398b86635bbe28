// k-d tree and blocked brute-force exact k-NN search, radius counts, and the WKV estimator terms (see knn.hpp).
#include "vaetk/knn.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <numeric>
#include <string>

#include "vaetk/knn_detail.hpp"
#include "vaetk/parallel.hpp"

namespace vaetk {

namespace {

using knn_detail::kInf;
using knn_detail::push_best;
using knn_detail::sq_dist;
using knn_detail::NeighbourIndex;
// The incremental box distances are rounded; shrinking them by this factor before pruning keeps a point whose
// distance ties the current bound (e.g. rounded data) from being skipped by a rounding error.
constexpr double kPruneSlack = 1.0 - 1e-12;
constexpr index_t kQueryChunk = 256;  // most queries per parallel work item (shares per-item scratch buffers)

// Queries per work item: small enough that every thread gets work on small inputs. Each query is independent,
// so the chunking never changes results.
// Below this many queries one thread does the work: waking a thread team costs more than it saves (and on a busy
// machine a sleeping team can cost milliseconds). A query's cost grows steeply with the dimension, so the
// threshold is on queries * d^2 (4096 queries at d = 2, about 160 at d = 10). Results are the same either way.
constexpr index_t kMinParallelWork = 4096 * 4;
inline int threads_for(index_t n_queries, index_t d, int n_threads) {
  return n_queries * d * d < kMinParallelWork ? 1 : n_threads;
}

inline index_t query_chunk(index_t n, int n_threads) {
  return std::clamp<index_t>(n / (8 * std::max(n_threads, 1)), 16, kQueryChunk);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// k-d tree

KdTree::KdTree(const double* points, index_t n, index_t d, index_t leaf_size)
    : StoredPoints(n, d), lo_(d, kInf), hi_(d, -kInf) {
  if (n < 1 || d < 1) fail("KdTree: need at least one point of dimension >= 1");
  std::copy_n(points, n * d, pts_.begin());
  std::iota(ids_.begin(), ids_.end(), index_t{0});
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < d; ++j) {
      lo_[j] = std::min(lo_[j], points[i * d + j]);
      hi_[j] = std::max(hi_[j], points[i * d + j]);
    }
  nodes_.reserve(static_cast<size_t>(4 * (n / std::max<index_t>(leaf_size, 1) + 1)));
  std::vector<std::pair<double, index_t>> keys(static_cast<size_t>(n));
  std::vector<double> rows(static_cast<size_t>(n * d));
  std::vector<index_t> ids(static_cast<size_t>(n));
  build(0, n, std::max<index_t>(leaf_size, 1), keys, rows, ids);
}

// Split [begin, end) along its widest dimension at the middle of the points' extent (one in-place pass over the
// rows), falling back to the median (selection on (coordinate, position) keys) when the middle split would be
// lopsided, which keeps the depth O(log n). Each child's rows end up contiguous in pts_ (ids_ moved along).
index_t KdTree::build(index_t begin, index_t end, index_t leaf_size, std::vector<std::pair<double, index_t>>& keys,
                      std::vector<double>& rows, std::vector<index_t>& ids) {
  const index_t self = static_cast<index_t>(nodes_.size());
  nodes_.push_back(Node{begin, end, -1, -1, 0, 0.0, 0.0});
  if (end - begin <= leaf_size) return self;
  double box_lo[16], box_hi[16];
  std::vector<double> big_lo, big_hi;
  double* lo = box_lo;
  double* hi = box_hi;
  if (d_ > 16) {
    big_lo.resize(static_cast<size_t>(d_));
    big_hi.resize(static_cast<size_t>(d_));
    lo = big_lo.data();
    hi = big_hi.data();
  }
  std::fill_n(lo, d_, kInf);
  std::fill_n(hi, d_, -kInf);
  for (index_t p = begin; p < end; ++p) {
    const double* r = pts_.data() + p * d_;
    for (index_t j = 0; j < d_; ++j) {
      lo[j] = std::min(lo[j], r[j]);
      hi[j] = std::max(hi[j], r[j]);
    }
  }
  int dim = 0;
  for (index_t j = 1; j < d_; ++j)
    if (hi[j] - lo[j] > hi[dim] - lo[dim]) dim = static_cast<int>(j);
  if (!(hi[dim] - lo[dim] > 0.0)) return self;  // all points identical: one leaf
  const index_t len = end - begin;
  const double cut = lo[dim] + 0.5 * (hi[dim] - lo[dim]);
  // in-place partition of rows: coordinate < cut to the left
  index_t a = begin, b = end - 1;
  while (true) {
    while (a <= b && pts_[static_cast<size_t>(a * d_ + dim)] < cut) ++a;
    while (a <= b && !(pts_[static_cast<size_t>(b * d_ + dim)] < cut)) --b;
    if (a >= b) break;
    std::swap_ranges(pts_.data() + a * d_, pts_.data() + (a + 1) * d_, pts_.data() + b * d_);
    std::swap(ids_[static_cast<size_t>(a)], ids_[static_cast<size_t>(b)]);
    ++a;
    --b;
  }
  index_t mid = a;
  if (std::min(mid - begin, end - mid) < len / 8) {
    const index_t half = len / 2;
    mid = begin + half;
    for (index_t p = 0; p < len; ++p)
      keys[static_cast<size_t>(p)] = {pts_[static_cast<size_t>((begin + p) * d_ + dim)], p};
    // ties broken by position, so the tree is fully determined by the data
    std::nth_element(keys.begin(), keys.begin() + half, keys.begin() + len);
    for (index_t p = 0; p < len; ++p) {
      const index_t src = begin + keys[static_cast<size_t>(p)].second;
      std::copy_n(pts_.data() + src * d_, d_, rows.data() + p * d_);
      ids[static_cast<size_t>(p)] = ids_[static_cast<size_t>(src)];
    }
    std::copy_n(rows.data(), len * d_, pts_.data() + begin * d_);
    std::copy_n(ids.data(), len, ids_.data() + begin);
  }
  double low = -kInf, high = kInf;
  for (index_t p = begin; p < mid; ++p) low = std::max(low, pts_[static_cast<size_t>(p * d_ + dim)]);
  for (index_t p = mid; p < end; ++p) high = std::min(high, pts_[static_cast<size_t>(p * d_ + dim)]);
  const index_t left = build(begin, mid, leaf_size, keys, rows, ids);
  const index_t right = build(mid, end, leaf_size, keys, rows, ids);
  Node& node = nodes_[static_cast<size_t>(self)];
  node.left = left;
  node.right = right;
  node.dim = dim;
  node.low = low;
  node.high = high;
  return self;
}

KdTree::Children KdTree::children_by_distance(const Node& node, const double* q) {
  const double below = q[node.dim] - node.low;   // > 0: q is right of the left child's extent
  const double above = q[node.dim] - node.high;  // < 0: q is left of the right child's extent
  if (below + above < 0) return {node.left, node.right, above * above};
  return {node.right, node.left, below * below};
}

double KdTree::root_offsets(const double* q, double* off) const {
  double mind2 = 0.0;
  for (index_t j = 0; j < d_; ++j) {
    double t = 0.0;
    if (q[j] < lo_[j]) t = lo_[j] - q[j];
    if (q[j] > hi_[j]) t = q[j] - hi_[j];
    off[j] = t * t;
    mind2 += off[j];
  }
  return mind2;
}

template <int D>
void KdTree::knn_node(index_t ni, const double* q, double mind2, double* off, index_t k, index_t skip,
                      double* d2) const {
  const Node& node = nodes_[static_cast<size_t>(ni)];
  if (node.left < 0) {
    for (index_t p = node.begin; p < node.end; ++p) {
      const double v = sq_dist<D>(q, pts_.data() + p * d_, d_);
      if (v < d2[k - 1] && ids_[p] != skip) push_best(d2, k, v);
    }
    return;
  }
  const auto [near, far, cut] = KdTree::children_by_distance(node, q);
  knn_node<D>(near, q, mind2, off, k, skip, d2);
  const double saved = off[node.dim];
  const double far_d2 = mind2 - saved + cut;
  if (far_d2 * kPruneSlack < d2[k - 1]) {
    off[node.dim] = cut;
    knn_node<D>(far, q, far_d2, off, k, skip, d2);
    off[node.dim] = saved;
  }
}

void KdTree::knn(const double* q, index_t k, index_t skip, double* out_d2) const {
  std::fill_n(out_d2, k, kInf);
  ScratchBuffer<16> scratch(d_);
  double* off = scratch.data();
  const double mind2 = root_offsets(q, off);
  switch (d_) {
    case 1: knn_node<1>(0, q, mind2, off, k, skip, out_d2); break;
    case 2: knn_node<2>(0, q, mind2, off, k, skip, out_d2); break;
    case 3: knn_node<3>(0, q, mind2, off, k, skip, out_d2); break;
    default: knn_node<0>(0, q, mind2, off, k, skip, out_d2);
  }
}

template <int D>
void KdTree::radius_node(index_t ni, const double* q, double mind2, double* off, double r2, index_t skip,
                         index_t* count, double* max_d2) const {
  const Node& node = nodes_[static_cast<size_t>(ni)];
  if (node.left < 0) {
    for (index_t p = node.begin; p < node.end; ++p) {
      const double v = sq_dist<D>(q, pts_.data() + p * d_, d_);
      if (v <= r2 && ids_[p] != skip) {
        ++*count;
        *max_d2 = std::max(*max_d2, v);
      }
    }
    return;
  }
  const auto [near, far, cut] = KdTree::children_by_distance(node, q);
  radius_node<D>(near, q, mind2, off, r2, skip, count, max_d2);
  const double saved = off[node.dim];
  const double far_d2 = mind2 - saved + cut;
  if (far_d2 * kPruneSlack <= r2) {
    off[node.dim] = cut;
    radius_node<D>(far, q, far_d2, off, r2, skip, count, max_d2);
    off[node.dim] = saved;
  }
}

void KdTree::radius(const double* q, double r2, index_t skip, index_t* out_count, double* out_max_d2) const {
  *out_count = 0;
  *out_max_d2 = 0.0;
  ScratchBuffer<16> scratch(d_);
  double* off = scratch.data();
  const double mind2 = root_offsets(q, off);
  if (!(mind2 <= r2)) return;
  switch (d_) {
    case 1: radius_node<1>(0, q, mind2, off, r2, skip, out_count, out_max_d2); break;
    case 2: radius_node<2>(0, q, mind2, off, r2, skip, out_count, out_max_d2); break;
    case 3: radius_node<3>(0, q, mind2, off, r2, skip, out_count, out_max_d2); break;
    default: radius_node<0>(0, q, mind2, off, r2, skip, out_count, out_max_d2);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One search interface over the two algorithms.

namespace {

void check_sizes(const char* what, index_t n_ref, index_t n_query, index_t d, index_t k, bool self) {
  if (d < 1) fail(std::string(what) + ": dimension must be >= 1, got " + std::to_string(d));
  if (n_ref < 1 || n_query < 0) fail(std::string(what) + ": empty reference set");
  if (self && n_ref != n_query) fail(std::string(what) + ": self search needs query == reference");
  const index_t available = n_ref - (self ? 1 : 0);
  if (k < 1 || k > available)
    fail(std::string(what) + ": k = " + std::to_string(k) + " must be in [1, " + std::to_string(available) + "]");
}

}  // namespace

void knn_distances(const double* ref, index_t n_ref, const double* query, index_t n_query, index_t d, index_t k,
                   bool self, KnnAlgorithm algorithm, int n_threads, double* out_dist) {
  check_sizes("knn_distances", n_ref, n_query, d, k, self);
  const NeighbourIndex index(ref, n_ref, d, algorithm);
  n_threads = threads_for(n_query, d, n_threads);
  const index_t chunk = query_chunk(n_query, n_threads);
  const index_t chunks = (n_query + chunk - 1) / chunk;
  // Self search on a tree: visit queries in tree order (neighbouring queries share cache lines).
  const bool tree_order = self && index.has_order();
  parallel_for_dynamic(chunks, n_threads, [&](index_t c) {
    const index_t c0 = c * chunk, c1 = std::min(n_query, c0 + chunk);
    if (tree_order) {
      const auto& ids = index.order();
      for (index_t p = c0; p < c1; ++p) {
        const index_t i = ids[static_cast<size_t>(p)];
        double* row = out_dist + i * k;
        index.knn_one(index.point(p), k, i, row);
        for (index_t j = 0; j < k; ++j) row[j] = std::sqrt(row[j]);
      }
      return;
    }
    std::vector<index_t> skip;
    if (self) {
      skip.resize(static_cast<size_t>(c1 - c0));
      std::iota(skip.begin(), skip.end(), c0);
    }
    index.knn_batch(query + c0 * d, c1 - c0, self ? skip.data() : nullptr, k, out_dist + c0 * k);
    for (index_t j = c0 * k; j < c1 * k; ++j) out_dist[j] = std::sqrt(out_dist[j]);
  });
}

void knn_radius_counts(const double* ref, index_t n_ref, const double* query, index_t n_query, index_t d,
                       const double* radius, bool self, KnnAlgorithm algorithm, int n_threads,
                       index_t* out_count, double* out_max_dist) {
  check_sizes("knn_radius_counts", n_ref, n_query, d, 1, self && n_ref > 1);
  const NeighbourIndex index(ref, n_ref, d, algorithm);
  parallel_for(n_query, threads_for(n_query, d, n_threads), [&](index_t i) {
    if (!(radius[i] >= 0.0)) fail("knn_radius_counts: radius must be >= 0 (row " + std::to_string(i) + ")");
    double m2 = 0.0;
    index.radius_one(query + i * d, radius[i] * radius[i], self ? i : -1, out_count + i, &m2);
    out_max_dist[i] = std::sqrt(m2);
  });
}

void wkv_terms(const double* x, index_t n, const double* y, index_t m, index_t d, index_t k, bool eps1,
               KnnAlgorithm algorithm, int n_threads, double* out_rho, double* out_nu, index_t* out_l,
               index_t* out_k) {
  check_sizes("wkv_terms (x within x)", n, n, d, k, true);
  check_sizes("wkv_terms (x in y)", m, n, d, k, false);
  // the two structures are independent: build them concurrently when threads are allowed
  std::unique_ptr<NeighbourIndex> built[2];
  parallel_for_dynamic(2, threads_for(n + m, d, n_threads), [&](index_t which) {
    built[which] = which == 0 ? std::make_unique<NeighbourIndex>(x, n, d, algorithm)
                              : std::make_unique<NeighbourIndex>(y, m, d, algorithm);
  });
  const NeighbourIndex& xi = *built[0];
  const NeighbourIndex& yi = *built[1];
  std::vector<index_t> order(static_cast<size_t>(n));
  if (xi.has_order())
    order = xi.order();
  else
    std::iota(order.begin(), order.end(), index_t{0});
  n_threads = threads_for(n, d, n_threads);
  const index_t chunk = query_chunk(n, n_threads);
  const index_t chunks = (n + chunk - 1) / chunk;
  parallel_for_dynamic(chunks, n_threads, [&](index_t c) {
    const index_t c0 = c * chunk, c1 = std::min(n, c0 + chunk);
    std::vector<double> rho(static_cast<size_t>(k)), nu(static_cast<size_t>(k));
    for (index_t p = c0; p < c1; ++p) {
      const index_t i = order[static_cast<size_t>(p)];
      const double* q = x + i * d;
      xi.knn_one(q, k, i, rho.data());
      yi.knn_one(q, k, -1, nu.data());
      if (!eps1) {
        out_rho[i] = std::sqrt(rho[k - 1]);
        out_nu[i] = std::sqrt(nu[k - 1]);
        out_l[i] = k;
        out_k[i] = k;
        continue;
      }
      const double eps2 = std::max(rho[k - 1], nu[k - 1]);
      double rmax = 0.0, nmax = 0.0;
      xi.radius_one(q, eps2, i, out_l + i, &rmax);
      yi.radius_one(q, eps2, -1, out_k + i, &nmax);
      out_rho[i] = std::sqrt(rmax);
      out_nu[i] = std::sqrt(nmax);
    }
  });
}

}  // namespace vaetk
