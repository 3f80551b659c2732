// Elementwise kernels of two inputs (NumPy broadcasting), of one input with a
// scalar, and where (three inputs).
#include <cmath>
#include <limits>
#include <functional>
#include <type_traits>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/strided.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

// The inner loops are written per stride pattern (both contiguous, one
// broadcast) so that the compiler vectorizes them. T is the input type, O
// the output type (they differ for comparisons).
template <typename T, typename O, typename Op>
void binary_row(const T* a, int64_t sa, const T* b, int64_t sb, O* y, int64_t n, Op op) {
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

template <typename T, typename O, typename Op>
Tensor binary_impl(const Tensor& a, const Tensor& b, DType out, Op op) {
  Shape out_shape = broadcast_shapes("binary kernel", "a", a.shape(), "b", b.shape());
  Tensor y = Tensor::empty(out_shape, out);
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  O* py = y.data<O>();
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

// max/min that propagate NaN (as NumPy's maximum/minimum).
template <typename T>
T nan_max(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
  return a > b ? a : b;
}
template <typename T>
T nan_min(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
  return a < b ? a : b;
}

// u op v; for integers in unsigned arithmetic, so that overflow wraps (as
// NumPy) instead of being undefined behaviour.
template <typename T, typename Op>
T wrap(T u, T v, Op op) {
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(op(static_cast<U>(u), static_cast<U>(v))));
  } else {
    return op(u, v);
  }
}

// Python's %: the result takes the sign of b. Integer b = 0 gives 0 here (the
// op rejects it before), and so does b = -1 (INT64_MIN % -1 traps on x86; the
// remainder is 0 anyway).
template <typename T>
T floor_mod(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0 || b == -1) return 0;
    T r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  } else {
    T r = std::fmod(a, b);
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
  }
}
template <typename T>
T trunc_mod(T a, T b) {
  if constexpr (std::is_integral_v<T>) {
    if (b == 0 || b == -1) return 0;
    return a % b;
  } else {
    return std::fmod(a, b);
  }
}

}  // namespace

Tensor binary(Binary op, const Tensor& a, const Tensor& b) {
  auto run = [&](auto tag) -> Tensor {
    using T = decltype(tag);
    const DType d = a.dtype();
    switch (op) {
      case Binary::Add: return binary_impl<T, T>(a, b, d, [](T u, T v) { return wrap<T>(u, v, std::plus<>()); });
      case Binary::Sub: return binary_impl<T, T>(a, b, d, [](T u, T v) { return wrap<T>(u, v, std::minus<>()); });
      case Binary::Mul: return binary_impl<T, T>(a, b, d, [](T u, T v) { return wrap<T>(u, v, std::multiplies<>()); });
      case Binary::Maximum: return binary_impl<T, T>(a, b, d, nan_max<T>);
      case Binary::Minimum: return binary_impl<T, T>(a, b, d, nan_min<T>);
      case Binary::Fmod: return binary_impl<T, T>(a, b, d, trunc_mod<T>);
      case Binary::FloorMod: return binary_impl<T, T>(a, b, d, floor_mod<T>);
      default: break;
    }
    if constexpr (std::is_floating_point_v<T>) {
      switch (op) {
        case Binary::Div: return binary_impl<T, T>(a, b, d, [](T u, T v) { return u / v; });
        case Binary::Pow: return binary_impl<T, T>(a, b, d, [](T u, T v) { return std::pow(u, v); });
        case Binary::Atan2: return binary_impl<T, T>(a, b, d, [](T u, T v) { return std::atan2(u, v); });
        default: break;
      }
    }
    throw RuntimeError("binary kernel: unsupported op for this dtype (internal error)");
  };
  switch (a.dtype()) {
    case DType::Float32: return run(float{});
    case DType::Float64: return run(double{});
    case DType::Int64: return run(int64_t{});
    default: throw TypeError(detail::cat("binary kernel: unsupported dtype ", dtype_name(a.dtype())));
  }
}

Tensor compare(Binary op, const Tensor& a, const Tensor& b, DType out) {
  return cpu::dispatch_all(a.dtype(), [&](auto tag) -> Tensor {
    using T = decltype(tag);
    return cpu::dispatch_floating(out, "compare kernel", [&](auto otag) -> Tensor {
      using O = decltype(otag);
      switch (op) {
        case Binary::Equal: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u == v); });
        case Binary::NotEqual: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u != v); });
        case Binary::Greater: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u > v); });
        case Binary::GreaterEqual: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u >= v); });
        case Binary::Less: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u < v); });
        case Binary::LessEqual: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u <= v); });
        case Binary::LogicalAnd: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u != 0 && v != 0); });
        case Binary::LogicalOr: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O(u != 0 || v != 0); });
        case Binary::LogicalXor: return binary_impl<T, O>(a, b, out, [](T u, T v) { return O((u != 0) != (v != 0)); });
        default: throw RuntimeError("compare kernel: not a comparison (internal error)");
      }
    });
  });
}

