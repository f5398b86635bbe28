// Geometric multigrid-preconditioned Krylov solvers for both Darcy schemes, matrix-free on the structured node
// grid. See darcy.hpp for the methods; the pieces, in order: level storage (9-point stencils on a zero-padded
// grid), the fine operator from K, 1-D coarsening, Galerkin and rediscretised coarse operators, smoothing
// (red-black Gauss-Seidel on 5-point levels, lexicographic on 9-point ones), the dense coarsest solve, the V-cycle,
// per-thread workspaces, PCG (conservative) and GMRES (paper).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "vaetk/darcy.hpp"
#include "vaetk/darcy_cell.hpp"
#include "vaetk/parallel.hpp"

namespace vaetk {

namespace {

// Stencil tap t = (di + 1) * 3 + (dj + 1) couples node (i, j) with (i + di, j + dj); tap 4 is the centre.
constexpr int kCentre = 4;

// One grid level: m x m nodes, 9 stencil coefficients per node (zero where a neighbour does not exist), and
// vectors stored with a ring of zero ghosts (stride m + 2) so that stencil loops need no bounds checks.
struct Level {
  index_t m = 0;
  index_t stride = 0;
  std::vector<double> a;   // (m * m, 9)
  std::vector<double> x, b, r;  // padded, (m + 2)^2
  index_t offset[9] = {};  // padded-index offset of each tap
  bool five_point = false;  // corner taps are all zero (the finest level)
  std::vector<double> inv_diag;  // 1 / a[centre]: Gauss-Seidel multiplies instead of dividing

  void finish() {
    inv_diag.resize(m * m);
    for (index_t k = 0; k < m * m; ++k) inv_diag[k] = 1.0 / a[9 * k + 4];
  }

