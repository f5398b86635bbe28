// Geometric multigrid-preconditioned conjugate gradients for the conservative Darcy scheme, matrix-free on the
// structured node grid. See darcy.hpp for the method; the pieces, in order: level storage (9-point stencils on a
// zero-padded grid), the fine operator from K, 1-D coarsening, Galerkin coarse operators, smoothing, the V-cycle,
// and PCG.
#include <cmath>
#include <vector>

#include "vaetk/darcy.hpp"
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

inline double harmonic(double a, double b) { return 2.0 * a * b / (a + b); }

// Fine-level stencil of the conservative operator (same coefficients as darcy_assemble).
void fine_operator(const double* K, index_t n, Level& L) {
  for (index_t i = 0; i < n; ++i) {
    const double len_x = (i == 0 || i == n - 1) ? 0.5 : 1.0;
    for (index_t j = 0; j < n; ++j) {
      const double len_y = (j == 0 || j == n - 1) ? 0.5 : 1.0;
      const index_t k = i * n + j;
      double* a = &L.a[9 * k];
      double centre = 0.0;
      if (j > 0) centre -= (a[3] = -harmonic(K[k - 1], K[k]) * len_x);
      if (j < n - 1) centre -= (a[5] = -harmonic(K[k], K[k + 1]) * len_x);
      if (i > 0) centre -= (a[1] = -harmonic(K[k - n], K[k]) * len_y);
      if (i < n - 1) centre -= (a[7] = -harmonic(K[k], K[k + n]) * len_y);
      a[kCentre] = centre;
    }
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

// r = b - A x on the padded vectors.
void residual(Level& L) {
  const index_t m = L.m;
  for (index_t i = 0; i < m; ++i)
    for (index_t j = 0; j < m; ++j) {
      const index_t p = L.pad(i, j);
      const double* a = &L.a[9 * (i * m + j)];
      double s = L.b[p];
      for (int t = 0; t < 9; ++t) s -= a[t] * L.x[p + L.offset[t]];
      L.r[p] = s;
    }
}

inline void relax_node(Level& L, index_t i, index_t j) {
  const index_t p = L.pad(i, j);
  const double* a = &L.a[9 * (i * L.m + j)];
  double s = L.b[p];
  for (int t = 0; t < 9; ++t)
    if (t != kCentre) s -= a[t] * L.x[p + L.offset[t]];
  L.x[p] = s / a[kCentre];
}

void gauss_seidel_forward(Level& L) {
  for (index_t i = 0; i < L.m; ++i)
    for (index_t j = 0; j < L.m; ++j) relax_node(L, i, j);
}

void gauss_seidel_backward(Level& L) {
  for (index_t i = L.m - 1; i >= 0; --i)
    for (index_t j = L.m - 1; j >= 0; --j) relax_node(L, i, j);
}

// Dense LU (partial pivoting) of the coarsest operator plus sigma 1 1^T, which removes the constant null space:
// for a right-hand side with zero sum the solution is the zero-sum solution of A x = b.
struct DenseSolver {
  index_t size = 0;
  std::vector<double> lu;
  std::vector<index_t> piv;

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
    std::vector<double> y(size);
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

  Hierarchy(const double* K, index_t n, const MGOptions& opt) : pre(opt.pre_sweeps), post(opt.post_sweeps) {
    levels.emplace_back(n);
    fine_operator(K, n, levels.back());
    while (levels.back().m > opt.coarse_nodes && levels.back().m > 3) {
      const index_t m = levels.back().m;
      parents.push_back(parents_1d(m));
      levels.emplace_back(coarse_size(m));
      galerkin(levels[levels.size() - 2], parents.back(), levels.back());
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

  // z = M r with the result projected to zero sum (keeps CG in the range of the singular operator).
  void precondition(const std::vector<double>& r, std::vector<double>& z) {
    Level& L = levels[0];
    const index_t m = L.m;
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) L.b[L.pad(i, j)] = r[i * m + j];
    vcycle(0);
    double mean = 0.0;
    for (index_t i = 0; i < m; ++i)
      for (index_t j = 0; j < m; ++j) mean += L.x[L.pad(i, j)];
    mean /= static_cast<double>(m * m);
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
      for (index_t j = 0; j < m; ++j) {
        const index_t p = L.pad(i, j);
        const double* a = &L.a[9 * (i * m + j)];
        double s = 0.0;
        for (int t = 0; t < 9; ++t) s += a[t] * L.x[p + L.offset[t]];
        y[i * m + j] = s;
      }
  }
};

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (std::size_t k = 0; k < a.size(); ++k) s += a[k] * b[k];
  return s;
}

void solve_one(const double* K, const double* f, index_t n, const MGOptions& opt, double* out_p,
               double* out_residual, index_t* out_iterations) {
  const index_t nn = n * n;
  const double h = 1.0 / static_cast<double>(n - 1);
  std::vector<double> w(nn), rhs(nn);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const double ci = (i == 0 || i == n - 1) ? 0.5 : 1.0, cj = (j == 0 || j == n - 1) ? 0.5 : 1.0;
      w[i * n + j] = h * h * ci * cj;
      rhs[i * n + j] = w[i * n + j] * f[i * n + j];
    }
  const double rhs_norm = std::sqrt(dot(rhs, rhs));
  std::vector<double> x(nn, 0.0);
  if (rhs_norm == 0.0) {
    for (index_t k = 0; k < nn; ++k) out_p[k] = 0.0;
    *out_residual = 0.0;
    *out_iterations = 0;
    return;
  }
  // 1^T A = 0 and sum(w) = 1, so the multiplier is lam = sum(rhs); what remains is compatible.
  double lam = 0.0;
  for (index_t k = 0; k < nn; ++k) lam += rhs[k];
  std::vector<double> b(nn);
  for (index_t k = 0; k < nn; ++k) b[k] = rhs[k] - lam * w[k];

  Hierarchy H(K, n, opt);
  std::vector<double> r(b), z(nn), p(nn), q(nn);
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

}  // namespace

void darcy_solve_conservative_mg(const double* K, const double* f, index_t batch, index_t n,
                                 const MGOptions& options, double* out_p, double* out_residual,
                                 index_t* out_iterations, int n_threads) {
  if (n < 3) fail("darcy_solve_conservative_mg: n must be >= 3");
  if (!(options.tol > 0.0)) fail("darcy_solve_conservative_mg: tol must be > 0");
  if (options.maxiter < 1) fail("darcy_solve_conservative_mg: maxiter must be >= 1");
  if (options.pre_sweeps < 0 || options.post_sweeps < 0) fail("darcy_solve_conservative_mg: sweeps must be >= 0");
  if (options.coarse_nodes < 3) fail("darcy_solve_conservative_mg: coarse_nodes must be >= 3");
  const index_t nn = n * n;
  parallel_for(batch, n_threads, [&](index_t s) {
    solve_one(K + s * nn, f + s * nn, n, options, out_p + s * nn, out_residual + s, out_iterations + s);
  });
}

}  // namespace vaetk