Tensor with_scalar(WithScalar op, const Tensor& x, double val) {
  return cpu::dispatch_floating(x.dtype(), "scalar kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    const T v = static_cast<T>(val);
    const bool bv = val != 0;
    switch (op) {
      case WithScalar::Add: return map_scalar<T>(x, [v](T a) { return a + v; });
      case WithScalar::Mul: return map_scalar<T>(x, [v](T a) { return a * v; });
      case WithScalar::Div: return map_scalar<T>(x, [v](T a) { return a / v; });
      case WithScalar::Pow:
        if (val == 2.0) return map_scalar<T>(x, [](T a) { return a * a; });
        if (val == 1.0) return map_scalar<T>(x, [](T a) { return a; });
        if (val == 0.0) return map_scalar<T>(x, [](T) { return T(1); });  // as std::pow: NaN^0 = 1
        if (val == 0.5) return map_scalar<T>(x, [](T a) { return std::sqrt(a); });
        return map_scalar<T>(x, [v](T a) { return std::pow(a, v); });
      case WithScalar::RSub: return map_scalar<T>(x, [v](T a) { return v - a; });
      case WithScalar::RDiv: return map_scalar<T>(x, [v](T a) { return v / a; });
      case WithScalar::RPow: return map_scalar<T>(x, [v](T a) { return std::pow(v, a); });
      case WithScalar::Maximum: return map_scalar<T>(x, [v](T a) { return nan_max(a, v); });
      case WithScalar::Minimum: return map_scalar<T>(x, [v](T a) { return nan_min(a, v); });
      case WithScalar::Greater: return map_scalar<T>(x, [v](T a) { return T(a > v); });
      case WithScalar::GreaterEqual: return map_scalar<T>(x, [v](T a) { return T(a >= v); });
      case WithScalar::Less: return map_scalar<T>(x, [v](T a) { return T(a < v); });
      case WithScalar::LessEqual: return map_scalar<T>(x, [v](T a) { return T(a <= v); });
      case WithScalar::Equal: return map_scalar<T>(x, [v](T a) { return T(a == v); });
      case WithScalar::NotEqual: return map_scalar<T>(x, [v](T a) { return T(a != v); });
      case WithScalar::LogicalAnd: return map_scalar<T>(x, [bv](T a) { return T(a != 0 && bv); });
      case WithScalar::LogicalOr: return map_scalar<T>(x, [bv](T a) { return T(a != 0 || bv); });
      case WithScalar::LogicalXor: return map_scalar<T>(x, [bv](T a) { return T((a != 0) != bv); });
    }
    return Tensor();
  });
}

void add_into(Tensor& y, const Tensor& x, double alpha) {
  cpu::dispatch_floating(y.dtype(), "add_into kernel", [&](auto tag) {
    using T = decltype(tag);
    T* py = y.data<T>();
    const T* px = x.data<T>();
    const T a = static_cast<T>(alpha);
    cpu::parallel_for(0, y.numel(), cpu::kGrainSize, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) py[i] += a * px[i];
    });
  });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = broadcast_shapes("where kernel", "a", a.shape(), "b", b.shape());
  shape = broadcast_shapes("where kernel", "condition", cond.shape(), "x", shape);
  Tensor y = Tensor::empty(shape, a.dtype());
  if (y.numel() == 0) return y;
  auto plan = cpu::make_plan<3>(shape, {cpu::broadcast_strides(cond.shape(), shape),
                                        cpu::broadcast_strides(a.shape(), shape),
                                        cpu::broadcast_strides(b.shape(), shape)});
  const int64_t sc = plan.strides[0].back(), sa = plan.strides[1].back(), sb = plan.strides[2].back();
  cpu::dispatch_all(cond.dtype(), [&](auto ctag) {
    using C = decltype(ctag);
    cpu::dispatch_all(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const C* pc = cond.data<C>();
      const T* pa = a.data<T>();
      const T* pb = b.data<T>();
      T* py = y.data<T>();
      cpu::for_each_row(plan, [&](int64_t o, const std::array<int64_t, 3>& in, int64_t n) {
        const C* c = pc + in[0];
        const T* u = pa + in[1];
        const T* v = pb + in[2];
        for (int64_t i = 0; i < n; ++i) py[o + i] = c[i * sc] != 0 ? u[i * sa] : v[i * sb];
      });
    });
  });
  return y;
}

}  // namespace nthgrad::kernels