  explicit Level(index_t m_) : m(m_), stride(m_ + 2), a(9 * m_ * m_, 0.0) {
    const index_t size = (m + 2) * (m + 2);
    x.assign(size, 0.0);
    b.assign(size, 0.0);
    r.assign(size, 0.0);
    for (int di = -1; di <= 1; ++di)
      for (int dj = -1; dj <= 1; ++dj) offset[(di + 1) * 3 + (dj + 1)] = di * stride + dj;
  }
  index_t pad(index_t i, index_t j) const { return (i + 1) * stride + (j + 1); }
};

// Fine-level stencil of either scheme: the same rows as darcy_assemble (darcy_cell.hpp), as 9-tap stencils.
void fine_operator(const double* K, index_t n, Scheme scheme, Level& L) {
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const DarcyRow r = scheme == Scheme::paper ? darcy_paper_row(K, n, i, j) : darcy_conservative_row(K, n, i, j);
      double* a = &L.a[9 * (i * n + j)];
      a[1] = r.s;
      a[3] = r.w;
      a[kCentre] = r.c;
      a[5] = r.e;
      a[7] = r.north;
    }
}

// 1-D coarsening by two: coarse nodes are the even fine nodes plus the last one (so any m works). Each fine node
// either is a coarse node (weight 1) or lies midway between two (weights 1/2): linear interpolation.
struct Parents {
  int count;
  index_t c[2];
  double w[2];
};

index_t coarse_size(index_t m) { return (m % 2 == 1) ? (m + 1) / 2 : m / 2 + 1; }

std::vector<Parents> parents_1d(index_t m) {
  std::vector<Parents> out(m);
  const index_t mc = coarse_size(m);
  for (index_t f = 0; f < m; ++f) {
    if (f == m - 1)
      out[f] = {1, {mc - 1, 0}, {1.0, 0.0}};
    else if (f % 2 == 0)
      out[f] = {1, {f / 2, 0}, {1.0, 0.0}};
    else
      out[f] = {2, {(f - 1) / 2, (f + 1) / 2}, {0.5, 0.5}};
  }
  return out;
}

// Galerkin coarse operator A_c = P^T A P, accumulated fine node by fine node (fixed order: deterministic).
void galerkin(const Level& F, const std::vector<Parents>& par, Level& C) {
  const index_t m = F.m, mc = C.m;
  for (index_t fi = 0; fi < m; ++fi)
    for (index_t fj = 0; fj < m; ++fj) {
      const double* a = &F.a[9 * (fi * m + fj)];
      const Parents& pi = par[fi];
      const Parents& pj = par[fj];
      for (int t = 0; t < 9; ++t) {
        const double v = a[t];
        if (v == 0.0) continue;
        const index_t gi = fi + t / 3 - 1, gj = fj + t % 3 - 1;
        const Parents& qi = par[gi];
        const Parents& qj = par[gj];
        for (int x = 0; x < pi.count; ++x)
          for (int y = 0; y < pj.count; ++y) {
            const double wI = pi.w[x] * pj.w[y] * v;
            double* ac = &C.a[9 * (pi.c[x] * mc + pj.c[y])];
            for (int u = 0; u < qi.count; ++u)
              for (int z = 0; z < qj.count; ++z) {
                const index_t di = qi.c[u] - pi.c[x], dj = qj.c[z] - pj.c[y];
                ac[(di + 1) * 3 + (dj + 1)] += wI * qi.w[u] * qj.w[z];
              }
          }
      }
    }
}

// Rediscretised coarse operator (symmetric 5-point operators only): each coarse face's coefficient is the
// conductance of the fine faces it spans, in series along the face normal and in parallel across it, the parallel
// fine lines weighted by their share of the coarse dual-cell edge (= the 1-D interpolation weight). Constant K
// gives back the coarse-grid scheme exactly; the cost is O(m^2), against ~25 m^2 updates for P^T A P.
void rediscretize(const Level& F, const std::vector<Parents>& par, Level& C) {
  const index_t m = F.m, mc = C.m;
  thread_local std::vector<index_t> pos;  // fine index of each coarse node
  pos.resize(mc);
  for (index_t f = 0; f < m; ++f)
    if (par[f].count == 1) pos[par[f].c[0]] = f;
  std::fill(C.a.begin(), C.a.end(), 0.0);
  auto cx = [&](index_t i, index_t j) { return -F.a[9 * (i * m + j) + 5]; };  // face (i, j)-(i, j+1)
  auto cy = [&](index_t i, index_t j) { return -F.a[9 * (i * m + j) + 7]; };  // face (i, j)-(i+1, j)
  // Conductance of a coarse face across coarse line `line`: the fine lines f within one fine cell of it, weighted
  // by f's interpolation weight to it, each a series of the fine faces t in [t0, t1) (fine_face(f, t)).
  auto coarse_face = [&](index_t line, index_t t0, index_t t1, auto fine_face) {
    double c = 0.0;
    for (index_t f = std::max<index_t>(pos[line] - 1, 0); f <= std::min<index_t>(pos[line] + 1, m - 1); ++f) {
      const Parents& pf = par[f];
      double weight = 0.0;
      for (int k = 0; k < pf.count; ++k)
        if (pf.c[k] == line) weight = pf.w[k];
      if (weight == 0.0) continue;
      double resistance = 0.0;
      for (index_t t = t0; t < t1; ++t) resistance += 1.0 / fine_face(f, t);
      c += weight / resistance;
    }
    return c;
  };
  for (index_t I = 0; I < mc; ++I)
    for (index_t J = 0; J < mc; ++J) {
      if (J + 1 < mc) {  // x-face to the east neighbour: fine rows near pos[I], columns pos[J] .. pos[J+1]-1
        const double c = coarse_face(I, pos[J], pos[J + 1], cx);
        C.a[9 * (I * mc + J) + 5] = -c;
        C.a[9 * (I * mc + J + 1) + 3] = -c;
      }
      if (I + 1 < mc) {  // y-face to the south neighbour: fine columns near pos[J], rows pos[I] .. pos[I+1]-1
        const double c = coarse_face(J, pos[I], pos[I + 1], [&](index_t f, index_t i) { return cy(i, f); });
        C.a[9 * (I * mc + J) + 7] = -c;
        C.a[9 * ((I + 1) * mc + J) + 1] = -c;
      }
    }
  for (index_t k = 0; k < mc * mc; ++k) {
    double* a = &C.a[9 * k];
    a[kCentre] = -(a[1] + a[3] + a[5] + a[7]);
  }
  C.five_point = true;
}

// Sum of a[t] * x[p + offset[t]] over the taps, written out so the compiler can keep everything in registers.
// The finest level is a 5-point stencil (its corner taps are zero) and skips them.
template <bool kFivePoint, bool kSkipCentre>
inline double stencil_sum(const double* a, const double* x, index_t p, index_t s) {
  double v = a[1] * x[p - s] + a[3] * x[p - 1] + a[5] * x[p + 1] + a[7] * x[p + s];
  if (!kSkipCentre) v += a[4] * x[p];
  if (!kFivePoint) v += a[0] * x[p - s - 1] + a[2] * x[p - s + 1] + a[6] * x[p + s - 1] + a[8] * x[p + s + 1];
  return v;
}

// r = b - A x on the padded vectors.
template <bool kFivePoint>
void residual_impl(Level& L) {
  const index_t m = L.m, s = L.stride;
  const double* a = L.a.data();
  const double* x = L.x.data();
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < m; ++j) {
      const index_t p = L.pad(i, j);
      L.r[p] = L.b[p] - stencil_sum<kFivePoint, false>(a + 9 * (i * m + j), x, p, s);
    }
}

