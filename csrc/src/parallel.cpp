// OpenMP facts of the kernels library itself (compiled with the same flags as every kernel).
#include "vaetk/parallel.hpp"

namespace vaetk {

bool openmp_enabled() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

int openmp_max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

}  // namespace vaetk
