// Host-callable entry points of the CUDA kernels (compiled by nvcc into vaetk_cuda_kernels). Device memory is
// passed as integer addresses from the Python side (torch tensors' data_ptr()), with explicit sizes and a stream.
#pragma once

#include <cstdint>
#include <string>

namespace vaetk::cuda {

int device_count();
std::string device_name(int device);

}  // namespace vaetk::cuda
