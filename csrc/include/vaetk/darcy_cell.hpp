// Per-node formulas of the Darcy schemes, shared by the CPU kernels (src/darcy_assembly.cpp) and the CUDA kernels
// (cuda/darcy.cu) so the two cannot drift apart. Operation order follows vaetk/darcy/_reference.py.
#pragma once

#include "vaetk/common.hpp"

namespace vaetk {

VAETK_HD index_t darcy_mirror(index_t i, index_t n) { return i < 0 ? -i : (i > n - 1 ? 2 * (n - 1) - i : i); }

VAETK_HD double darcy_harmonic(double a, double b) { return 2.0 * a * b / (a + b); }

// Row (i, j) of the operator as values on the existing neighbours (s, w, c, e, north); a missing neighbour's
// value is 0 and is not stored. Paper: the expanded form, a mirrored ghost's coefficient added to its mirror.
struct DarcyRow {
  double s, w, c, e, north;
};

VAETK_HD DarcyRow darcy_paper_row(const double* K, index_t n, index_t i, index_t j) {
  const double h = 1.0 / static_cast<double>(n - 1);
  const double h2 = h * h;
  const double Kc = K[i * n + j];
  const double dKx = K[i * n + darcy_mirror(j + 1, n)] - K[i * n + darcy_mirror(j - 1, n)];
  const double dKy = K[darcy_mirror(i + 1, n) * n + j] - K[darcy_mirror(i - 1, n) * n + j];
  const double east = -Kc / h2 - dKx / (4.0 * h2);
  const double west = -Kc / h2 - (-dKx) / (4.0 * h2);
  const double north = -Kc / h2 - dKy / (4.0 * h2);
  const double south = -Kc / h2 - (-dKy) / (4.0 * h2);
  DarcyRow r{0.0, 0.0, 4.0 * Kc / h2, 0.0, 0.0};
  if (j < n - 1) r.e += east; else r.w += east;
  if (j > 0) r.w += west; else r.e += west;
  if (i < n - 1) r.north += north; else r.s += north;
  if (i > 0) r.s += south; else r.north += south;
  return r;
}

// Conservative: harmonic-mean face coefficients times the face length (1/2 on the boundary), rows sum to zero.
VAETK_HD DarcyRow darcy_conservative_row(const double* K, index_t n, index_t i, index_t j) {
  const index_t k = i * n + j;
  const double len_x = (i == 0 || i == n - 1) ? 0.5 : 1.0;
  const double len_y = (j == 0 || j == n - 1) ? 0.5 : 1.0;
  DarcyRow r{0.0, 0.0, 0.0, 0.0, 0.0};
  if (j > 0) r.w = -(darcy_harmonic(K[k - 1], K[k]) * len_x);
  if (j < n - 1) r.e = -(darcy_harmonic(K[k], K[k + 1]) * len_x);
  if (i > 0) r.s = -(darcy_harmonic(K[k - n], K[k]) * len_y);
  if (i < n - 1) r.north = -(darcy_harmonic(K[k], K[k + n]) * len_y);
  r.c = -r.w - r.e - r.s - r.north;
  return r;
}

// Write a row into CSR storage in pattern order (S, W, C, E, N, those that exist), starting at row_data.
VAETK_HD void darcy_store_row(const DarcyRow& r, index_t n, index_t i, index_t j, double* row_data) {
  index_t pos = 0;
  if (i > 0) row_data[pos++] = r.s;
  if (j > 0) row_data[pos++] = r.w;
  row_data[pos++] = r.c;
  if (j < n - 1) row_data[pos++] = r.e;
  if (i < n - 1) row_data[pos++] = r.north;
}

// Velocity (u_x, u_y) at node (i, j); the normal component is zero on the boundary edges.
// Paper: -K_node times the central difference. Conservative: mean of the adjacent face velocities.
VAETK_HD void darcy_velocity_node(const double* p, const double* K, index_t n, bool paper, index_t i, index_t j,
                                  double* ux, double* uy) {
  const double h = 1.0 / static_cast<double>(n - 1);
  const index_t k = i * n + j;
  *ux = 0.0;
  *uy = 0.0;
  if (paper) {
    if (j > 0 && j < n - 1) *ux = -K[k] * (p[k + 1] - p[k - 1]) / (2 * h);
    if (i > 0 && i < n - 1) *uy = -K[k] * (p[k + n] - p[k - n]) / (2 * h);
    return;
  }
  // Face velocity from node a to node b (reference: -harmonic(K_b, K_a) (p_b - p_a) / h).
  if (j > 0 && j < n - 1) {
    const double right = -darcy_harmonic(K[k + 1], K[k]) * (p[k + 1] - p[k]) / h;
    const double left = -darcy_harmonic(K[k], K[k - 1]) * (p[k] - p[k - 1]) / h;
    *ux = 0.5 * (right + left);
  }
  if (i > 0 && i < n - 1) {
    const double up = -darcy_harmonic(K[k + n], K[k]) * (p[k + n] - p[k]) / h;
    const double down = -darcy_harmonic(K[k], K[k - n]) * (p[k] - p[k - n]) / h;
    *uy = 0.5 * (up + down);
  }
}

}  // namespace vaetk
