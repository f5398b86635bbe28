// Device queries for vaetk._cuda.
#include <cuda_runtime.h>

#include "vaetk/cuda_api.hpp"

namespace vaetk::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
  return n;
}

std::string device_name(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "";
  return prop.name;
}

}  // namespace vaetk::cuda
