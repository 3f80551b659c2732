// Arithmetic ops (technical note section 7). Every rule is written with ops;
// broadcast inputs get their gradient back through sum_to.
#include "nthgrad/ops/arithmetic.h"

#include <cmath>

#include "nthgrad/ops/array.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using kernels::Binary;
using kernels::WithScalar;

namespace check {
std::pair<Variable, Variable> promote(const char* op, const Variable& x0, const Variable& x1) {
  DType a = x0.dtype(), b = x1.dtype();
  if (a == b && is_floating(a)) return {x0, x1};
  if (!is_floating(a) && !is_floating(b))
    throw TypeError(detail::cat(op, ": arguments x0 and x1 are ", dtype_name(a), " and ", dtype_name(b),
                                "; at least one must be float32 or float64"));
  DType to = !is_floating(a) ? b : !is_floating(b) ? a : DType::Float64;
  return {a == to ? x0 : cast(x0, to), b == to ? x1 : cast(x1, to)};
}
}  // namespace check

// add2: y = x0 + x1; gx0 = sum_to(gy), gx1 = sum_to(gy)
Variable add2(const Variable& x0, const Variable& x1) {
  return detail::binary("add2", x0, x1, Binary::Add, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(c.gy(), c.in(0).shape());
    if (c.needs(1)) gx1 = sum_to(c.gy(), c.in(1).shape());
    return grads(gx0, gx1);
  });
}

// sub2: y = x0 - x1; gx0 = sum_to(gy), gx1 = -sum_to(gy)
Variable sub2(const Variable& x0, const Variable& x1) {
  return detail::binary("sub2", x0, x1, Binary::Sub, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(c.gy(), c.in(0).shape());
    if (c.needs(1)) gx1 = mul_scalar(sum_to(c.gy(), c.in(1).shape()), -1.0);
    return grads(gx0, gx1);
  });
}

// mul2: y = x0 * x1; gx0 = sum_to(gy * x1), gx1 = sum_to(gy * x0)
Variable mul2(const Variable& x0, const Variable& x1) {
  return detail::binary("mul2", x0, x1, Binary::Mul, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(mul2(c.gy(), c.in(1)), c.in(0).shape());
    if (c.needs(1)) gx1 = sum_to(mul2(c.gy(), c.in(0)), c.in(1).shape());
    return grads(gx0, gx1);
  });
}

// div2: y = x0 / x1; gx0 = sum_to(gy / x1), gx1 = sum_to(-gy * x0 / x1^2)
Variable div2(const Variable& x0, const Variable& x1) {
  return detail::binary("div2", x0, x1, Binary::Div, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(div2(c.gy(), c.in(1)), c.in(0).shape());
    if (c.needs(1))
      gx1 = sum_to(mul_scalar(div2(mul2(c.gy(), c.in(0)), pow_scalar(c.in(1), 2.0)), -1.0), c.in(1).shape());
    return grads(gx0, gx1);
  });
}

// pow2: y = x0 ^ x1; gx0 = sum_to(gy * x1 * x0^(x1-1)), gx1 = sum_to(gy * y * log x0)
Variable pow2(const Variable& x0, const Variable& x1) {
  return detail::binary("pow2", x0, x1, Binary::Pow, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0))
      gx0 = sum_to(mul2(c.gy(), mul2(c.in(1), pow2(c.in(0), add_scalar(c.in(1), -1.0)))), c.in(0).shape());
    if (c.needs(1)) gx1 = sum_to(mul2(c.gy(), mul2(c.out(), log(c.in(0)))), c.in(1).shape());
    return grads(gx0, gx1);
  });
}

// add_scalar: y = x + val; gx = gy
Variable add_scalar(const Variable& x, double val) {
  return detail::with_scalar("add_scalar", x, val, WithScalar::Add, [](const Ctx& c) { return grads(c.gy()); });
}

// mul_scalar: y = val * x; gx = val * gy
Variable mul_scalar(const Variable& x, double val) {
  return detail::with_scalar("mul_scalar", x, val, WithScalar::Mul,
                             [val](const Ctx& c) { return grads(mul_scalar(c.gy(), val)); });
}

