// Batched finite-difference assembly (CSR values on a fixed pattern) and velocity of both Darcy schemes. The
// per-node formulas live in darcy_cell.hpp (shared with the CUDA kernels), written in the operation order of
// vaetk/darcy/_reference.py, so the results agree with the reference to the last bit in most entries.
#include <vector>

#include "vaetk/darcy.hpp"
#include "vaetk/darcy_cell.hpp"
#include "vaetk/parallel.hpp"

namespace vaetk {


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
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) {
        const DarcyRow row = scheme == Scheme::paper ? darcy_paper_row(Ks, n, i, j)
                                                     : darcy_conservative_row(Ks, n, i, j);
        darcy_store_row(row, n, i, j, data + indptr[i * n + j]);
      }
  });
}

void darcy_velocity(const double* p, const double* K, index_t batch, index_t n, Scheme scheme, double* out_u,
                    int n_threads) {
  if (n < 3) fail("darcy_velocity: n must be >= 3");
  const index_t nn = n * n;
  const bool paper = scheme == Scheme::paper;
  parallel_for(batch, n_threads, [&](index_t s) {
    double* u = out_u + s * 2 * nn;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j)
        darcy_velocity_node(p + s * nn, K + s * nn, n, paper, i, j, u + i * n + j, u + nn + i * n + j);
  });
}

}  // namespace vaetk