template <bool kFivePoint>
inline void relax_node(Level& L, index_t i, index_t j) {
  const index_t p = L.pad(i, j);
  const double* a = &L.a[9 * (i * L.m + j)];
  L.x[p] = (L.b[p] - stencil_sum<kFivePoint, true>(a, L.x.data(), p, L.stride)) * L.inv_diag[i * L.m + j];
}

template <bool kFivePoint>
void gauss_seidel_forward_impl(Level& L) {
  for (index_t i = 0; i < L.m; ++i)
    for (index_t j = 0; j < L.m; ++j) relax_node<kFivePoint>(L, i, j);
}

template <bool kFivePoint>
void gauss_seidel_backward_impl(Level& L) {
  for (index_t i = L.m - 1; i >= 0; --i)
    for (index_t j = L.m - 1; j >= 0; --j) relax_node<kFivePoint>(L, i, j);
}

void residual(Level& L) { L.five_point ? residual_impl<true>(L) : residual_impl<false>(L); }
// Red-black Gauss-Seidel on a 5-point level: nodes of one colour do not couple, so a colour sweep has no
// dependency chain (the lexicographic sweep waits on the node just updated) and smooths better on Poisson-like
// operators. Forward = red then black, backward = black then red: the pair is symmetric.
void red_black_sweep(Level& L, int colour) {
  for (index_t i = 0; i < L.m; ++i)
    for (index_t j = (i + colour) % 2; j < L.m; j += 2) relax_node<true>(L, i, j);
}

void gauss_seidel_forward(Level& L) {
  if (L.five_point) {
    red_black_sweep(L, 0);
    red_black_sweep(L, 1);
  } else {
    gauss_seidel_forward_impl<false>(L);
  }
}
void gauss_seidel_backward(Level& L) {
  if (L.five_point) {
    red_black_sweep(L, 1);
    red_black_sweep(L, 0);
  } else {
    gauss_seidel_backward_impl<false>(L);
  }
}

// Dense LU (partial pivoting) of the coarsest operator plus sigma 1 1^T, which removes the constant null space:
// for a right-hand side with zero sum the solution is the zero-sum solution of A x = b.
struct DenseSolver {
  index_t size = 0;
  std::vector<double> lu;
  std::vector<index_t> piv;
  mutable std::vector<double> y;  // solve() workspace

