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

constexpr const char* kMethods =
    "'heaviside', 'super', 'fast_sigmoid', 'triangle', 'tanh', 'circ', 'heavi_erfc', 'atan', 'sigmoid', "
    "'straight_through', 'spike_rate_escape'";

const double kPi = 3.14159265358979323846;

void check_method(const std::string& method) {
  for (const char* known : {"heaviside", "super", "fast_sigmoid", "triangle", "tanh", "circ", "heavi_erfc", "atan",
                            "sigmoid", "straight_through", "spike_rate_escape"})
    if (method == known) return;
  throw ValueError(detail::cat("surrogate: unknown method '", method, "'; the methods are ", kMethods));
}

}  // namespace

Variable surrogate_derivative(const std::string& method, const Variable& x, const Variable& a, double beta) {
  check_method(method);
  const Variable ax = mul2(a, x);
  // 0 as a function of x that is finite for every x (x * 0 is NaN at +-inf), so that the constant surrogates
  // still have a (zero) derivative in x at every order
  const Variable zero = mul_scalar(tanh(x), 0.0);
  if (method == "heaviside") return zero;
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
  if (method == "straight_through") return add_scalar(zero, 1.0);
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
  Tensor spikes;
  if (z.defined()) {
    check::same_shape(op, "x", x, "z", z);
    spikes = z.dtype() == x.dtype() ? z.value() : kernels::cast(z.value(), x.dtype());
  } else {
    spikes = kernels::compare(kernels::Binary::Greater, x.value(), Tensor::scalar(0.0, x.dtype()), x.dtype());
  }
  const Variable a = alpha.dtype() == x.dtype() ? alpha : cast(alpha, x.dtype());
  return record(op, {x, a}, spikes, kSavesInputs, [method, beta](const Ctx& c) {
    VariableList g(2);  // alpha's first-order gradient is zero: H does not depend on it
    if (c.needs(0) && method != "heaviside") g[0] = mul2(c.gy(), surrogate_derivative(method, c.in(0), c.in(1), beta));
    return g;
  });
}

}  // namespace nthgrad
