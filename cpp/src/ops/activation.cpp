// Activations (technical note section 4). The elementwise ones use the fused
// pattern of detail::unary: one kernel for y, one for gy * f'(z), and f''
// written with ops below (the `second` of each UnaryFn), so every order
// follows. Where f' is cheapest in the output (tanh, sigmoid, relu, relu6)
// the rule reads y, so that the graph keeps y rather than x.
#include "nthgrad/ops/activation.h"

#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using detail::UnaryFn;
using kernels::Unary;

namespace {

Variable neg(const Variable& x) { return mul_scalar(x, -1.0); }
// sigma(x) (1 - sigma(x)), in ops
Variable sigmoid_slope(const Variable& s) { return mul2(s, r_sub_scalar(s, 1.0)); }
// [x <= 0] * e^min(x, 0): the exponential branch of elu, never inf (so 0 * inf cannot appear in a gradient)
Variable exp_branch(const Variable& x) {
  return mul2(less_equal_scalar(x, 0.0), exp(minimum_scalar(x, 0.0)));
}

// d f'(z)/dz of each function, written with ops (see detail::UnaryFn).
Variable tanh_second(const Variable& y, double, double) { return mul_scalar(y, -2.0); }        // d(1 - y^2)/dy
Variable sigmoid_second(const Variable& y, double, double) { return r_sub_scalar(mul_scalar(y, 2.0), 1.0); }
Variable swish_second(const Variable& x, double, double) {  // s(1-s)(2 + x(1-2s))
  Variable s = sigmoid(x);
  return mul2(sigmoid_slope(s), add_scalar(mul2(x, r_sub_scalar(mul_scalar(s, 2.0), 1.0)), 2.0));
}
Variable log_sigmoid_second(const Variable& x, double, double) { return neg(sigmoid_slope(sigmoid(x))); }
Variable softplus_second(const Variable& x, double beta, double) {  // beta s(1-s), s = sigma(beta x)
  return mul_scalar(sigmoid_slope(sigmoid(mul_scalar(x, beta))), beta);
}
Variable softsign_second(const Variable& x, double, double) {  // -2 s / (1 + s x)^3, s = sign(x) a constant
  Variable s = sign(x, 0.0, false);
  return mul_scalar(div2(s, pow_scalar(add_scalar(mul2(s, x), 1.0), 3.0)), -2.0);
}
constexpr double kGeluC = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluK = 0.044715;
Variable gelu_second(const Variable& x, double, double) {
  // t = tanh(u), u = c(x + k x^3): f'' = (1 - t^2) (u' + x (u''/2 - t u'^2)), u' = c(1 + 3k x^2), u'' = 6ck x
  Variable x2 = pow_scalar(x, 2.0);
  Variable t = tanh(mul_scalar(add2(x, mul_scalar(mul2(x2, x), kGeluK)), kGeluC));
  Variable du = mul_scalar(add_scalar(mul_scalar(x2, 3.0 * kGeluK), 1.0), kGeluC);
  Variable half_ddu = mul_scalar(x, 3.0 * kGeluC * kGeluK);
  Variable inner = add2(du, mul2(x, sub2(half_ddu, mul2(t, pow_scalar(du, 2.0)))));
  return mul2(r_sub_scalar(pow_scalar(t, 2.0), 1.0), inner);
}
Variable mish_second(const Variable& x, double, double) {
  // T = tanh(softplus(x)), s = sigma(x): f'' = (1 - T^2) s (2 + x(1 - s) - 2 x T s)
  Variable t = tanh(softplus(x));
  Variable s = sigmoid(x);
  Variable bracket = add_scalar(sub2(mul2(x, r_sub_scalar(s, 1.0)), mul_scalar(mul2(mul2(x, t), s), 2.0)), 2.0);
  return mul2(mul2(r_sub_scalar(pow_scalar(t, 2.0), 1.0), s), bracket);
}
Variable elu_second(const Variable& x, double alpha, double) { return mul_scalar(exp_branch(x), alpha); }
Variable selu_second(const Variable& x, double scale, double alpha) {
  return mul_scalar(exp_branch(x), scale * alpha);
}
Variable tanh_shrink_second(const Variable& x, double, double) {  // 2 t (1 - t^2)
  Variable t = tanh(x);
  return mul_scalar(mul2(t, r_sub_scalar(pow_scalar(t, 2.0), 1.0)), 2.0);
}
Variable sinc_second(const Variable& x, double, double) {
  // ((2 - x^2) sin x - 2x cos x) / x^3, which cancels near 0: there the series
  // -1/3 + x^2/10 - x^4/168. The formula is evaluated at a safe x (1 near 0),
  // so no inf or NaN reaches a gradient.
  const double cut = x.dtype() == DType::Float32 ? 0.5 : 0.05;
  Variable near = less_scalar(abs(x), cut);
  Variable one = constant(1.0, {}, x.dtype());
  Variable xs = where(near, one, x);
  Variable formula = div2(sub2(mul2(r_sub_scalar(pow_scalar(xs, 2.0), 2.0), sin(xs)), mul_scalar(mul2(xs, cos(xs)), 2.0)),
                          pow_scalar(xs, 3.0));
  Variable x2 = pow_scalar(x, 2.0);
  Variable series = add_scalar(mul2(x2, r_sub_scalar(mul_scalar(x2, 1.0 / 168.0), 0.1)), -1.0 / 3.0);
  return where(near, series, formula);
}

// The concatenation axis of crelu / celu, checked.
int64_t concat_axis(const char* op, const Variable& x, int64_t axis) {
  check::floating(op, "x", x);
  return normalize_axis(op, axis, x.ndim());
}

}  // namespace