  void factor(const Level& L) {
    const index_t m = L.m;
    size = m * m;
    lu.assign(size * size, 0.0);
    double diag = 0.0;
    for (index_t k = 0; k < size; ++k) diag += L.a[9 * k + kCentre];
    const double sigma = diag / static_cast<double>(size) / static_cast<double>(size);
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) {
        const index_t row = i * m + j;
        for (index_t c = 0; c < size; ++c) lu[row * size + c] = sigma;
        for (int t = 0; t < 9; ++t) {
          const index_t gi = i + t / 3 - 1, gj = j + t % 3 - 1;
          if (gi < 0 || gj < 0 || gi >= m || gj >= m) continue;
          lu[row * size + gi * m + gj] += L.a[9 * row + t];
        }
      }
    piv.resize(size);
    for (index_t c = 0; c < size; ++c) {
      index_t best = c;
      for (index_t r = c + 1; r < size; ++r)
        if (std::fabs(lu[r * size + c]) > std::fabs(lu[best * size + c])) best = r;
      piv[c] = best;
      if (best != c)
        for (index_t k = 0; k < size; ++k) std::swap(lu[c * size + k], lu[best * size + k]);
      const double d = lu[c * size + c];
      if (d == 0.0) throw std::runtime_error("multigrid: singular coarsest-grid operator");
      for (index_t r = c + 1; r < size; ++r) {
        const double l = (lu[r * size + c] /= d);
        if (l == 0.0) continue;
        for (index_t k = c + 1; k < size; ++k) lu[r * size + k] -= l * lu[c * size + k];
      }
    }
  }

  void solve(Level& L) const {
    const index_t m = L.m;
    y.resize(size);
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) y[i * m + j] = L.b[L.pad(i, j)];
    for (index_t c = 0; c < size; ++c) std::swap(y[c], y[piv[c]]);
    for (index_t r = 0; r < size; ++r) {
      double s = y[r];
      for (index_t k = 0; k < r; ++k) s -= lu[r * size + k] * y[k];
      y[r] = s;
    }
    for (index_t r = size - 1; r >= 0; --r) {
      double s = y[r];
      for (index_t k = r + 1; k < size; ++k) s -= lu[r * size + k] * y[k];
      y[r] = s / lu[r * size + r];
    }
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) L.x[L.pad(i, j)] = y[i * m + j];
  }
};

struct Hierarchy {
  std::vector<Level> levels;
  std::vector<std::vector<Parents>> parents;  // parents[l]: fine level l -> level l + 1
  DenseSolver coarse;
  int pre = 1, post = 1;

  index_t coarse_nodes = 0;

  // The grids and transfer tables for n (no operator yet; see setup).
  Hierarchy(index_t n, const MGOptions& opt) : coarse_nodes(opt.coarse_nodes) {
    levels.emplace_back(n);
    levels.back().five_point = true;
    while (levels.back().m > opt.coarse_nodes && levels.back().m > 3) {
      const index_t m = levels.back().m;
      parents.push_back(parents_1d(m));
      levels.emplace_back(coarse_size(m));
    }
  }

  // Operators of every level for one permeability field: fine stencil, Galerkin products, coarsest LU.
  void setup(const double* K, Scheme scheme, const MGOptions& opt) {
    pre = opt.pre_sweeps;
    post = opt.post_sweeps;
    fine_operator(K, levels[0].m, scheme, levels[0]);  // writes the 5 taps; the corner taps stay zero
    levels[0].finish();
    // The paper scheme's operator is not a flux balance, so its coarse levels are rediscretised from the
    // conservative operator of the same K, scaled by 1 / h^2 to the paper rows' size (equal in the interior). Only
    // the preconditioner changes, never the solution: GMRES takes a few more steps, each cheaper (5-point levels,
    // red-black smoothing, no P^T A P products).
    if (scheme == Scheme::paper && opt.rediscretize && levels.size() > 1) {
      thread_local std::unique_ptr<Level> conservative;
      if (!conservative || conservative->m != levels[0].m) conservative = std::make_unique<Level>(levels[0].m);
      fine_operator(K, levels[0].m, Scheme::conservative, *conservative);
      const double h = 1.0 / static_cast<double>(levels[0].m - 1);
      for (double& v : conservative->a) v /= h * h;
      rediscretize(*conservative, parents[0], levels[1]);
      levels[1].finish();
    }
    for (std::size_t l = 1; l < levels.size(); ++l) {
      if (opt.rediscretize && scheme == Scheme::paper && l == 1) continue;  // built above
      if (opt.rediscretize) {
        rediscretize(levels[l - 1], parents[l - 1], levels[l]);
      } else {
        levels[l].five_point = false;
        std::fill(levels[l].a.begin(), levels[l].a.end(), 0.0);
        galerkin(levels[l - 1], parents[l - 1], levels[l]);
      }
      levels[l].finish();
    }
    coarse.factor(levels.back());
  }

