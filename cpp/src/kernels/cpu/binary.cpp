// Elementwise kernels of two inputs (NumPy broadcasting) and of one input
// with a scalar.
#include <cmath>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

template <typename T>
struct AddOp {
  T operator()(T a, T b) const { return a + b; }
};
template <typename T>
struct SubOp {
  T operator()(T a, T b) const { return a - b; }
};
template <typename T>
struct MulOp {
  T operator()(T a, T b) const { return a * b; }
};
template <typename T>
struct DivOp {
  T operator()(T a, T b) const { return a / b; }
};
template <typename T>
struct PowOp {
  T operator()(T a, T b) const { return std::pow(a, b); }
};

// The inner loops are written per stride pattern (both contiguous, one
// broadcast) so that the compiler vectorizes them.
template <typename T, typename Op>
void binary_row(const T* a, int64_t sa, const T* b, int64_t sb, T* y, int64_t n, Op op) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i], bv);
  } else if (sa == 0 && sb == 1) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) y[i] = op(av, b[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = op(a[i * sa], b[i * sb]);
  }
}

template <typename T, typename Op>
Tensor binary_impl(const Tensor& a, const Tensor& b, Op op) {
  Shape out_shape = broadcast_shapes("binary kernel", "a", a.shape(), "b", b.shape());
  Tensor y = Tensor::empty(out_shape, a.dtype());
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* py = y.data<T>();
  if (y.numel() == 0) return y;
  if (a.shape() == b.shape()) {  // the common case: one flat loop
    cpu::parallel_for(0, y.numel(), cpu::kGrainSize,
                      [&](int64_t s, int64_t e) { binary_row(pa + s, 1, pb + s, 1, py + s, e - s, op); });
    return y;
  }
  auto plan = cpu::make_plan<2>(out_shape, {cpu::broadcast_strides(a.shape(), out_shape),
                                            cpu::broadcast_strides(b.shape(), out_shape)});
  const int64_t sa = plan.strides[0].back(), sb = plan.strides[1].back();
  cpu::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 2>& in, int64_t n) {
    binary_row(pa + in[0], sa, pb + in[1], sb, py + o, n, op);
  });
  return y;
}

template <typename T, typename F>
Tensor map_scalar(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  const T* px = x.data<T>();
  T* py = y.data<T>();
  cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) py[i] = f(px[i]);
  });
  return y;
}

}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  return cpu::dispatch_floating(a.dtype(), "binary kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    switch (op) {
      case Binary::Add: return binary_impl<T>(a, b, AddOp<T>());
      case Binary::Sub: return binary_impl<T>(a, b, SubOp<T>());
      case Binary::Mul: return binary_impl<T>(a, b, MulOp<T>());
      case Binary::Div: return binary_impl<T>(a, b, DivOp<T>());
      case Binary::Pow: return binary_impl<T>(a, b, PowOp<T>());
    }
    return Tensor();
  });
}

Tensor with_scalar(WithScalar op, const Tensor& x, double val) {
  return cpu::dispatch_floating(x.dtype(), "scalar kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    const T v = static_cast<T>(val);
    switch (op) {
      case WithScalar::Add: return map_scalar<T>(x, [v](T a) { return a + v; });
      case WithScalar::Mul: return map_scalar<T>(x, [v](T a) { return a * v; });
      case WithScalar::Pow:
        if (val == 2.0) return map_scalar<T>(x, [](T a) { return a * a; });
        if (val == 1.0) return map_scalar<T>(x, [](T a) { return a; });
        return map_scalar<T>(x, [v](T a) { return std::pow(a, v); });
      case WithScalar::RSub: return map_scalar<T>(x, [v](T a) { return v - a; });
      case WithScalar::RDiv: return map_scalar<T>(x, [v](T a) { return v / a; });
      case WithScalar::RPow: return map_scalar<T>(x, [v](T a) { return std::pow(v, a); });
      case WithScalar::Greater: return map_scalar<T>(x, [v](T a) { return T(a > v); });
      case WithScalar::GreaterEqual: return map_scalar<T>(x, [v](T a) { return T(a >= v); });
      case WithScalar::Less: return map_scalar<T>(x, [v](T a) { return T(a < v); });
      case WithScalar::LessEqual: return map_scalar<T>(x, [v](T a) { return T(a <= v); });
      case WithScalar::Equal: return map_scalar<T>(x, [v](T a) { return T(a == v); });
      case WithScalar::NotEqual: return map_scalar<T>(x, [v](T a) { return T(a != v); });
    }
    return Tensor();
  });
}

}  // namespace nthgrad::kernels
