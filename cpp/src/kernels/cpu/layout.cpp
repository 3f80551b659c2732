// Kernels that move or convert elements: broadcast, transpose, cast.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"
#include "nthgrad/error.h"

namespace nthgrad::kernels {

namespace {
// y (contiguous, shape `out_shape`) = x read with `in_strides`.
template <typename T>
void strided_copy(const T* px, const std::vector<int64_t>& in_strides, const Shape& out_shape, T* py) {
  auto plan = cpu::make_plan<1>(out_shape, {in_strides});
  const int64_t s = plan.strides[0].back();
  cpu::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 1>& in, int64_t n) {
    const T* p = px + in[0];
    T* q = py + o;
    if (s == 1)
      std::copy(p, p + n, q);
    else if (s == 0)
      std::fill(q, q + n, p[0]);
    else
      for (int64_t i = 0; i < n; ++i) q[i] = p[i * s];
  });
}
}  // namespace

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  Tensor y = Tensor::empty(shape, x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    strided_copy<T>(x.data<T>(), cpu::broadcast_strides(x.shape(), shape), shape, y.data<T>());
  });
  return y;
}

Tensor transpose(const Tensor& x, const Axes& perm) {
  const Shape& in = x.shape();
  std::vector<int64_t> in_strides(in.size());
  int64_t s = 1;
  for (int64_t d = static_cast<int64_t>(in.size()) - 1; d >= 0; --d) {
    in_strides[d] = s;
    s = checked_mul(s, in[d], "transpose", in);
  }
  Shape out_shape(perm.size());
  std::vector<int64_t> strides(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = in[perm[i]];
    strides[i] = in_strides[perm[i]];
  }
  Tensor y = Tensor::empty(out_shape, x.dtype());
  if (y.numel() == 0) return y;
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    strided_copy<T>(x.data<T>(), strides, out_shape, y.data<T>());
  });
  return y;
}

namespace {
// Float to int64 is undefined behaviour in C++ for NaN, +-inf and values
// outside [-2^63, 2^63): refuse those, naming the first (a check before the
// parallel loop, which must not throw). The other casts are defined: to bool
// is x != 0 (NaN gives true); float64 to float32 rounds, overflowing to
// +-inf (IEEE 754); int64 to float rounds to nearest.
template <typename From>
void check_fits_int64(const From* px, int64_t n, const Shape& shape) {
  const From* bad = std::find_if(px, px + n, [](From v) { return !fits_int64(static_cast<double>(v)); });
  if (bad != px + n)
    throw ValueError(detail::cat("cast: cannot convert ", static_cast<double>(*bad), " (element ", bad - px,
                                 " of a tensor of shape ", shape_str(shape),
                                 ") to int64: NaN, infinite, or outside [-2^63, 2^63)"));
}
}  // namespace

Tensor cast(const Tensor& x, DType dtype) {
  Tensor y = Tensor::empty(x.shape(), dtype);
  cpu::dispatch_all(x.dtype(), [&](auto from_tag) {
    using From = decltype(from_tag);
    cpu::dispatch_all(dtype, [&](auto to_tag) {
      using To = decltype(to_tag);
      const From* px = x.data<From>();
      To* py = y.data<To>();
      if constexpr (std::is_floating_point_v<From> && std::is_same_v<To, int64_t>)
        check_fits_int64(px, x.numel(), x.shape());
      cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) py[i] = static_cast<To>(px[i]);
      });
    });
  });
  return y;
}

}  // namespace nthgrad::kernels