  // Restrict level l's residual into level l + 1's right-hand side: b_c = P^T r.
  void restrict_residual(std::size_t l) {
    Level& F = levels[l];
    Level& C = levels[l + 1];
    const auto& par = parents[l];
    std::fill(C.b.begin(), C.b.end(), 0.0);
    for (index_t i = 0; i < F.m; ++i)
      for (index_t j = 0; j < F.m; ++j) {
        const double v = F.r[F.pad(i, j)];
        const Parents& pi = par[i];
        const Parents& pj = par[j];
        for (int x = 0; x < pi.count; ++x)
          for (int y = 0; y < pj.count; ++y) C.b[C.pad(pi.c[x], pj.c[y])] += pi.w[x] * pj.w[y] * v;
      }
  }

  // x_l += P x_{l+1}.
  void prolong_add(std::size_t l) {
    Level& F = levels[l];
    const Level& C = levels[l + 1];
    const auto& par = parents[l];
    for (index_t i = 0; i < F.m; ++i)
      for (index_t j = 0; j < F.m; ++j) {
        const Parents& pi = par[i];
        const Parents& pj = par[j];
        double s = 0.0;
        for (int x = 0; x < pi.count; ++x)
          for (int y = 0; y < pj.count; ++y) s += pi.w[x] * pj.w[y] * C.x[C.pad(pi.c[x], pj.c[y])];
        F.x[F.pad(i, j)] += s;
      }
  }

  // One V-cycle on level l from a zero initial guess: x_l ~ A_l^{-1} b_l. Symmetric when pre == post.
  void vcycle(std::size_t l) {
    Level& L = levels[l];
    if (l + 1 == levels.size()) {
      coarse.solve(L);
      return;
    }
    std::fill(L.x.begin(), L.x.end(), 0.0);
    for (int s = 0; s < pre; ++s) gauss_seidel_forward(L);
    residual(L);
    restrict_residual(l);
    vcycle(l + 1);
    prolong_add(l);
    for (int s = 0; s < post; ++s) gauss_seidel_backward(L);
  }

  // z = M r, optionally projected to zero sum (keeps CG in the range of the symmetric singular operator).
  void precondition(const std::vector<double>& r, std::vector<double>& z, bool project = true) {
    Level& L = levels[0];
    const index_t m = L.m;
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) L.b[L.pad(i, j)] = r[i * m + j];
    vcycle(0);
    double mean = 0.0;
    if (project) {
      for (index_t i = 0; i < m; ++i)
        for (index_t j = 0; j < m; ++j) mean += L.x[L.pad(i, j)];
      mean /= static_cast<double>(m * m);
    }
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) z[i * m + j] = L.x[L.pad(i, j)] - mean;
  }

  // y = A v (fine level), unpadded vectors.
  void apply(const std::vector<double>& v, std::vector<double>& y) {
    Level& L = levels[0];
    const index_t m = L.m;
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) L.x[L.pad(i, j)] = v[i * m + j];
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j)
        y[i * m + j] = stencil_sum<true, false>(&L.a[9 * (i * m + j)], L.x.data(), L.pad(i, j), L.stride);
  }
};

// Sum of term(k) over k < n in four partial sums: a single running sum waits for each addition to finish (the
// compiler may not reorder floating-point sums), four independent ones keep the adder busy (the paper scheme
// took 15% less time per sample at n = 65). The order is fixed: results depend on the data alone.
template <typename Term>
inline double sum4(std::size_t n, Term term) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  std::size_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += term(k);
    s1 += term(k + 1);
    s2 += term(k + 2);
    s3 += term(k + 3);
  }
  for (; k < n; ++k) s0 += term(k);
  return (s0 + s1) + (s2 + s3);
}

inline double dot(const double* a, const double* b, std::size_t n) {
  return sum4(n, [a, b](std::size_t k) { return a[k] * b[k]; });
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return dot(a.data(), b.data(), a.size());
}

// This thread's hierarchy for (n, coarse_nodes), reused across the samples of a batch and across calls: the
// allocations (and their page faults) are paid once per thread, not per sample. Results do not depend on it:
// setup() rewrites every operator and the V-cycle never reads a vector before writing it.
Hierarchy& thread_hierarchy(index_t n, const MGOptions& opt) {
  thread_local std::unique_ptr<Hierarchy> cached;
  if (!cached || cached->levels[0].m != n || cached->coarse_nodes != opt.coarse_nodes)
    cached = std::make_unique<Hierarchy>(n, opt);
  return *cached;
}

