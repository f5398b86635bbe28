// Batched finite-difference assembly (CSR values on a fixed pattern) and velocity of both Darcy schemes.
// Each expression is written in the same operation order as vaetk/darcy/_reference.py, so the results agree with
// the reference to the last bit in most entries (the tests allow 1e-12 relative).
#include <vector>

#include "vaetk/darcy.hpp"
#include "vaetk/parallel.hpp"

namespace vaetk {

namespace {

inline index_t mirror(index_t i, index_t n) { return i < 0 ? -i : (i > n - 1 ? 2 * (n - 1) - i : i); }

inline double harmonic(double a, double b) { return 2.0 * a * b / (a + b); }

// Positions of the S, W, C, E, N entries of row (i, j) relative to the row start (-1 when absent).
struct RowSlots {
  index_t s, w, c, e, north;
};

inline RowSlots row_slots(index_t i, index_t j, index_t n) {
  RowSlots r{-1, -1, -1, -1, -1};
  index_t pos = 0;
  if (i > 0) r.s = pos++;
  if (j > 0) r.w = pos++;
  r.c = pos++;
  if (j < n - 1) r.e = pos++;
  if (i < n - 1) r.north = pos++;
  return r;
}

void assemble_paper(const double* K, index_t n, const index_t* indptr, double* data) {
  const double h = 1.0 / static_cast<double>(n - 1);
  const double h2 = h * h;
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < n; ++j) {
      const double Kc = K[i * n + j];
      const double dKx = K[i * n + mirror(j + 1, n)] - K[i * n + mirror(j - 1, n)];
      const double dKy = K[mirror(i + 1, n) * n + j] - K[mirror(i - 1, n) * n + j];
      const RowSlots r = row_slots(i, j, n);
      double* row = data + indptr[i * n + j];
      row[r.c] = 4.0 * Kc / h2;
      // Ghost neighbours land on their mirror images: west of j = 0 is east (j = 1), and so on.
      const index_t east = (j < n - 1) ? r.e : r.w;
      const index_t west = (j > 0) ? r.w : r.e;
      const index_t north = (i < n - 1) ? r.north : r.s;
      const index_t south = (i > 0) ? r.s : r.north;
      double e = -Kc / h2 - dKx / (4.0 * h2);
      double w = -Kc / h2 - (-dKx) / (4.0 * h2);
      double no = -Kc / h2 - dKy / (4.0 * h2);
      double so = -Kc / h2 - (-dKy) / (4.0 * h2);
      if (r.e >= 0) row[r.e] = 0.0;
      if (r.w >= 0) row[r.w] = 0.0;
      if (r.north >= 0) row[r.north] = 0.0;
      if (r.s >= 0) row[r.s] = 0.0;
      row[east] += e;
      row[west] += w;
      row[north] += no;
      row[south] += so;
    }
  }
}

void assemble_conservative(const double* K, index_t n, const index_t* indptr, double* data) {
  for (index_t i = 0; i < n; ++i) {
    const double len_x = (i == 0 || i == n - 1) ? 0.5 : 1.0;  // x-faces on a boundary row are half faces
    for (index_t j = 0; j < n; ++j) {
      const double len_y = (j == 0 || j == n - 1) ? 0.5 : 1.0;
      const index_t k = i * n + j;
      const RowSlots r = row_slots(i, j, n);
      double* row = data + indptr[i * n + j];
      double centre = 0.0;
      // Face coefficients with the same argument order as the reference: harmonic(K[a], K[b]), a < b.
      if (r.w >= 0) {
        const double c = harmonic(K[k - 1], K[k]) * len_x;
        row[r.w] = -c;
        centre += c;
      }
      if (r.e >= 0) {
        const double c = harmonic(K[k], K[k + 1]) * len_x;
        row[r.e] = -c;
        centre += c;
      }
      if (r.s >= 0) {
        const double c = harmonic(K[k - n], K[k]) * len_y;
        row[r.s] = -c;
        centre += c;
      }
      if (r.north >= 0) {
        const double c = harmonic(K[k], K[k + n]) * len_y;
        row[r.north] = -c;
        centre += c;
      }
      row[r.c] = centre;
    }
  }
}

void velocity_one(const double* p, const double* K, index_t n, Scheme scheme, double* ux, double* uy) {
  const double h = 1.0 / static_cast<double>(n - 1);
  for (index_t k = 0; k < n * n; ++k) ux[k] = uy[k] = 0.0;
  if (scheme == Scheme::paper) {
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 1; j < n - 1; ++j) {
        const index_t k = i * n + j;
        ux[k] = -K[k] * (p[k + 1] - p[k - 1]) / (2 * h);
      }
    for (index_t i = 1; i < n - 1; ++i)
      for (index_t j = 0; j < n; ++j) {
        const index_t k = i * n + j;
        uy[k] = -K[k] * (p[k + n] - p[k - n]) / (2 * h);
      }
    return;
  }
  // Face velocity between node k and its neighbour k + step (reference: -harmonic(K_b, K_a) (p_b - p_a) / h).
  auto face = [&](index_t a, index_t b) { return -harmonic(K[b], K[a]) * (p[b] - p[a]) / h; };
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 1; j < n - 1; ++j) {
      const index_t k = i * n + j;
      ux[k] = 0.5 * (face(k, k + 1) + face(k - 1, k));
    }
  for (index_t i = 1; i < n - 1; ++i)
    for (index_t j = 0; j < n; ++j) {
      const index_t k = i * n + j;
      uy[k] = 0.5 * (face(k, k + n) + face(k - n, k));
    }
}

}  // namespace

index_t darcy_nnz(index_t n) { return 5 * n * n - 4 * n; }

void darcy_pattern(index_t n, index_t* out_indptr, index_t* out_indices) {
  if (n < 3) fail("darcy_pattern: n must be >= 3");
  index_t pos = 0;
  out_indptr[0] = 0;
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j) {
      const index_t k = i * n + j;
      if (i > 0) out_indices[pos++] = k - n;
      if (j > 0) out_indices[pos++] = k - 1;
      out_indices[pos++] = k;
      if (j < n - 1) out_indices[pos++] = k + 1;
      if (i < n - 1) out_indices[pos++] = k + n;
      out_indptr[k + 1] = pos;
    }
}

void darcy_assemble(const double* K, index_t batch, index_t n, Scheme scheme, double* out_data, int n_threads) {
  if (n < 3) fail("darcy_assemble: n must be >= 3");
  const index_t nnz = darcy_nnz(n);
  std::vector<index_t> indptr(n * n + 1), indices(nnz);
  darcy_pattern(n, indptr.data(), indices.data());
  parallel_for(batch, n_threads, [&](index_t s) {
    const double* Ks = K + s * n * n;
    double* data = out_data + s * nnz;
    if (scheme == Scheme::paper)
      assemble_paper(Ks, n, indptr.data(), data);
    else
      assemble_conservative(Ks, n, indptr.data(), data);
  });
}

void darcy_velocity(const double* p, const double* K, index_t batch, index_t n, Scheme scheme, double* out_u,
                    int n_threads) {
  if (n < 3) fail("darcy_velocity: n must be >= 3");
  const index_t nn = n * n;
  parallel_for(batch, n_threads, [&](index_t s) {
    double* u = out_u + s * 2 * nn;
    velocity_one(p + s * nn, K + s * nn, n, scheme, u, u + nn);
  });
}

}  // namespace vaetk
