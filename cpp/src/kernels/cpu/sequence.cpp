// Kernels of the sequence family: the fused LSTM cell and its adjoint. Each
// (row, unit) is independent, so rows are split between threads.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Eigen's vectorized exp and tanh, as the unary kernels use: scalar std::tanh
// made the cell slower than the ops it replaces.
template <typename T>
using Column = Eigen::Array<T, Eigen::Dynamic, 1>;

template <typename T, typename E>
Column<T> sigmoid(const E& x) {
  return (T(1) + (-x).exp()).inverse();
}

// Rows per chunk so that a chunk holds about kGrainSize gate values.
int64_t row_grain(int64_t H) { return std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(1, 4 * H)); }

}  // namespace

std::pair<Tensor, Tensor> lstm_cell(const Tensor& gates, const Tensor& c_prev) {
  return cpu::dispatch_floating(gates.dtype(), "lstm_cell kernel", [&](auto tag) {
    using T = decltype(tag);
    using Map = cpu::ConstArrayMap<T>;
    const int64_t B = c_prev.shape()[0], H = c_prev.shape()[1];
    Tensor h = Tensor::empty(c_prev.shape(), c_prev.dtype()), c = Tensor::empty(c_prev.shape(), c_prev.dtype());
    const T* pa = gates.data<T>();
    const T* pcp = c_prev.data<T>();
    T* ph = h.data<T>();
    T* pc = c.data<T>();
    cpu::parallel_for(0, B, row_grain(H), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const T* a = pa + b * 4 * H;
        cpu::ArrayMap<T> cb(pc + b * H, H);
        cb = sigmoid<T>(Map(a + H, H)) * Map(pcp + b * H, H) + sigmoid<T>(Map(a, H)) * Map(a + 2 * H, H).tanh();
        cpu::ArrayMap<T>(ph + b * H, H) = sigmoid<T>(Map(a + 3 * H, H)) * cb.tanh();
      }
    });
    return std::pair<Tensor, Tensor>(h, c);
  });
}

std::pair<Tensor, Tensor> lstm_cell_backward(const Tensor& gh, const Tensor& gc, const Tensor& gates,
                                             const Tensor& c_prev, const Tensor& c) {
  return cpu::dispatch_floating(gates.dtype(), "lstm_cell_backward kernel", [&](auto tag) {
    using T = decltype(tag);
    using Map = cpu::ConstArrayMap<T>;
    const int64_t B = c_prev.shape()[0], H = c_prev.shape()[1];
    Tensor da = Tensor::empty(gates.shape(), gates.dtype()), dcp = Tensor::empty(c_prev.shape(), c_prev.dtype());
    const T* pgh = gh.data<T>();
    const T* pgc = gc.data<T>();
    const T* pa = gates.data<T>();
    const T* pcp = c_prev.data<T>();
    const T* pc = c.data<T>();
    T* pda = da.data<T>();
    T* pdcp = dcp.data<T>();
    cpu::parallel_for(0, B, row_grain(H), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const T* a = pa + b * 4 * H;
        T* d = pda + b * 4 * H;
        const Map ghb(pgh + b * H, H), cpb(pcp + b * H, H);
        const Column<T> i = sigmoid<T>(Map(a, H)), f = sigmoid<T>(Map(a + H, H)), g = Map(a + 2 * H, H).tanh(),
                        o = sigmoid<T>(Map(a + 3 * H, H)), tc = Map(pc + b * H, H).tanh();
        const Column<T> gct = Map(pgc + b * H, H) + ghb * o * (T(1) - tc.square());  // all that reaches c
        cpu::ArrayMap<T>(d, H) = gct * g * i * (T(1) - i);
        cpu::ArrayMap<T>(d + H, H) = gct * cpb * f * (T(1) - f);
        cpu::ArrayMap<T>(d + 2 * H, H) = gct * i * (T(1) - g.square());
        cpu::ArrayMap<T>(d + 3 * H, H) = ghb * tc * o * (T(1) - o);
        cpu::ArrayMap<T>(pdcp + b * H, H) = gct * f;
      }
    });
    return std::pair<Tensor, Tensor>(da, dcp);
  });
}

}  // namespace nthgrad::kernels