// tanh: y = tanh x; gx = tanh_backward(gy, y) = gy (1 - y^2)
Variable tanh(const Variable& x) {
  return detail::unary({"tanh", "tanh_backward", Unary::Tanh, true, tanh_second}, x);
}

// sigmoid: y = 1 / (1 + e^-x); gx = sigmoid_backward(gy, y) = gy y (1 - y)
Variable sigmoid(const Variable& x) {
  return detail::unary({"sigmoid", "sigmoid_backward", Unary::Sigmoid, true, sigmoid_second}, x);
}

// relu: y = max(0, x); gx = relu_backward(gy, y) = gy [y > 0]   (0 at 0)
Variable relu(const Variable& x) { return detail::unary({"relu", "relu_backward", Unary::Relu, true}, x); }

// swish: y = x s, s = sigma(x); gx = gy s (1 + x (1 - s))
Variable swish(const Variable& x) {
  return detail::unary({"swish", "swish_backward", Unary::Swish, false, swish_second}, x);
}

// leaky_relu: y = x > 0 ? x : alpha x; gx = gy (x > 0 ? 1 : alpha)   (alpha at 0)
Variable leaky_relu(const Variable& x, double alpha) {
  return detail::unary({"leaky_relu", "leaky_relu_backward", Unary::LeakyRelu, false, nullptr, alpha}, x);
}

// elu: y = x > 0 ? x : alpha (e^x - 1); gx = gy (x > 0 ? 1 : alpha e^x)
Variable elu(const Variable& x, double alpha) {
  return detail::unary({"elu", "elu_backward", Unary::Elu, false, elu_second, alpha}, x);
}

// selu: y = scale elu(x, alpha); gx = gy scale (x > 0 ? 1 : alpha e^x)
Variable selu(const Variable& x, double scale, double alpha) {
  return detail::unary({"selu", "selu_backward", Unary::Selu, false, selu_second, scale, alpha}, x);
}

// gelu (tanh form): y = x (1 + tanh(u)) / 2, u = sqrt(2/pi)(x + 0.044715 x^3)
Variable gelu(const Variable& x) {
  return detail::unary({"gelu", "gelu_backward", Unary::Gelu, false, gelu_second}, x);
}

