// Uniform-grid (cell list) exact k-NN search and radius counts for d <= 3 (see knn.hpp).
#include <algorithm>
#include <cmath>
#include <string>

#include "vaetk/knn.hpp"
#include "vaetk/knn_detail.hpp"

namespace vaetk {

namespace {

using knn_detail::kInf;
using knn_detail::push_best;
using knn_detail::sq_dist;

// Relative margin for rounding in the cell assignment floor((x - lo) / h): a few ulps suffice, this is generous
// and costs nothing measurable (a bound 1e-12 too small only delays a stop).
constexpr double kSlop = 1e-12;
constexpr index_t kMaxCellsPerPoint = 4;  // memory cap on the grid for spread-out data (heavy tails, outliers)

}  // namespace

UniformGrid::UniformGrid(const double* points, index_t n, index_t d, double per_cell)
    : StoredPoints(n, d) {
  if (n < 1 || d < 1 || d > kMaxDim) fail("UniformGrid: need n >= 1 points of dimension 1..3");
  if (n >= (index_t{1} << 31)) fail("UniformGrid: at most 2^31 - 1 points");
  // Extent and spread per dimension. The spread sqrt(12) * sd equals the extent for uniform data and ignores
  // sparse tails, so cells hold about per_cell points where the data are dense rather than on average.
  double spread[kMaxDim] = {0, 0, 0};
  for (index_t j = 0; j < d; ++j) {
    double lo = kInf, hi = -kInf;
    for (index_t i = 0; i < n; ++i) {
      lo = std::min(lo, points[i * d + j]);
      hi = std::max(hi, points[i * d + j]);
    }
    double s1 = 0.0, s2 = 0.0;
    for (index_t i = 0; i < n; ++i) {
      const double t = points[i * d + j] - lo;
      s1 += t;
      s2 += t * t;
    }
    const double mean = s1 / static_cast<double>(n);
    const double sd = std::sqrt(std::max(0.0, s2 / static_cast<double>(n) - mean * mean));
    lo_[j] = lo;
    hi_[j] = hi;
    spread[j] = std::min(hi - lo, std::sqrt(12.0) * sd);
  }
  // Cell width h: volume of the active (non-collapsed) dimensions / (n / per_cell). A dimension narrower than h
  // collapses to one cell and the width is recomputed for the others.
  bool active[kMaxDim] = {false, false, false};
  for (index_t j = 0; j < d; ++j) active[j] = spread[j] > 0.0;
  double h = 0.0;
  for (int pass = 0; pass < kMaxDim + 1; ++pass) {
    double log_vol = 0.0;
    int dims = 0;
    for (index_t j = 0; j < d; ++j)
      if (active[j]) {
        log_vol += std::log(spread[j]);
        ++dims;
      }
    if (dims == 0) {
      h = 0.0;
      break;
    }
    h = std::exp((log_vol + std::log(per_cell / static_cast<double>(n))) / dims);
    bool changed = false;
    for (index_t j = 0; j < d; ++j)
      if (active[j] && spread[j] < h) {
        active[j] = false;
        changed = true;
      }
    if (!changed) break;
  }
  index_t cells = 1;
  if (h > 0.0 && std::isfinite(h) && std::isfinite(1.0 / h)) {
    const double max_cells = static_cast<double>(kMaxCellsPerPoint * n + 16);
    for (int attempt = 0; attempt < 64; ++attempt) {
      double total = 1.0;
      for (index_t j = 0; j < d; ++j) {
        const double g = std::floor((hi_[j] - lo_[j]) / h) + 1.0;
        total *= std::min(g, 4.0 * max_cells);
      }
      if (total <= max_cells) break;
      h *= 1.05 * std::pow(total / max_cells, 1.0 / static_cast<double>(d));
    }
    h_ = h;
    inv_h_ = 1.0 / h;
    for (index_t j = 0; j < d; ++j) {
      g_[j] = static_cast<index_t>(std::floor((hi_[j] - lo_[j]) * inv_h_)) + 1;
      cells *= g_[j];
    }
  } else {  // all points identical, or a width that over/underflows: one cell
    h_ = 1.0;
    inv_h_ = 0.0;
  }
  for (index_t j = 1; j < d; ++j) stride_[j] = stride_[j - 1] * g_[j - 1];

  // Counting sort into cells (stable, so the layout is fully determined by the data).
  std::vector<std::uint32_t> cell_of(static_cast<size_t>(n));
  start_.assign(static_cast<size_t>(cells + 1), 0);
  for (index_t i = 0; i < n; ++i) {
    index_t c = 0;
    for (index_t j = 0; j < d; ++j) c += cell_coord(points[i * d + j], static_cast<int>(j)) * stride_[j];
    cell_of[static_cast<size_t>(i)] = static_cast<std::uint32_t>(c);
    ++start_[static_cast<size_t>(c + 1)];
  }
  for (index_t c = 0; c < cells; ++c) start_[static_cast<size_t>(c + 1)] += start_[static_cast<size_t>(c)];
  std::vector<std::uint32_t> next(start_.begin(), start_.end() - 1);
  for (index_t i = 0; i < n; ++i) {
    const std::uint32_t p = next[cell_of[static_cast<size_t>(i)]]++;
    std::copy_n(points + i * d, d, pts_.data() + static_cast<index_t>(p) * d);
    ids_[p] = i;
  }
}

index_t UniformGrid::cell_coord(double v, int j) const {
  const double t = (v - lo_[j]) * inv_h_;
  if (!(t >= 0.0)) return 0;
  const index_t last = g_[j] - 1;
  return t >= static_cast<double>(last) ? last : static_cast<index_t>(t);
}

namespace {

// Visit the cells at Chebyshev distance exactly r from cell qc (clipped to the grid) as contiguous runs
// [first, last] of cell indices: run(first, last).
template <int D, class Run>
inline void ring_runs(const index_t* qc, const index_t* g, const index_t* stride, index_t r, Run&& run) {
  const index_t x0 = std::max<index_t>(0, qc[0] - r), x1 = std::min(g[0] - 1, qc[0] + r);
  if (x0 > x1) return;
  const bool left = qc[0] - r >= 0, right = r > 0 && qc[0] + r <= g[0] - 1;
  auto row = [&](index_t base, bool edge) {
    if (edge) {
      run(base + x0, base + x1);
      return;
    }
    if (left) run(base + qc[0] - r, base + qc[0] - r);
    if (right) run(base + qc[0] + r, base + qc[0] + r);
  };
  if constexpr (D == 1) {
    row(0, r == 0);
  } else {
    const index_t y0 = std::max<index_t>(0, qc[1] - r), y1 = std::min(g[1] - 1, qc[1] + r);
    if constexpr (D == 2) {
      for (index_t y = y0; y <= y1; ++y) row(y * stride[1], y == qc[1] - r || y == qc[1] + r);
    } else {
      const index_t z0 = std::max<index_t>(0, qc[2] - r), z1 = std::min(g[2] - 1, qc[2] + r);
      for (index_t z = z0; z <= z1; ++z) {
        const bool zedge = z == qc[2] - r || z == qc[2] + r;
        for (index_t y = y0; y <= y1; ++y)
          row(z * stride[2] + y * stride[1], zedge || y == qc[1] - r || y == qc[1] + r);
      }
    }
  }
}

}  // namespace

template <int D>
void UniformGrid::knn_d(const double* q, index_t k, index_t skip, double* d2) const {
  index_t qc[kMaxDim];
  double out2[kMaxDim];  // squared distance from q to the data's bounding slab, per dimension
  for (int j = 0; j < D; ++j) {
    const double t = (q[j] - lo_[j]) * inv_h_;
    qc[j] = !(t >= 0.0) ? -1 : (t >= static_cast<double>(g_[j]) ? g_[j] : std::min(static_cast<index_t>(t), g_[j] - 1));
    const double o = q[j] < lo_[j] ? lo_[j] - q[j] : (q[j] > hi_[j] ? q[j] - hi_[j] : 0.0);
    out2[j] = o * o;
  }
  const double* pts = pts_.data();
  const index_t* ids = ids_.data();
  const std::uint32_t* start = start_.data();
  auto scan = [&](index_t c0, index_t c1) {
    const index_t p1 = start[c1 + 1];
    for (index_t p = start[c0]; p < p1; ++p) {
      const double v = sq_dist<D>(q, pts + p * D, D);
      if (v < d2[k - 1] && ids[p] != skip) push_best(d2, k, v);
    }
  };
  for (index_t r = 0;; ++r) {
    ring_runs<D>(qc, g_, stride_, r, scan);
    // Lower bound on the distance to any unvisited point: it lies beyond one face of the visited block of cells
    // and inside the data's bounding box in every other dimension.
    bool done = true;
    double bound2 = kInf;
    for (int j = 0; j < D; ++j) {
      double others = 0.0;
      for (int i = 0; i < D; ++i)
        if (i != j) others += out2[i];
      const index_t below = qc[j] - r, above = qc[j] + r + 1;
      if (below > 0) {
        const double b = lo_[j] + static_cast<double>(below) * h_;
        const double t = std::max(0.0, q[j] - b - kSlop * (std::fabs(lo_[j]) + std::fabs(b) + std::fabs(q[j])));
        bound2 = std::min(bound2, t * t + others);
        done = false;
      }
      if (above < g_[j]) {
        const double b = lo_[j] + static_cast<double>(above) * h_;
        const double t = std::max(0.0, b - q[j] - kSlop * (std::fabs(lo_[j]) + std::fabs(b) + std::fabs(q[j])));
        bound2 = std::min(bound2, t * t + others);
        done = false;
      }
    }
    if (done || d2[k - 1] <= bound2 * (1.0 - kSlop)) return;
  }
}

void UniformGrid::knn(const double* q, index_t k, index_t skip, double* out_d2) const {
  std::fill_n(out_d2, k, kInf);
  switch (d_) {
    case 1: knn_d<1>(q, k, skip, out_d2); break;
    case 2: knn_d<2>(q, k, skip, out_d2); break;
    default: knn_d<3>(q, k, skip, out_d2);
  }
}

template <int D>
void UniformGrid::radius_d(const double* q, double r2, index_t skip, index_t* count, double* max_d2) const {
  const double r = std::sqrt(r2);
  index_t c0[kMaxDim], c1[kMaxDim];
  for (int j = 0; j < D; ++j) {
    const double s = kSlop * (std::fabs(q[j]) + r + std::fabs(lo_[j]));
    const double a = q[j] - r - s, b = q[j] + r + s;
    if (a > hi_[j] || b < lo_[j]) return;  // the ball misses the data's bounding box
    c0[j] = cell_coord(a, j);               // cell_coord is monotone, so every point in [a, b] lies in [c0, c1]
    c1[j] = cell_coord(b, j);
  }
  const double* pts = pts_.data();
  const index_t* ids = ids_.data();
  auto scan = [&](index_t a, index_t b) {
    const index_t p1 = start_[static_cast<size_t>(b + 1)];
    for (index_t p = start_[static_cast<size_t>(a)]; p < p1; ++p) {
      const double v = sq_dist<D>(q, pts + p * D, D);
      if (v <= r2 && ids[p] != skip) {
        ++*count;
        *max_d2 = std::max(*max_d2, v);
      }
    }
  };
  if constexpr (D == 1) {
    scan(c0[0], c1[0]);
  } else if constexpr (D == 2) {
    for (index_t y = c0[1]; y <= c1[1]; ++y) scan(y * stride_[1] + c0[0], y * stride_[1] + c1[0]);
  } else {
    for (index_t z = c0[2]; z <= c1[2]; ++z)
      for (index_t y = c0[1]; y <= c1[1]; ++y) {
        const index_t base = z * stride_[2] + y * stride_[1];
        scan(base + c0[0], base + c1[0]);
      }
  }
}

void UniformGrid::radius(const double* q, double r2, index_t skip, index_t* out_count, double* out_max_d2) const {
  *out_count = 0;
  *out_max_d2 = 0.0;
  switch (d_) {
    case 1: radius_d<1>(q, r2, skip, out_count, out_max_d2); break;
    case 2: radius_d<2>(q, r2, skip, out_count, out_max_d2); break;
    default: radius_d<3>(q, r2, skip, out_count, out_max_d2);
  }
}

}  // namespace vaetk
