#pragma once
// Helpers for the elementwise op pattern: check -> kernel -> record with a
// rule written in ops.
#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "ops/detail/check.h"

namespace nthgrad::detail {

// y = f(x) with gx = gy * dydx(x, y); dydx is written with ops.
template <typename DyDx>
Variable unary(const char* name, const Variable& x, kernels::Unary kernel, DyDx dydx) {
  check::floating(name, "x", x);
  return record(name, {x}, kernels::unary(kernel, x.value()),
                [dydx](const Ctx& c) { return grads(mul2(c.gy(), dydx(c.in(0), c.out(0)))); });
}

// y = x (op) val with a rule written with ops.
inline Variable with_scalar(const char* name, const Variable& x, double val, kernels::WithScalar kernel, Rule rule) {
  check::floating(name, "x", x);
  return record(name, {x}, kernels::with_scalar(kernel, x.value(), val), std::move(rule));
}

// y = x0 (op) x1 with NumPy broadcasting and dtype promotion.
inline Variable binary(const char* name, const Variable& x0, const Variable& x1, kernels::Binary kernel, Rule rule) {
  check::defined(name, "x0", x0);
  check::defined(name, "x1", x1);
  auto [a, b] = check::promote(name, x0, x1);
  broadcast_shapes(name, "x0", a.shape(), "x1", b.shape());
  return record(name, {a, b}, kernels::binary(kernel, a.value(), b.value()), std::move(rule));
}

}  // namespace nthgrad::detail