// mish: y = x tanh(softplus(x)); gx = gy (T + x (1 - T^2) sigma(x))
Variable mish(const Variable& x) {
  return detail::unary({"mish", "mish_backward", Unary::Mish, false, mish_second}, x);
}

// relu6: y = min(max(0, x), 6); gx = gy [0 < y < 6]
Variable relu6(const Variable& x) { return detail::unary({"relu6", "relu6_backward", Unary::Relu6, true}, x); }

// hard_sigmoid: y = clip(0.2 x + 0.5, 0, 1); gx = 0.2 gy on [-2.5, 2.5]
Variable hard_sigmoid(const Variable& x) {
  return detail::unary({"hard_sigmoid", "hard_sigmoid_backward", Unary::HardSigmoid, false}, x);
}

// hard_tanh: y = clip(x, -1, 1); gx = gy on [-1, 1]
Variable hard_tanh(const Variable& x) {
  return detail::unary({"hard_tanh", "hard_tanh_backward", Unary::HardTanh, false}, x);
}

// log_sigmoid: y = log sigma(x) = min(x, 0) - log(1 + e^-|x|); gx = gy sigma(-x)
Variable log_sigmoid(const Variable& x) {
  return detail::unary({"log_sigmoid", "log_sigmoid_backward", Unary::LogSigmoid, false, log_sigmoid_second}, x);
}

// softplus: y = log(1 + e^(beta x)) / beta; gx = gy sigma(beta x)
Variable softplus(const Variable& x, double beta) {
  if (!(beta > 0)) throw ValueError(detail::cat("softplus: beta must be positive, got ", beta));
  return detail::unary({"softplus", "softplus_backward", Unary::Softplus, false, softplus_second, beta}, x);
}

// softsign: y = x / (1 + |x|); gx = gy / (1 + |x|)^2
Variable softsign(const Variable& x) {
  return detail::unary({"softsign", "softsign_backward", Unary::Softsign, false, softsign_second}, x);
}

// tanh_shrink: y = x - tanh x; gx = gy tanh^2 x
Variable tanh_shrink(const Variable& x) {
  return detail::unary({"tanh_shrink", "tanh_shrink_backward", Unary::TanhShrink, false, tanh_shrink_second}, x);
}

// sinc: y = sin x / x (1 at 0); gx = gy (x cos x - sin x) / x^2 (0 at 0)
Variable sinc(const Variable& x) {
  return detail::unary({"sinc", "sinc_backward", Unary::Sinc, false, sinc_second}, x);
}

namespace {
// softmax_backward / log_softmax_backward: gx = y (gy - sum(gy y)) or gy - e^y sum(gy), along axis.
// Linear in gy; both parts of its own rule are written with ops.
Variable softmax_backward(const Variable& gy, const Variable& y, int64_t axis, bool log) {
  const char* name = log ? "log_softmax_backward" : "softmax_backward";
  return record(name, {gy, y}, kernels::softmax_grad(gy.value(), y.value(), axis, log), kSavesInputs,
                [axis, log](const Ctx& c) {
                  const Variable &g = c.gy(), &gy = c.in(0), &y = c.in(1);
                  Variable g_gy, g_y;
                  // softmax's Jacobian diag(y) - y y^T is symmetric, so g_gy is the same op;
                  // log_softmax's I - e^y 1^T is not: its transpose gives g - sum(g e^y).
                  if (c.needs(0))
                    g_gy = log ? sub2(g, sum(mul2(g, exp(y)), {axis}, true)) : softmax_backward(g, y, axis, false);
                  if (c.needs(1)) {
                    if (log) {  // d/dy [-e^y sum(gy)] = -e^y sum(gy)
                      g_y = mul_scalar(mul2(mul2(g, exp(y)), sum(gy, {axis}, true)), -1.0);
                    } else {  // d/dy_k [y_i (gy_i - s)] contracted with g: g_k (gy_k - s) - gy_k sum(g y)
                      Variable s = sum(mul2(gy, y), {axis}, true);
                      g_y = sub2(mul2(g, sub2(gy, s)), mul2(gy, sum(mul2(g, y), {axis}, true)));
                    }
                  }
                  return grads(g_gy, g_y);
                });
}

Variable softmax_op(const char* name, const Variable& x, int64_t axis, bool log) {
  check::floating(name, "x", x);
  if (x.ndim() == 0) throw ValueError(detail::cat(name, ": x must have at least one dimension, got shape ()"));
  const int64_t a = normalize_axis(name, axis, x.ndim());
  return record(name, {x}, kernels::softmax(x.value(), a, log), kSavesOutput,
                [a, log](const Ctx& c) { return grads(softmax_backward(c.gy(), c.out(), a, log)); });
}
}  // namespace

