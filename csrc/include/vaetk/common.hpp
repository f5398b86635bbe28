// Shared definitions for the vaetk kernels: index type, the host/device qualifier, error helpers.
//
// Kernels take raw pointers and explicit sizes, write into caller-owned buffers named out_*, and never touch
// Python. Errors are reported by throwing std::invalid_argument / std::runtime_error; the bindings turn them into
// Python ValueError / RuntimeError.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

// Functions usable from both CPU code and CUDA kernels (one implementation, so CPU and GPU cannot drift apart).
#if defined(__CUDACC__)
#define VAETK_HD __host__ __device__ inline
#else
#define VAETK_HD inline
#endif

namespace vaetk {

using index_t = std::int64_t;

[[noreturn]] inline void fail(const std::string& message) { throw std::invalid_argument(message); }

}  // namespace vaetk