// pow_scalar: y = x ^ val; gx = gy * val * x^(val-1)   (val = 0: gx = 0 * gy, avoiding 0 * x^-1 = NaN at 0;
// val = 1 still goes through x^0 so that higher orders stay connected to x)
Variable pow_scalar(const Variable& x, double val) {
  return detail::with_scalar("pow_scalar", x, val, WithScalar::Pow, [val](const Ctx& c) {
    if (val == 0.0) return grads(mul_scalar(c.gy(), 0.0));
    return grads(mul2(c.gy(), mul_scalar(pow_scalar(c.in(0), val - 1.0), val)));
  });
}

// r_sub_scalar: y = val - x; gx = -gy
Variable r_sub_scalar(const Variable& x, double val) {
  return detail::with_scalar("r_sub_scalar", x, val, WithScalar::RSub,
                             [](const Ctx& c) { return grads(mul_scalar(c.gy(), -1.0)); });
}

// r_div_scalar: y = val / x; gx = -gy * y / x
Variable r_div_scalar(const Variable& x, double val) {
  return detail::with_scalar("r_div_scalar", x, val, WithScalar::RDiv, [](const Ctx& c) {
    return grads(mul_scalar(div2(mul2(c.gy(), c.out()), c.in(0)), -1.0));
  });
}

// r_pow_scalar: y = val ^ x; gx = gy * y * ln(val)
Variable r_pow_scalar(const Variable& x, double val) {
  return detail::with_scalar("r_pow_scalar", x, val, WithScalar::RPow, [val](const Ctx& c) {
    return grads(mul_scalar(mul2(c.gy(), c.out()), std::log(val)));
  });
}

namespace {
void check_n_ary(const char* op, const VariableList& x) {
  if (x.empty()) throw ValueError(detail::cat(op, ": needs at least one input"));
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::string arg = detail::cat("x[", i, "]");
    check::floating(op, arg.c_str(), x[i]);
    if (x[i].dtype() != x[0].dtype())
      throw TypeError(detail::cat(op, ": x[", i, "] is ", dtype_name(x[i].dtype()), " but x[0] is ",
                                  dtype_name(x[0].dtype())));
    check::same_shape(op, "x[0]", x[0], arg.c_str(), x[i]);
  }
}
}  // namespace

// add_n: y = sum_i x_i; gx_i = gy
Variable add_n(const VariableList& x) {
  check_n_ary("add_n", x);
  Tensor y = x[0].value();
  for (std::size_t i = 1; i < x.size(); ++i) y = kernels::binary(Binary::Add, y, x[i].value());
  if (x.size() == 1) y = kernels::unary(kernels::Unary::Copy, y);
  return record("add_n", x, y, [](const Ctx& c) { return VariableList(c.num_inputs(), c.gy()); });
}

// mul_n: y = prod_i x_i; gx_i = gy * prod_{j != i} x_j
Variable mul_n(const VariableList& x) {
  check_n_ary("mul_n", x);
  Tensor y = x[0].value();
  for (std::size_t i = 1; i < x.size(); ++i) y = kernels::binary(Binary::Mul, y, x[i].value());
  if (x.size() == 1) y = kernels::unary(kernels::Unary::Copy, y);
  return record("mul_n", x, y, [](const Ctx& c) {
    VariableList gx(c.num_inputs());
    for (std::size_t i = 0; i < gx.size(); ++i) {
      if (!c.needs(i)) continue;
      gx[i] = c.gy();
      for (std::size_t j = 0; j < gx.size(); ++j)
        if (j != i) gx[i] = mul2(gx[i], c.in(j));
    }
    return gx;
  });
}

Variable operator+(const Variable& a, const Variable& b) { return add2(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub2(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul2(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div2(a, b); }
Variable operator-(const Variable& a) { return mul_scalar(a, -1.0); }
Variable operator+(const Variable& a, double b) { return add_scalar(a, b); }
Variable operator+(double a, const Variable& b) { return add_scalar(b, a); }
Variable operator-(const Variable& a, double b) { return add_scalar(a, -b); }
Variable operator-(double a, const Variable& b) { return r_sub_scalar(b, a); }
Variable operator*(const Variable& a, double b) { return mul_scalar(a, b); }
Variable operator*(double a, const Variable& b) { return mul_scalar(b, a); }
Variable operator/(const Variable& a, double b) { return mul_scalar(a, 1.0 / b); }
Variable operator/(double a, const Variable& b) { return r_div_scalar(b, a); }

}  // namespace nthgrad