// softmax: y = e^x / sum e^x along axis; gx = softmax_backward(gy, y) = y (gy - sum(gy y))
Variable softmax(const Variable& x, int64_t axis) { return softmax_op("softmax", x, axis, false); }

// log_softmax: y = x - logsumexp(x) along axis; gx = log_softmax_backward(gy, y) = gy - e^y sum(gy)
Variable log_softmax(const Variable& x, int64_t axis) { return softmax_op("log_softmax", x, axis, true); }

// crelu: y = [relu(x), relu(-x)] along axis; gx = gy0 [x > 0] - gy1 [x <= 0]   (nnabla's -gy1 at 0)
Variable crelu(const Variable& x, int64_t axis) {
  const int64_t a = concat_axis("crelu", x, axis);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = concatenate({relu(x), relu(neg(x))}, a).value();
  }
  return record("crelu", {x}, y, saves_input(0), [a](const Ctx& c) {
    const Variable& x = c.in(0);
    const int64_t n = x.shape()[a];
    SliceIndex start(x.ndim()), stop(x.ndim());
    start[a] = 0;
    stop[a] = n;
    Variable g0 = slice(c.gy(), start, stop, {});
    start[a] = n;
    stop[a] = 2 * n;
    Variable g1 = slice(c.gy(), start, stop, {});
    return grads(sub2(mul2(g0, greater_scalar(x, 0.0)), mul2(g1, less_equal_scalar(x, 0.0))));
  });
}

// celu: y = [elu(x, alpha), elu(-x, alpha)] along axis (composed: each part keeps elu's rule)
Variable celu(const Variable& x, double alpha, int64_t axis) {
  const int64_t a = concat_axis("celu", x, axis);
  return concatenate({elu(x, alpha), elu(neg(x), alpha)}, a);
}

// prelu: y = x0 >= 0 ? x0 : w x0 (composed: where routes gy to x0 or to w x0, so
// gx0 = gy (x0 >= 0 ? 1 : w) and gw = sum of gy x0 over x0 < 0, as nnabla)
Variable prelu(const Variable& x0, const Variable& x1, int64_t base_axis) {
  check::floating("prelu", "x0", x0);
  check::floating("prelu", "x1", x1);
  Variable w;
  if (x1.numel() == 1) {
    w = reshape(x1, {});
  } else {
    if (base_axis < 0 || base_axis >= x0.ndim())
      throw IndexError(detail::cat("prelu: base_axis ", base_axis, " is out of range for x0 of shape ",
                                   shape_str(x0.shape())));
    const int64_t channels = x0.shape()[base_axis];
    if (x1.ndim() != 1 || x1.numel() != channels)
      throw ValueError(detail::cat("prelu: x1 of shape ", shape_str(x1.shape()), " must have 1 element or shape (",
                                   channels, ",) for x0 of shape ", shape_str(x0.shape()), " and base_axis=",
                                   base_axis));
    Shape ws(x0.ndim() - base_axis, 1);
    ws[0] = channels;
    w = reshape(x1, ws);
  }
  return where(greater_equal_scalar(x0, 0.0), x0, mul2(x0, w));
}

}  // namespace nthgrad
