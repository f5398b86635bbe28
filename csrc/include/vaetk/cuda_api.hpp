// Host-callable entry points of the CUDA kernels (compiled by nvcc into vaetk_cuda_kernels). Device memory is
// passed as integer addresses from the Python side (torch tensors' data_ptr()), with explicit sizes and a stream.
#pragma once

#include <cstdint>
#include <string>

#include "vaetk/common.hpp"

namespace vaetk::cuda {

int device_count();
std::string device_name(int device);

// Darcy (cuda/darcy.cu), all pointers on the device, launched on `stream` (a cudaStream_t as an integer; 0 is the
// default stream), asynchronous. scheme: 0 paper, 1 conservative. Same layouts as the CPU kernels (darcy.hpp):
// K, p (batch, n, n); indptr (n^2 + 1,) of darcy_pattern; out_data (batch, 5 n^2 - 4 n); out_u (batch, 2, n, n).
void darcy_assemble(const double* K, index_t batch, index_t n, int scheme, const index_t* indptr, double* out_data,
                    std::uintptr_t stream);
void darcy_velocity(const double* p, const double* K, index_t batch, index_t n, int scheme, double* out_u,
                    std::uintptr_t stream);

}  // namespace vaetk::cuda
