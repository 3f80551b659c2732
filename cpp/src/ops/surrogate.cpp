// Surrogate gradients: a Heaviside forward, a backward written in ops of x
// and alpha (see nthgrad/ops/surrogate.h).
#include "nthgrad/ops/surrogate.h"

#include <cmath>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/activation.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

constexpr const char* kMethods[] = {"heaviside", "super",   "fast_sigmoid", "triangle",         "tanh",
                                    "circ",      "heavi_erfc", "atan",      "sigmoid", "straight_through",
                                    "spike_rate_escape"};

const double kPi = 3.14159265358979323846;

void check_method(const std::string& method) {
  std::string listed;
  for (const char* known : kMethods) {
    if (method == known) return;
    listed += std::string(listed.empty() ? "'" : ", '") + known + "'";
  }
  throw ValueError(detail::cat("surrogate: unknown method '", method, "'; the methods are ", listed));
}

// 0 as a function of x that is finite for every x (x * 0 is NaN at +-inf): added to a derivative that is a
// constant, it keeps a (zero) derivative in x at every order instead of none.
Variable zero_in(const Variable& x) { return mul_scalar(tanh(x), 0.0); }

// The forward of every surrogate spike: the given spikes z (x's shape, cast to x's dtype) or H(x) = (x > 0).
Tensor spikes_of(const char* op, const Variable& x, const Variable& z) {
  if (!z.defined())
    return kernels::compare(kernels::Binary::Greater, x.value(), Tensor::scalar(0.0, x.dtype()), x.dtype());
  check::same_shape(op, "x", x, "z", z);
  return z.dtype() == x.dtype() ? z.value() : kernels::cast(z.value(), x.dtype());
}

}  // namespace

Variable surrogate_derivative(const std::string& method, const Variable& x, const Variable& a, double beta) {
  check_method(method);
  const Variable ax = mul2(a, x);
  if (method == "heaviside") return zero_in(x);
  if (method == "super" || method == "fast_sigmoid") return pow_scalar(add_scalar(mul2(a, abs(x)), 1.0), -2.0);
  if (method == "triangle") return mul2(a, relu(r_sub_scalar(abs(x), 1.0)));
  if (method == "tanh") return r_sub_scalar(pow_scalar(tanh(ax), 2.0), 1.0);
  if (method == "circ") {  // a^3 / (x^2 + a^2)^1.5 as sign(a) (1 + (x/a)^2)^-1.5: a^3 overflows float32 at a ~ 7e12
    const Variable r = div2(x, a);
    return mul2(sign(a, 1.0, false), pow_scalar(add_scalar(mul2(r, r), 1.0), -1.5));
  }
  if (method == "heavi_erfc") return mul_scalar(exp(mul_scalar(mul2(ax, ax), -1.0)), 2.0 / std::sqrt(kPi));
  if (method == "atan")
    return div2(mul_scalar(a, 0.5), add_scalar(pow_scalar(mul_scalar(ax, kPi / 2), 2.0), 1.0));
  if (method == "sigmoid") {
    const Variable s = sigmoid(ax);  // s (1 - s), not e^-ax / (1 + e^-ax)^2: finite for every input
    return mul2(a, mul2(s, r_sub_scalar(s, 1.0)));
  }
  if (method == "straight_through") return add_scalar(zero_in(x), 1.0);
  return mul2(a, exp(mul_scalar(abs(add_scalar(x, -1.0)), -beta)));  // spike_rate_escape
}

Variable surrogate_heaviside(const Variable& x, const std::string& method, const Variable& alpha, const Variable& z,
                             double beta) {
  const char* op = "surrogate_heaviside";
  check::floating(op, "x", x);
  check::floating(op, "alpha", alpha);
  if (broadcast_shapes(op, "x", x.shape(), "alpha", alpha.shape()) != x.shape())
    throw ValueError(detail::cat(op, ": alpha of shape ", shape_str(alpha.shape()), " must broadcast to x's shape ",
                                 shape_str(x.shape())));
  if (!std::isfinite(beta)) throw ValueError(detail::cat(op, ": beta must be finite, got ", beta));
  check_method(method);
  const Tensor spikes = spikes_of(op, x, z);
  const Variable a = alpha.dtype() == x.dtype() ? alpha : cast(alpha, x.dtype());
  return record(op, {x, a}, spikes, kSavesInputs, [method, beta](const Ctx& c) {
    VariableList g(2);  // alpha's first-order gradient is zero: H does not depend on it
    if (c.needs(0) && method != "heaviside") g[0] = mul2(c.gy(), surrogate_derivative(method, c.in(0), c.in(1), beta));
    return g;
  });
}

Variable surrogate_custom(const Variable& x, const Derivative& derivative, const Variable& z) {
  const char* op = "surrogate_custom";
  check::floating(op, "x", x);
  const Tensor spikes = spikes_of(op, x, z);
  return record(op, {x}, spikes, kSavesInputs, [derivative](const Ctx& c) {
    const Variable d = derivative(c.in(0));
    if (broadcast_shapes("surrogate custom", "x", c.in_shape(0), "derivative", d.shape()) != c.in_shape(0))
      throw ValueError(detail::cat("surrogate custom: the derivative has shape ", shape_str(d.shape()),
                                   ", which does not broadcast to x's ", shape_str(c.in_shape(0))));
    return VariableList{mul2(c.gy(), add2(d, zero_in(c.in(0))))};
  });
}

}  // namespace nthgrad
