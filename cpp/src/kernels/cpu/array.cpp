// Kernels of the array-manipulation ops: slice and its adjoint, concatenate,
// and the fills arange / linspace.
#include <cstring>
#include <vector>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// Where slice reads in x: the offset of its first element and, per axis of
// the result, the stride in x.
struct SliceMap {
  int64_t base = 0;
  std::vector<int64_t> strides;
};
SliceMap slice_map(const Shape& x_shape, const std::vector<int64_t>& start, const std::vector<int64_t>& step) {
  SliceMap m;
  const std::vector<int64_t> xs = cpu::row_major_strides(x_shape);
  m.strides.resize(xs.size());
  for (std::size_t d = 0; d < xs.size(); ++d) {
    m.base += start[d] * xs[d];
    m.strides[d] = step[d] * xs[d];
  }
  return m;
}

}  // namespace

Tensor slice(const Tensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
             const Shape& out_shape) {
  Tensor y = Tensor::empty(out_shape, x.dtype());
  if (y.numel() == 0) return y;
  const SliceMap m = slice_map(x.shape(), start, step);
  auto plan = cpu::make_plan<1>(out_shape, {m.strides});
  const int64_t s = plan.strides[0].back();
  cpu::dispatch_all(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>() + m.base;
    T* py = y.data<T>();
    cpu::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 1>& in, int64_t n) {
      for (int64_t i = 0; i < n; ++i) py[o + i] = px[in[0] + i * s];
    });
  });
  return y;
}

Tensor slice_backward(const Tensor& gy, const Shape& x_shape, const std::vector<int64_t>& start,
                      const std::vector<int64_t>& step) {
  Tensor gx = Tensor::zeros(x_shape, gy.dtype());
  if (gy.numel() == 0) return gx;
  const SliceMap m = slice_map(x_shape, start, step);
  auto plan = cpu::make_plan<1>(gy.shape(), {m.strides});
  const int64_t s = plan.strides[0].back();
  cpu::dispatch_all(gy.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pg = gy.data<T>();
    T* px = gx.data<T>() + m.base;
    // A slice reads each element of x at most once, so the writes never collide.
    cpu::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 1>& in, int64_t n) {
      for (int64_t i = 0; i < n; ++i) px[in[0] + i * s] = pg[o + i];
    });
  });
  return gx;
}

Tensor concatenate(const std::vector<Tensor>& xs, int64_t axis) {
  Shape shape = xs[0].shape();
  shape[axis] = 0;
  for (const Tensor& x : xs) shape[axis] += x.shape()[axis];
  Tensor y = Tensor::empty(shape, xs[0].dtype());
  if (y.numel() == 0) return y;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  for (int64_t d = axis + 1; d < static_cast<int64_t>(shape.size()); ++d) inner *= shape[d];
  const int64_t item = static_cast<int64_t>(itemsize(y.dtype()));
  const int64_t row = shape[axis] * inner * item;  // bytes of one outer row of y
  char* py = static_cast<char*>(y.raw_data());
  int64_t offset = 0;  // bytes into each row of y
  for (const Tensor& x : xs) {
    const int64_t chunk = x.shape()[axis] * inner * item;
    const char* px = static_cast<const char*>(x.raw_data());
    cpu::parallel_for(0, outer, std::max<int64_t>(1, cpu::kGrainSize * 4 / std::max<int64_t>(chunk, 1)),
                      [&](int64_t b, int64_t e) {
                        for (int64_t o = b; o < e; ++o) std::memcpy(py + o * row + offset, px + o * chunk, chunk);
                      });
    offset += chunk;
  }
  return y;
}

Tensor arange(double start, double step, int64_t n, DType dtype) {
  Tensor y = Tensor::empty({n}, dtype);
  cpu::dispatch_all(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    for (int64_t i = 0; i < n; ++i) py[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return y;
}

Tensor linspace(double start, double stop, int64_t n, DType dtype) {
  Tensor y = Tensor::empty({n}, dtype);
  cpu::dispatch_floating(dtype, "linspace kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    const double step = n > 1 ? (stop - start) / static_cast<double>(n - 1) : 0.0;
    for (int64_t i = 0; i < n; ++i) py[i] = static_cast<T>(start + static_cast<double>(i) * step);
    if (n > 1) py[n - 1] = static_cast<T>(stop);  // exactly the end point
  });
  return y;
}

}  // namespace nthgrad::kernels
