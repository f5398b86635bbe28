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

// Exceptions cannot leave an OpenMP region: each iteration runs through run(), which keeps the first exception
// thrown by any thread; rethrow() raises it after the region.
class FirstError {
 public:
  template <class Body>
  void run(Body& body, index_t i) {
    try {
      body(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::exception_ptr error_ = nullptr;
  std::mutex mutex_;
};

// Run body(i) for i in [0, n) on n_threads threads with a static schedule. Each index is processed by exactly one
// thread and iterations must not share mutable state, so results are identical for any thread count.
template <class Body>
void parallel_for(index_t n, int n_threads, Body&& body) {
  FirstError error;
  if (n_threads < 1) n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(n_threads) if (n_threads > 1 && n > 1)
#endif
  for (index_t i = 0; i < n; ++i) error.run(body, i);
  error.rethrow();
}

// As parallel_for, but iterations are handed out one at a time as threads become free, so a thread that the OS
// deschedules (a busy machine) does not hold up the others. Use it for iterations that are independent work
// items (e.g. chunks of queries), whose results cannot depend on which thread ran them.
template <class Body>
void parallel_for_dynamic(index_t n, int n_threads, Body&& body) {
  FirstError error;
  if (n_threads < 1) n_threads = 1;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (n_threads > 1 && n > 1)
#endif
  for (index_t i = 0; i < n; ++i) error.run(body, i);
  error.rethrow();
}

}  // namespace vaetk
