// Kernels of the normalization family: the in-place updates of running
// statistics (batch_normalization, mean_subtraction) and of spectral_norm's
// vector u. They write into existing tensors and are never part of a graph.
#include <type_traits>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

void lerp_into(Tensor& y, const Tensor& x, double keep) {
  cpu::dispatch_floating(y.dtype(), "lerp_into kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    const T* px = x.data<T>();
    const T k = static_cast<T>(keep), m = static_cast<T>(1 - keep);
    cpu::parallel_for(0, y.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) py[i] = keep == 0 ? px[i] : k * py[i] + m * px[i];
    });
  });
}

void add_scalar_into(Tensor& y, double val) {
  cpu::dispatch_all(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) {
      throw TypeError("add_scalar_into kernel: bool tensors cannot be incremented");
    } else {
      T* py = y.data<T>();
      for (int64_t i = 0; i < y.numel(); ++i) py[i] = static_cast<T>(py[i] + val);
    }
  });
}

}  // namespace nthgrad::kernels