// A zero-filled vector of size nn from this thread's pool (slot `slot`), reusing its capacity.
std::vector<double>& scratch(int slot, index_t nn) {
  thread_local std::vector<double> pool[12];
  pool[slot].assign(nn, 0.0);
  return pool[slot];
}

void solve_one(const double* K, const double* f, index_t n, const MGOptions& opt, double* out_p,
               double* out_residual, index_t* out_iterations) {
  const index_t nn = n * n;
  const double h = 1.0 / static_cast<double>(n - 1);
  std::vector<double>& w = scratch(0, nn);
  std::vector<double>& rhs = scratch(1, nn);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const double ci = (i == 0 || i == n - 1) ? 0.5 : 1.0, cj = (j == 0 || j == n - 1) ? 0.5 : 1.0;
      w[i * n + j] = h * h * ci * cj;
      rhs[i * n + j] = w[i * n + j] * f[i * n + j];
    }
  const double rhs_norm = std::sqrt(dot(rhs, rhs));
  std::vector<double>& x = scratch(2, nn);
  if (rhs_norm == 0.0) {
    for (index_t k = 0; k < nn; ++k) out_p[k] = 0.0;
    *out_residual = 0.0;
    *out_iterations = 0;
    return;
  }
  // 1^T A = 0 and sum(w) = 1, so the multiplier is lam = sum(rhs); what remains is compatible.
  double lam = 0.0;
  for (index_t k = 0; k < nn; ++k) lam += rhs[k];
  std::vector<double>& b = scratch(3, nn);
  for (index_t k = 0; k < nn; ++k) b[k] = rhs[k] - lam * w[k];

  Hierarchy& H = thread_hierarchy(n, opt);
  H.setup(K, Scheme::conservative, opt);
  std::vector<double>& r = scratch(4, nn);
  std::vector<double>& z = scratch(5, nn);
  std::vector<double>& p = scratch(6, nn);
  std::vector<double>& q = scratch(7, nn);
  r = b;
  const double target = opt.tol * rhs_norm;
  index_t it = 0;
  double res = std::sqrt(dot(r, r));
  // CG, restarted from the true residual if the recursively updated one has drifted below the target.
  for (int restart = 0; restart < 3 && res > target && it < opt.maxiter; ++restart) {
    H.precondition(r, z);
    p = z;
    double rz = dot(r, z);
    while (it < opt.maxiter) {
      H.apply(p, q);
      const double pq = dot(p, q);
      if (!(pq > 0.0)) break;  // breakdown (exact solution or loss of positivity): recompute and stop
      const double alpha = rz / pq;
      for (index_t k = 0; k < nn; ++k) {
        x[k] += alpha * p[k];
        r[k] -= alpha * q[k];
      }
      ++it;
      if (std::sqrt(dot(r, r)) <= target) break;
      H.precondition(r, z);
      const double rz_new = dot(r, z);
      const double beta = rz_new / rz;
      rz = rz_new;
      for (index_t k = 0; k < nn; ++k) p[k] = z[k] + beta * p[k];
    }
    H.apply(x, q);
    for (index_t k = 0; k < nn; ++k) r[k] = b[k] - q[k];
    res = std::sqrt(dot(r, r));
  }
  // Zero weighted mean (A annihilates constants, so the residual is unchanged).
  double mean = 0.0;
  for (index_t k = 0; k < nn; ++k) mean += w[k] * x[k];
  for (index_t k = 0; k < nn; ++k) out_p[k] = x[k] - mean;
  *out_residual = res / rhs_norm;
  *out_iterations = it;
}

