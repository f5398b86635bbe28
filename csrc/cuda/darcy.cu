// CUDA kernels for the Darcy schemes: batched CSR assembly on the fixed pattern and velocity, one thread per
// (sample, node). The per-node formulas are those of the CPU kernels (vaetk/darcy_cell.hpp), so the results are
// bit-identical to darcy_assemble / darcy_velocity when the compiler does not contract to FMA differently (the
// build passes --fmad=false for these files' expressions to keep it so).
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "vaetk/cuda_api.hpp"
#include "vaetk/darcy_cell.hpp"

namespace vaetk::cuda {

namespace {

constexpr int kBlock = 256;

__global__ void assemble_kernel(const double* K, index_t batch, index_t n, int scheme, const index_t* indptr,
                                index_t nnz, double* out_data) {
  const index_t nn = n * n;
  const index_t t = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= batch * nn) return;
  const index_t s = t / nn, k = t % nn, i = k / n, j = k % n;
  const double* Ks = K + s * nn;
  const DarcyRow row = scheme == 0 ? darcy_paper_row(Ks, n, i, j) : darcy_conservative_row(Ks, n, i, j);
  darcy_store_row(row, n, i, j, out_data + s * nnz + indptr[k]);
}

__global__ void velocity_kernel(const double* p, const double* K, index_t batch, index_t n, int scheme,
                                double* out_u) {
  const index_t nn = n * n;
  const index_t t = static_cast<index_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= batch * nn) return;
  const index_t s = t / nn, k = t % nn;
  double* u = out_u + s * 2 * nn;
  darcy_velocity_node(p + s * nn, K + s * nn, n, scheme == 0, k / n, k % n, u + k, u + nn + k);
}

void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

unsigned int blocks(index_t threads) { return static_cast<unsigned int>((threads + kBlock - 1) / kBlock); }

}  // namespace

void darcy_assemble(const double* K, index_t batch, index_t n, int scheme, const index_t* indptr, double* out_data,
                    std::uintptr_t stream) {
  if (n < 3) throw std::invalid_argument("darcy_assemble: n must be >= 3");
  if (batch == 0) return;
  const index_t nnz = 5 * n * n - 4 * n;
  assemble_kernel<<<blocks(batch * n * n), kBlock, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      K, batch, n, scheme, indptr, nnz, out_data);
  check_launch("darcy_assemble");
}

void darcy_velocity(const double* p, const double* K, index_t batch, index_t n, int scheme, double* out_u,
                    std::uintptr_t stream) {
  if (n < 3) throw std::invalid_argument("darcy_velocity: n must be >= 3");
  if (batch == 0) return;
  velocity_kernel<<<blocks(batch * n * n), kBlock, 0, reinterpret_cast<cudaStream_t>(stream)>>>(
      p, K, batch, n, scheme, out_u);
  check_launch("darcy_velocity");
}

}  // namespace vaetk::cuda
