// Kernels that run along one axis: running sums and products, the linear
// recurrence, softmax. The tensor is seen as (outer, n, inner); each of the
// outer * inner lines of n elements (stride inner) is one independent task.
// float32 accumulates in double.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

using cpu::Acc;
using cpu::ArrayMap;
using cpu::ConstArrayMap;

using cpu::Lines;

// Calls f(start, stride, n) for every line, lines split across threads.
template <typename F>
void for_each_line(const Lines& lines, const F& f) {
  const int64_t grain = std::max<int64_t>(1, cpu::kGrainSize / std::max<int64_t>(lines.n, 1));
  cpu::parallel_for(0, lines.count(), grain, [&](int64_t b, int64_t e) {
    for (int64_t l = b; l < e; ++l) f(lines.start(l), lines.inner, lines.n);
  });
}

}  // namespace

Tensor cumulative(Cumulative op, const Tensor& x, int64_t axis, bool exclusive, bool reverse) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "cumulative kernel", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const bool is_sum = op == Cumulative::Sum;
    for_each_line(Lines(x.shape(), axis), [&](int64_t s, int64_t stride, int64_t n) {
      A acc = is_sum ? A(0) : A(1);
      for (int64_t k = 0; k < n; ++k) {
        const int64_t i = s + (reverse ? n - 1 - k : k) * stride;
        if (exclusive) py[i] = static_cast<T>(acc);
        acc = is_sum ? acc + A(px[i]) : acc * A(px[i]);
        if (!exclusive) py[i] = static_cast<T>(acc);
      }
    });
  });
  return y;
}

Tensor linear_recurrence(const Tensor& a, const Tensor& b, int64_t axis, bool reverse) {
  Tensor y = Tensor::empty(b.shape(), b.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(b.dtype(), "linear_recurrence kernel", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for_each_line(Lines(b.shape(), axis), [&](int64_t s, int64_t stride, int64_t n) {
      A h = A(0);
      if (!reverse) {
        for (int64_t t = 0; t < n; ++t) {
          const int64_t i = s + t * stride;
          h = (t > 0 ? A(pa[i]) * h : A(0)) + A(pb[i]);
          py[i] = static_cast<T>(h);
        }
      } else {
        for (int64_t t = n - 1; t >= 0; --t) {
          const int64_t i = s + t * stride;
          h = (t + 1 < n ? A(pa[i + stride]) * h : A(0)) + A(pb[i]);
          py[i] = static_cast<T>(h);
        }
      }
    });
  });
  return y;
}

Tensor softmax(const Tensor& x, int64_t axis, bool log) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_floating(x.dtype(), "softmax kernel", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for_each_line(Lines(x.shape(), axis), [&](int64_t s, int64_t stride, int64_t n) {
      if (stride == 1) {  // a contiguous line (the last axis): Eigen's vectorized exp, ~4x the scalar loop
        ConstArrayMap<T> xl(px + s, n);
        ArrayMap<T> yl(py + s, n);
        T m = xl.maxCoeff();  // NaN propagates through exp below
        if (std::isinf(m)) m = 0;
        yl = (xl - m).exp();
        const T lowest = cpu::exp_denormal_below<T>();
        for (int64_t t = 0; t < n; ++t)  // e.g. e^-inf of a masked logit is 0 (see exp_denormal_below)
          if (xl[t] - m < lowest) yl[t] = std::exp(xl[t] - m);
        const A total = yl.template cast<A>().sum();
        if (log)
          yl = (xl - m) - static_cast<T>(std::log(total));
        else
          yl *= static_cast<T>(A(1) / total);
        return;
      }
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t t = 0; t < n; ++t) m = std::max(m, px[s + t * stride]);
      if (std::isinf(m)) m = 0;  // all -inf (or +inf present): no shift, let exp decide
      A total = A(0);
      for (int64_t t = 0; t < n; ++t) {
        const int64_t i = s + t * stride;
        const T e = std::exp(px[i] - m);
        if (!log) py[i] = e;
        total += e;
      }
      if (log) {  // (x - m) - log(total): adding m to the log first would round it at m's scale
        const T log_total = static_cast<T>(std::log(total));
        for (int64_t t = 0; t < n; ++t) py[s + t * stride] = (px[s + t * stride] - m) - log_total;
      } else {
        const T inv = static_cast<T>(A(1) / total);
        for (int64_t t = 0; t < n; ++t) py[s + t * stride] *= inv;
      }
    });
  });
  return y;
}

Tensor softmax_grad(const Tensor& gy, const Tensor& y, int64_t axis, bool log) {
  Tensor gx = Tensor::empty(y.shape(), y.dtype());
  if (gx.numel() == 0) return gx;
  cpu::dispatch_floating(y.dtype(), "softmax_grad kernel", [&](auto tag) {
    using T = decltype(tag);
    using A = Acc<T>;
    const T* pg = gy.data<T>();
    const T* py = y.data<T>();
    T* pgx = gx.data<T>();
    for_each_line(Lines(y.shape(), axis), [&](int64_t s, int64_t stride, int64_t n) {
      if (stride == 1) {  // contiguous line: vectorized
        ConstArrayMap<T> gl(pg + s, n), yl(py + s, n);
        ArrayMap<T> gxl(pgx + s, n);
        if (log) {
          const T d = static_cast<T>(gl.template cast<A>().sum());
          gxl = gl - yl.exp() * d;
          const T lowest = cpu::exp_denormal_below<T>();
          for (int64_t t = 0; t < n; ++t)
            if (yl[t] < lowest) gxl[t] = gl[t] - std::exp(yl[t]) * d;  // e.g. a masked logit
        } else {
          const T d = static_cast<T>((gl.template cast<A>() * yl.template cast<A>()).sum());
          gxl = yl * (gl - d);
        }
        return;
      }
      A dot = A(0);  // softmax: sum(gy * y); log_softmax: sum(gy)
      for (int64_t t = 0; t < n; ++t) {
        const int64_t i = s + t * stride;
        dot += log ? A(pg[i]) : A(pg[i]) * A(py[i]);
      }
      const T d = static_cast<T>(dot);
      for (int64_t t = 0; t < n; ++t) {
        const int64_t i = s + t * stride;
        pgx[i] = log ? pg[i] - std::exp(py[i]) * d : py[i] * (pg[i] - d);
      }
    });
  });
  return gx;
}

}  // namespace nthgrad::kernels