// Paper scheme: A is not symmetric and its left null vector is unknown, so the multiplier cannot be found in
// closed form. Instead solve B q = f with B = A + c w 1^T / N (nonsingular when the bordered system is): then
// lam = c mean(q), and p = q - (w^T q) 1 satisfies A p + lam w = f, w^T p = 0 (A 1 = 0, sum w = 1). c scales the
// rank-one term to the size of A's diagonal so that B is not nearly singular along the constants. Restarted
// GMRES, right-preconditioned by the V-cycle of A.
void solve_one_paper(const double* K, const double* f, index_t n, const MGOptions& opt, double* out_p,
                     double* out_residual, index_t* out_iterations) {
  const index_t nn = n * n;
  const double h = 1.0 / static_cast<double>(n - 1);
  std::vector<double>& w = scratch(0, nn);
  std::vector<double>& b = scratch(1, nn);
  std::copy(f, f + nn, b.begin());
  double diag = 0.0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const double ci = (i == 0 || i == n - 1) ? 0.5 : 1.0, cj = (j == 0 || j == n - 1) ? 0.5 : 1.0;
      w[i * n + j] = h * h * ci * cj;
      diag += 4.0 * K[i * n + j];
    }
  const double rhs_norm = std::sqrt(dot(b, b));
  if (rhs_norm == 0.0) {
    for (index_t k = 0; k < nn; ++k) out_p[k] = 0.0;
    *out_residual = 0.0;
    *out_iterations = 0;
    return;
  }
  // mean(diag A) / mean(w) = (mean 4K / h^2) / (1 / nn): the rank-one term has the size of A's diagonal.
  const double c = diag / static_cast<double>(nn) / (h * h) * static_cast<double>(nn);
  Hierarchy& H = thread_hierarchy(n, opt);
  H.setup(K, Scheme::paper, opt);
  auto applyB = [&](const std::vector<double>& v, std::vector<double>& y) {
    H.apply(v, y);
    const double total = sum4(static_cast<std::size_t>(nn), [&v](std::size_t k) { return v[k]; });
    const double mean = total * (c / static_cast<double>(nn));
    for (index_t k = 0; k < nn; ++k) y[k] += mean * w[k];
  };
  std::vector<double>& x = scratch(2, nn);
  std::vector<double>& r = scratch(3, nn);
  std::vector<double>& z = scratch(4, nn);
  std::vector<double>& t = scratch(10, nn);
  r = b;
  const double target = opt.tol * rhs_norm;
  // Restarted GMRES(kRestart), right-preconditioned: one V-cycle and one product with B per iteration, and the
  // exact minimal residual over the Krylov space (the preconditioned operator is far from normal, where
  // BiCGStab needs twice the V-cycles).
  constexpr int kRestart = 30;
  thread_local std::vector<double> basis;  // kRestart + 1 Arnoldi vectors of length nn
  basis.resize(static_cast<std::size_t>(kRestart + 1) * nn);
  double hess[kRestart + 1][kRestart], cs[kRestart], sn[kRestart], g[kRestart + 1], y[kRestart];
  index_t it = 0;
  double res = rhs_norm;
  while (res > target && it < opt.maxiter) {
    // Arnoldi from the current true residual r.
    g[0] = res;
    for (index_t k = 0; k < nn; ++k) basis[k] = r[k] / res;
    int j = 0;
    double estimate = res;
    for (; j < kRestart && it < opt.maxiter && estimate > target; ++j, ++it) {
      double* vj = &basis[static_cast<std::size_t>(j) * nn];
      double* vn = &basis[static_cast<std::size_t>(j + 1) * nn];
      std::copy(vj, vj + nn, t.begin());
      H.precondition(t, z, false);
      applyB(z, t);
      for (int i = 0; i <= j; ++i) {  // modified Gram-Schmidt
        const double* vi = &basis[static_cast<std::size_t>(i) * nn];
        const double hij = dot(vi, t.data(), static_cast<std::size_t>(nn));
        hess[i][j] = hij;
        for (index_t k = 0; k < nn; ++k) t[k] -= hij * vi[k];
      }
      const double norm = std::sqrt(dot(t, t));
      hess[j + 1][j] = norm;
      for (index_t k = 0; k < nn; ++k) vn[k] = norm > 0.0 ? t[k] / norm : 0.0;
      for (int i = 0; i < j; ++i) {  // apply the previous Givens rotations to the new column
        const double h0 = hess[i][j], h1 = hess[i + 1][j];
        hess[i][j] = cs[i] * h0 + sn[i] * h1;
        hess[i + 1][j] = -sn[i] * h0 + cs[i] * h1;
      }
      const double d = std::hypot(hess[j][j], hess[j + 1][j]);
      cs[j] = d > 0.0 ? hess[j][j] / d : 1.0;
      sn[j] = d > 0.0 ? hess[j + 1][j] / d : 0.0;
      hess[j][j] = d;
      hess[j + 1][j] = 0.0;
      g[j + 1] = -sn[j] * g[j];
      g[j] = cs[j] * g[j];
      estimate = std::fabs(g[j + 1]);
      if (norm == 0.0) {  // lucky breakdown: the Krylov space contains the solution
        ++j;
        ++it;
        break;
      }
    }
    // x += M (V y) with H y = g (upper triangular after the rotations).
    for (int i = j - 1; i >= 0; --i) {
      double v = g[i];
      for (int k = i + 1; k < j; ++k) v -= hess[i][k] * y[k];
      y[i] = hess[i][i] != 0.0 ? v / hess[i][i] : 0.0;
    }
    std::fill(t.begin(), t.end(), 0.0);
    for (int i = 0; i < j; ++i) {
      const double* vi = &basis[static_cast<std::size_t>(i) * nn];
      for (index_t k = 0; k < nn; ++k) t[k] += y[i] * vi[k];
    }
    H.precondition(t, z, false);
    for (index_t k = 0; k < nn; ++k) x[k] += z[k];
    applyB(x, t);
    for (index_t k = 0; k < nn; ++k) r[k] = b[k] - t[k];
    const double previous = res;
    res = std::sqrt(dot(r, r));
    if (!(res < previous)) {  // the restart made it worse (stagnation at rounding level): undo it and stop
      for (index_t k = 0; k < nn; ++k) x[k] -= z[k];
      break;
    }
    if (j == 0) break;
  }
  // p = q - (w^T q) 1; lam = c mean(q). The reported residual is that of the bordered system for (p, lam).
  double wq = 0.0, lam = 0.0;
  for (index_t k = 0; k < nn; ++k) {
    wq += w[k] * x[k];
    lam += x[k];
  }
  lam *= c / static_cast<double>(nn);
  for (index_t k = 0; k < nn; ++k) out_p[k] = x[k] - wq;
  std::vector<double>& pv = scratch(11, nn);
  std::copy(out_p, out_p + nn, pv.begin());
  H.apply(pv, t);
  double wp = 0.0;
  for (index_t k = 0; k < nn; ++k) {
    r[k] = b[k] - t[k] - lam * w[k];
    wp += w[k] * pv[k];
  }
  *out_residual = std::sqrt(dot(r, r) + wp * wp) / rhs_norm;
  *out_iterations = it;
}

