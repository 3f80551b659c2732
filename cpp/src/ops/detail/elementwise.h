#pragma once
// Helpers for the elementwise op pattern: check -> kernel -> record with a
// rule written in ops.
#include "autograd/lean.h"
#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "ops/detail/check.h"

namespace nthgrad::detail {

// An elementwise function y = f(x) whose first-order backward is one fused
// kernel: gx = f_backward(gy, z) = gy * f'(z), with z = y where f' is
// cheapest in the output (tanh: 1 - y^2) and z = x elsewhere. f_backward is
// an op of its own (named "<f>_backward"), so a plain backward() runs one
// kernel per op and create_graph=True records one node per op. Its rule:
//   g_gy = f_backward(g, z)                 (linear in gy)
//   g_z  = g * gy * d f'(z)/dz              (`second`, written with ops)
// so every order follows.
struct UnaryFn {
  const char* name;
  const char* backward_name;
  kernels::Unary kernel;
  bool derivative_in_output;  // z = y rather than x
  // d f'(z) / dz with ops; nullptr where f' is piecewise constant (relu...).
  Variable (*second)(const Variable& z, double a, double b) = nullptr;
  double a = 0, b = 0;  // the op's parameters (alpha, beta, ...)
};

Variable unary(const UnaryFn& f, const Variable& x);
Variable unary_backward(const UnaryFn& f, const Variable& gy, const Variable& z);

// y = f(x) with gx = gy * dydx(c), dydx reading what `saved` names; for
// functions whose derivative is one cheap op already (exp: y, sin: cos x).
template <typename DyDx>
Variable unary_composed(const char* name, const Variable& x, kernels::Unary kernel, Saved saved, DyDx dydx) {
  check::floating(name, "x", x);
  lean::Memo memo(name, {x});  // lean derivative graphs: cos(x) recorded once
  if (auto hit = memo.find()) return *hit;
  return memo.remember(record(name, {x}, kernels::unary(kernel, x.value()), saved,
                              [dydx](const Ctx& c) { return grads(mul2(c.gy(), dydx(c))); }));
}

// y = x (op) val with a rule written with ops.
inline Variable with_scalar(const char* name, const Variable& x, double val, kernels::WithScalar kernel, Saved saved,
                            Rule rule) {
  check::floating(name, "x", x);
  return record(name, {x}, kernels::with_scalar(kernel, x.value(), val), saved, std::move(rule));
}

// y = x0 (op) x1 with NumPy broadcasting and dtype promotion.
inline Variable binary(const char* name, const Variable& x0, const Variable& x1, kernels::Binary kernel, Saved saved,
                       Rule rule) {
  check::defined(name, "x0", x0);
  check::defined(name, "x1", x1);
  auto [a, b] = check::promote(name, x0, x1);
  broadcast_shapes(name, "x0", a.shape(), "x1", b.shape());
  return record(name, {a, b}, kernels::binary(kernel, a.value(), b.value()), saved, std::move(rule));
}

}  // namespace nthgrad::detail
