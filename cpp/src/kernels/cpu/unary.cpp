// Elementwise kernels of one input, and the fused first-order backward
// gy * f'(z) of the differentiable ones. Eigen array expressions where Eigen
// vectorizes the function (exp, log, tanh, sin, cos), plain loops elsewhere;
// chunks split across threads.
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/cpu/eigen.h"
#include "kernels/cpu/parallel.h"
#include "kernels/kernels.h"

namespace nthgrad::kernels {

namespace {

template <typename T>
T sigmoid_of(T x) {  // accurate in both tails: exp(-x) overflows to inf for x << 0 and 1/inf = 0
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
T softplus_of(T x) {  // log(1 + e^x) without overflow
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluK = 0.044715;
constexpr double kTwoOverSqrtPi = 1.1283791670955126;

// Below this |x|, sinc'(x) comes from its Taylor series: (x cos x - sin x) / x^2
// cancels there. The cut balances the cancellation against the first dropped term.
template <typename T>
constexpr T sinc_series_cut() {
  return std::is_same_v<T, float> ? T(0.5) : T(0.05);
}

// tanh for double, vectorized (Eigen's double tanh calls std::tanh element by
// element, ~25 ns each): |x| < 0.3 from the Taylor series
// x + x * x^2 * (c1 + c2 x^2 + ...), whose 13 terms leave < 1e-17 there;
// above, (e - 1) / (e + 1) with e = exp(2|x|) (Eigen's exp is vectorized);
// 1 beyond 20. Within 2 ulps of the exact value (checked against mpmath).
void tanh_double(const double* px, double* py, int64_t n) {
  static constexpr double c[13] = {
      -0.33333333333333331,    0.13333333333333333,     -0.053968253968253971,  0.021869488536155203,
      -0.0088632355299021973,  0.0035921280365724811,   -0.0014558343870513183, 0.00059002744094558595,
      -0.00023912911424355248, 9.6915379569294509e-05,  -3.9278323883316833e-05, 1.5918905069328964e-05,
      -6.4516892156554306e-06};
  // Blocks of 256: Eigen's vectorized exp into a stack buffer, then one loop the compiler
  // vectorizes (both branches computed, then blended).
  constexpr int64_t kBlock = 256;
  double e[kBlock];
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    const double* xi = px + i;
    cpu::ArrayMap<double>(e, m) = (2 * cpu::ConstArrayMap<double>(xi, m).abs()).exp();
    for (int64_t j = 0; j < m; ++j) {
      const double a = std::abs(xi[j]), q = a * a;
      double p = c[12];
      for (int k = 11; k >= 0; --k) p = p * q + c[k];
      const double series = a + a * (q * p);
      const double t = a < 0.3 ? series : a > 20 ? 1.0 : (e[j] - 1) / (e[j] + 1);
      py[i + j] = std::copysign(t, xi[j]);  // keeps the sign of -0.0
    }
  }
}

template <typename T, typename F>
void each(const T* x, T* y, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

template <typename T>
void unary_chunk(Unary op, const T* px, T* py, int64_t n, T a, T b) {
  cpu::ConstArrayMap<T> x(px, n);
  cpu::ArrayMap<T> y(py, n);
  switch (op) {
    case Unary::Neg: y = -x; return;
    case Unary::Exp: {
      y = x.exp();
      const T lowest = cpu::exp_denormal_below<T>();
      for (int64_t i = 0; i < n; ++i)
        if (px[i] < lowest) py[i] = std::exp(px[i]);
      return;
    }
    case Unary::Log: y = x.log(); return;
    case Unary::Sin: y = x.sin(); return;
    case Unary::Cos: y = x.cos(); return;
    case Unary::Tan: return each(px, py, n, [](T v) { return std::tan(v); });
    case Unary::Sinh: return each(px, py, n, [](T v) { return std::sinh(v); });
    case Unary::Cosh: return each(px, py, n, [](T v) { return std::cosh(v); });
    case Unary::Asin: return each(px, py, n, [](T v) { return std::asin(v); });
    case Unary::Acos: return each(px, py, n, [](T v) { return std::acos(v); });
    case Unary::Atan: return each(px, py, n, [](T v) { return std::atan(v); });
    case Unary::Asinh: return each(px, py, n, [](T v) { return std::asinh(v); });
    case Unary::Acosh: return each(px, py, n, [](T v) { return std::acosh(v); });
    case Unary::Atanh: return each(px, py, n, [](T v) { return std::atanh(v); });
    case Unary::Erf: return each(px, py, n, [](T v) { return std::erf(v); });
    case Unary::Abs: y = x.abs(); return;
    case Unary::Copy: y = x; return;
    case Unary::Round: return each(px, py, n, [](T v) { return std::round(v); });
    case Unary::Ceil: return each(px, py, n, [](T v) { return std::ceil(v); });
    case Unary::Floor: return each(px, py, n, [](T v) { return std::floor(v); });
    case Unary::Sign:
      return each(px, py, n, [a](T v) { return v > 0 ? T(1) : v < 0 ? T(-1) : v == 0 ? a : v; });
    case Unary::Tanh:
      if constexpr (std::is_same_v<T, double>) {
        tanh_double(px, py, n);
      } else {
        y = x.tanh();  // Eigen vectorizes float tanh
      }
      return;
    case Unary::Sigmoid: y = T(1) / (T(1) + (-x).exp()); return;
    case Unary::Relu: y = x.max(T(0)); return;
    case Unary::Swish: return each(px, py, n, [](T v) { return v * sigmoid_of(v); });
    // Eigen's vectorized exp and log1p: the scalar std:: calls took ~4x as long.
    // where e^-|x| is a denormal, the scalar formula (see exp_denormal_below)
    case Unary::LogSigmoid: {
      y = x.min(T(0)) - (-x.abs()).exp().log1p();  // log sigma(x)
      const T lowest = cpu::exp_denormal_below<T>();
      for (int64_t i = 0; i < n; ++i)
        if (-std::abs(px[i]) < lowest) py[i] = std::min(px[i], T(0)) - std::log1p(std::exp(-std::abs(px[i])));
      return;
    }
    case Unary::Softplus: {
      y = ((a * x).max(T(0)) + (-(a * x).abs()).exp().log1p()) / a;
      const T lowest = cpu::exp_denormal_below<T>();
      for (int64_t i = 0; i < n; ++i)
        if (-std::abs(a * px[i]) < lowest) py[i] = softplus_of(a * px[i]) / a;
      return;
    }
    case Unary::Softsign: return each(px, py, n, [](T v) { return v / (T(1) + std::abs(v)); });
    case Unary::Gelu:
      return each(px, py, n, [](T v) {
        return T(0.5) * v * (T(1) + std::tanh(T(kGeluC) * (v + T(kGeluK) * v * v * v)));
      });
    case Unary::Mish: return each(px, py, n, [](T v) { return v * std::tanh(softplus_of(v)); });
    case Unary::Elu: return each(px, py, n, [a](T v) { return v > 0 ? v : a * std::expm1(v); });
    case Unary::Selu: return each(px, py, n, [a, b](T v) { return a * (v > 0 ? v : b * std::expm1(v)); });
    case Unary::LeakyRelu: return each(px, py, n, [a](T v) { return v > 0 ? v : a * v; });
    case Unary::Relu6: return each(px, py, n, [](T v) { return std::min(std::max(v, T(0)), T(6)); });
    case Unary::HardSigmoid:
      return each(px, py, n, [](T v) { return std::min(std::max(T(0.2) * v + T(0.5), T(0)), T(1)); });
    case Unary::HardTanh: return each(px, py, n, [](T v) { return std::min(std::max(v, T(-1)), T(1)); });
    case Unary::TanhShrink: return each(px, py, n, [](T v) { return v - std::tanh(v); });
    case Unary::Sinc: return each(px, py, n, [](T v) { return v == 0 ? T(1) : std::sin(v) / v; });
    case Unary::IsNan: return each(px, py, n, [](T v) { return T(std::isnan(v)); });
    case Unary::IsInf: return each(px, py, n, [](T v) { return T(std::isinf(v)); });
    case Unary::LogicalNot: return each(px, py, n, [](T v) { return T(v == 0); });
    case Unary::ResetNan: return each(px, py, n, [a](T v) { return std::isnan(v) ? a : v; });
    case Unary::ResetInf: return each(px, py, n, [a](T v) { return std::isinf(v) ? a : v; });
  }
}

template <typename T, typename F>
void each_grad(const T* g, const T* z, T* gx, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) gx[i] = g[i] * f(z[i]);
}

// f'(z) for each differentiable entry of Unary (z as documented in kernels.h).
template <typename T>
void unary_grad_chunk(Unary op, const T* pg, const T* pz, T* pgx, int64_t n, T a, T b) {
  cpu::ConstArrayMap<T> g(pg, n), z(pz, n);
  cpu::ArrayMap<T> gx(pgx, n);
  switch (op) {
    case Unary::Tanh: gx = g * (T(1) - z.square()); return;  // z = y
    case Unary::Sigmoid: gx = g * z * (T(1) - z); return;    // z = y
    case Unary::Relu: gx = (z > T(0)).select(g, T(0)); return;  // z = y
    case Unary::Relu6: gx = (z > T(0) && z < T(6)).select(g, T(0)); return;  // z = y; 0 at 0 and 6
    case Unary::Tan: gx = g * (T(1) + z.square()); return;   // z = y
    case Unary::Swish:
      return each_grad(pg, pz, pgx, n, [](T x) {
        T s = sigmoid_of(x);
        return s * (T(1) + x * (T(1) - s));
      });
    // sigma(-x) and sigma(a x), vectorized (exp overflowing to inf gives the 0 of the tail)
    // (an underflowed e^t gives 1 / (1 + ~1e-39) = 1 exactly; an overflowed one g / inf = 0)
    case Unary::LogSigmoid: gx = g / (T(1) + z.exp()); return;
    case Unary::Softplus: gx = g / (T(1) + (-(a * z)).exp()); return;
    case Unary::Softsign:
      return each_grad(pg, pz, pgx, n, [](T x) {
        T d = T(1) + std::abs(x);
        return T(1) / (d * d);
      });
    case Unary::Gelu:
      return each_grad(pg, pz, pgx, n, [](T x) {
        T t = std::tanh(T(kGeluC) * (x + T(kGeluK) * x * x * x));
        return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * T(kGeluC) * (T(1) + T(3 * kGeluK) * x * x);
      });
    case Unary::Mish:
      return each_grad(pg, pz, pgx, n, [](T x) {
        T t = std::tanh(softplus_of(x));
        return t + x * (T(1) - t * t) * sigmoid_of(x);
      });
    case Unary::Elu: return each_grad(pg, pz, pgx, n, [a](T x) { return x > 0 ? T(1) : a * std::exp(x); });
    case Unary::Selu: return each_grad(pg, pz, pgx, n, [a, b](T x) { return x > 0 ? a : a * b * std::exp(x); });
    case Unary::LeakyRelu: return each_grad(pg, pz, pgx, n, [a](T x) { return x > 0 ? T(1) : a; });
    case Unary::HardSigmoid:  // 0.2 on [-2.5, 2.5], ends included (nnabla)
      return each_grad(pg, pz, pgx, n, [](T x) { return x >= T(-2.5) && x <= T(2.5) ? T(0.2) : T(0); });
    case Unary::HardTanh:  // 1 on [-1, 1], ends included (nnabla)
      return each_grad(pg, pz, pgx, n, [](T x) { return x >= T(-1) && x <= T(1) ? T(1) : T(0); });
    case Unary::TanhShrink:
      return each_grad(pg, pz, pgx, n, [](T x) {
        T t = std::tanh(x);
        return t * t;
      });
    case Unary::Sinc:
      return each_grad(pg, pz, pgx, n, [](T x) {
        if (std::abs(x) < sinc_series_cut<T>()) {
          T x2 = x * x;  // -x/3 + x^3/30 - x^5/840
          return x * (T(-1) / T(3) + x2 * (T(1) / T(30) - x2 / T(840)));
        }
        return (x * std::cos(x) - std::sin(x)) / (x * x);
      });
    case Unary::Sinh: return each_grad(pg, pz, pgx, n, [](T x) { return std::cosh(x); });
    case Unary::Cosh: return each_grad(pg, pz, pgx, n, [](T x) { return std::sinh(x); });
    case Unary::Asin: return each_grad(pg, pz, pgx, n, [](T x) { return T(1) / std::sqrt(T(1) - x * x); });
    case Unary::Acos: return each_grad(pg, pz, pgx, n, [](T x) { return T(-1) / std::sqrt(T(1) - x * x); });
    case Unary::Atan: return each_grad(pg, pz, pgx, n, [](T x) { return T(1) / (T(1) + x * x); });
    case Unary::Asinh: return each_grad(pg, pz, pgx, n, [](T x) { return T(1) / std::sqrt(x * x + T(1)); });
    case Unary::Acosh: return each_grad(pg, pz, pgx, n, [](T x) { return T(1) / std::sqrt(x * x - T(1)); });
    case Unary::Atanh: return each_grad(pg, pz, pgx, n, [](T x) { return T(1) / (T(1) - x * x); });
    case Unary::Erf: return each_grad(pg, pz, pgx, n, [](T x) { return T(kTwoOverSqrtPi) * std::exp(-x * x); });
    default: throw RuntimeError("unary_grad kernel: this function has no fused derivative (internal error)");
  }
}

}  // namespace

Tensor unary(Unary op, const Tensor& x, double a, double b) {
  return cpu::dispatch_floating(x.dtype(), "unary kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    Tensor y = Tensor::empty(x.shape(), x.dtype());
    const T* px = x.data<T>();
    T* py = y.data<T>();
    cpu::parallel_for(0, x.numel(), cpu::kGrainSize, [&](int64_t s, int64_t e) {
      unary_chunk<T>(op, px + s, py + s, e - s, static_cast<T>(a), static_cast<T>(b));
    });
    return y;
  });
}

Tensor unary_grad(Unary op, const Tensor& gy, const Tensor& z, double a, double b) {
  return cpu::dispatch_floating(z.dtype(), "unary_grad kernel", [&](auto tag) -> Tensor {
    using T = decltype(tag);
    Tensor gx = Tensor::empty(z.shape(), z.dtype());
    const T* pg = gy.data<T>();
    const T* pz = z.data<T>();
    T* pgx = gx.data<T>();
    cpu::parallel_for(0, z.numel(), cpu::kGrainSize, [&](int64_t s, int64_t e) {
      unary_grad_chunk<T>(op, pg + s, pz + s, pgx + s, e - s, static_cast<T>(a), static_cast<T>(b));
    });
    return gx;
  });
}

}  // namespace nthgrad::kernels
