// Elementwise kernels of one input: Eigen array expressions (vectorized
// exp/log/tanh/sin/cos) over chunks split across threads.
#include <cmath>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {
template <typename T, typename F>
Tensor map_unary(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const T* px = x.data<T>();
  T* py = y.data<T>();
  cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
    cpu::ArrayMap<T>(py + b, e - b) = f(cpu::ConstArrayMap<T>(px + b, e - b));
  });
  return y;
}
}  // namespace

Tensor unary(Unary op, const Tensor& x) {
  return cpu::dispatch_floating(x.dtype(), "unary kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    switch (op) {
      case Unary::Neg: return map_unary<T>(x, [](const auto& a) { return -a; });
      case Unary::Exp: return map_unary<T>(x, [](const auto& a) { return a.exp(); });
      case Unary::Log: return map_unary<T>(x, [](const auto& a) { return a.log(); });
      case Unary::Sin: return map_unary<T>(x, [](const auto& a) { return a.sin(); });
      case Unary::Cos: return map_unary<T>(x, [](const auto& a) { return a.cos(); });
      case Unary::Tanh: return map_unary<T>(x, [](const auto& a) { return a.tanh(); });
      case Unary::Sigmoid:  // 1/(1+e^-x) overflows to 0 cleanly for large -x; 0.5(1+tanh(x/2)) is exact too
        return map_unary<T>(x, [](const auto& a) { return T(0.5) * ((T(0.5) * a).tanh() + T(1)); });
      case Unary::Relu: return map_unary<T>(x, [](const auto& a) { return a.max(T(0)); });
      case Unary::Abs: return map_unary<T>(x, [](const auto& a) { return a.abs(); });
      case Unary::Copy: return map_unary<T>(x, [](const auto& a) { return a; });
    }
    return Tensor();
  });
}

}  // namespace nthgrad::kernels