using SolveOne = void (*)(const double*, const double*, index_t, const MGOptions&, double*, double*, index_t*);

// What both batch solvers do around their per-sample solve: check the options (messages name `who`), then solve
// the samples in parallel.
void solve_batch(const char* who, SolveOne solve_sample, const double* K, const double* f, index_t batch, index_t n,
                 const MGOptions& options, double* out_p, double* out_residual, index_t* out_iterations,
                 int n_threads) {
  const std::string name(who);
  if (n < 3) fail(name + ": n must be >= 3");
  if (!(options.tol > 0.0)) fail(name + ": tol must be > 0");
  if (options.maxiter < 1) fail(name + ": maxiter must be >= 1");
  if (options.pre_sweeps < 0 || options.post_sweeps < 0) fail(name + ": sweeps must be >= 0");
  if (options.coarse_nodes < 3) fail(name + ": coarse_nodes must be >= 3");
  const index_t nn = n * n;
  parallel_for(batch, n_threads, [&](index_t s) {
    solve_sample(K + s * nn, f + s * nn, n, options, out_p + s * nn, out_residual + s, out_iterations + s);
  });
}

}  // namespace

void darcy_solve_paper_mg(const double* K, const double* f, index_t batch, index_t n, const MGOptions& options,
                          double* out_p, double* out_residual, index_t* out_iterations, int n_threads) {
  solve_batch("darcy_solve_paper_mg", solve_one_paper, K, f, batch, n, options, out_p, out_residual, out_iterations,
              n_threads);
}

void darcy_solve_conservative_mg(const double* K, const double* f, index_t batch, index_t n,
                                 const MGOptions& options, double* out_p, double* out_residual,
                                 index_t* out_iterations, int n_threads) {
  solve_batch("darcy_solve_conservative_mg", solve_one, K, f, batch, n, options, out_p, out_residual,
              out_iterations, n_threads);
}

}  // namespace vaetk
