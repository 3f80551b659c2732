// Elementwise math (technical note section 9) and the scalar comparisons
// (section 8) that rules use as masks.
#include "nthgrad/ops/math.h"

#include "nthgrad/ops/activation.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using kernels::Unary;
using kernels::WithScalar;

// exp: y = e^x; gx = gy * y
Variable exp(const Variable& x) {
  return detail::unary("exp", x, Unary::Exp, [](const Variable&, const Variable& y) { return y; });
}

// log: y = ln x; gx = gy / x
Variable log(const Variable& x) {
  check::floating("log", "x", x);
  return record("log", {x}, kernels::unary(Unary::Log, x.value()),
                [](const Ctx& c) { return grads(div2(c.gy(), c.in(0))); });
}

// sin: y = sin x; gx = gy * cos x
Variable sin(const Variable& x) {
  return detail::unary("sin", x, Unary::Sin, [](const Variable& x, const Variable&) { return cos(x); });
}

// cos: y = cos x; gx = gy * (-sin x)
Variable cos(const Variable& x) {
  return detail::unary("cos", x, Unary::Cos,
                       [](const Variable& x, const Variable&) { return mul_scalar(sin(x), -1.0); });
}

// abs: y = |x|; gx = gy * (2 * [x >= 0] - 1)   (+1 at 0, as nnabla)
Variable abs(const Variable& x) {
  return detail::unary("abs", x, Unary::Abs, [](const Variable& x, const Variable&) {
    return add_scalar(mul_scalar(greater_equal_scalar(x, 0.0), 2.0), -1.0);
  });
}

// identity: y = x (a copy); gx = gy
Variable identity(const Variable& x) {
  check::floating("identity", "x", x);
  return record("identity", {x}, kernels::unary(Unary::Copy, x.value()), [](const Ctx& c) { return grads(c.gy()); });
}

// cast: y = x as dtype; gx = gy cast back to x's dtype
Variable cast(const Variable& x, DType dtype) {
  check::defined("cast", "x", x);
  Tensor y = kernels::cast(x.value(), dtype);
  if (!is_floating(dtype)) return record_nondiff(y);
  return record("cast", {x}, y, [](const Ctx& c) {
    if (!is_floating(c.in(0).dtype())) return grads(Variable());
    return grads(cast(c.gy(), c.in(0).dtype()));
  });
}

namespace {
Variable compare(const char* name, const Variable& x, double val, WithScalar kernel) {
  check::floating(name, "x0", x);
  return record_nondiff(kernels::with_scalar(kernel, x.value(), val));
}
}  // namespace

Variable greater_scalar(const Variable& x0, double val) {
  return compare("greater_scalar", x0, val, WithScalar::Greater);
}
Variable greater_equal_scalar(const Variable& x0, double val) {
  return compare("greater_equal_scalar", x0, val, WithScalar::GreaterEqual);
}
Variable less_scalar(const Variable& x0, double val) { return compare("less_scalar", x0, val, WithScalar::Less); }
Variable less_equal_scalar(const Variable& x0, double val) {
  return compare("less_equal_scalar", x0, val, WithScalar::LessEqual);
}
Variable equal_scalar(const Variable& x0, double val) { return compare("equal_scalar", x0, val, WithScalar::Equal); }
Variable not_equal_scalar(const Variable& x0, double val) {
  return compare("not_equal_scalar", x0, val, WithScalar::NotEqual);
}

}  // namespace nthgrad
