#pragma once
#include <omp.h>

#include <algorithm>
#include <exception>
#include <cstdint>

namespace nthgrad::kernels::cpu {

// Elementwise work below this many elements runs on one thread: starting a
// parallel region costs more than it saves.
constexpr int64_t kGrainSize = 32768;

// Calls f(begin, end) on contiguous chunks of [begin, end), one per thread.
template <typename F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  if (n <= grain || omp_in_parallel() || omp_get_max_threads() == 1) {
    f(begin, end);
    return;
  }
  std::exception_ptr error;  // an exception must not leave an OpenMP thread: carried out, rethrown here
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads();
    const int64_t chunk = (n + threads - 1) / threads;
    const int64_t b = begin + chunk * omp_get_thread_num();
    const int64_t e = std::min(end, b + chunk);
    if (b < e) {
      try {
        f(b, e);
      } catch (...) {
#pragma omp critical(nthgrad_parallel_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace nthgrad::kernels::cpu
