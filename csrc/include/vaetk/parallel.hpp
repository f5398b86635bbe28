// OpenMP helpers. Every kernel takes a concrete n_threads (resolved in Python by vaetk._threads) and uses a
// num_threads(n) clause; nothing here changes process-global OpenMP state.
//
// An exception must not escape an OpenMP region (that calls std::terminate). parallel_for records the first
// exception thrown by any iteration, lets the other iterations finish, and rethrows it after the region.
#pragma once

#include <exception>
#include <mutex>

#include "vaetk/common.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace vaetk {

// Whether the kernels library was compiled with OpenMP, and omp_get_max_threads() (1 without OpenMP).
bool openmp_enabled();
int openmp_max_threads();

// Run body(i) for i in [0, n) on n_threads threads with a static schedule. Each index is processed by exactly one
// thread and iterations must not share mutable state, so results are identical for any thread count.
template <class Body>
void parallel_for(index_t n, int n_threads, Body&& body) {
  std::exception_ptr first_error = nullptr;
  std::mutex error_mutex;
  if (n_threads < 1) n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1 && n > 1)
#endif
  for (index_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

// As parallel_for, but iterations are handed out one at a time as threads become free, so a thread that the OS
// deschedules (a busy machine) does not hold up the others. Use it for iterations that are independent work
// items (e.g. chunks of queries), whose results cannot depend on which thread ran them.
template <class Body>
void parallel_for_dynamic(index_t n, int n_threads, Body&& body) {
  std::exception_ptr first_error = nullptr;
  std::mutex error_mutex;
  if (n_threads < 1) n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (n_threads > 1 && n > 1)
#endif
  for (index_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace vaetk
