// Arithmetic ops (technical note section 7). Every rule is written with ops;
// broadcast inputs get their gradient back through sum_to. While a backward
// pass records, the elementwise ones on equal shapes become one polynomial
// node instead (ops/detail/polynomial.h: lean derivative graphs).
#include "nthgrad/ops/arithmetic.h"

#include <cmath>
#include <cstring>

#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/elementwise.h"
#include "ops/detail/polynomial.h"

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
  if (auto lean = detail::lean_sum(x0, x1, 1.0)) return *lean;
  return detail::binary("add2", x0, x1, Binary::Add, kSavesNothing, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(c.gy(), c.in_shape(0));
    if (c.needs(1)) gx1 = sum_to(c.gy(), c.in_shape(1));
    return grads(gx0, gx1);
  });
}

// sub2: y = x0 - x1; gx0 = sum_to(gy), gx1 = -sum_to(gy)
Variable sub2(const Variable& x0, const Variable& x1) {
  if (auto lean = detail::lean_sum(x0, x1, -1.0)) return *lean;
  return detail::binary("sub2", x0, x1, Binary::Sub, kSavesNothing, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(c.gy(), c.in_shape(0));
    if (c.needs(1)) gx1 = mul_scalar(sum_to(c.gy(), c.in_shape(1)), -1.0);
    return grads(gx0, gx1);
  });
}

// mul2: y = x0 * x1; gx0 = sum_to(gy * x1), gx1 = sum_to(gy * x0)
Variable mul2(const Variable& x0, const Variable& x1) {
  if (auto lean = detail::lean_product(x0, x1)) return *lean;
  // Each input's gradient reads the other: keep x0 only if x1 may need a gradient, and vice versa.
  const Saved saved{(x1.requires_grad() ? 1u : 0u) | (x0.requires_grad() ? 2u : 0u), 0};
  return detail::binary("mul2", x0, x1, Binary::Mul, saved, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(mul2(c.gy(), c.in(1)), c.in_shape(0));
    if (c.needs(1)) gx1 = sum_to(mul2(c.gy(), c.in(0)), c.in_shape(1));
    return grads(gx0, gx1);
  });
}

// div2: y = x0 / x1; gx0 = sum_to(gy / x1), gx1 = sum_to(-gy * x0 / x1^2)
Variable div2(const Variable& x0, const Variable& x1) {
  // gx0 reads x1, gx1 reads both: keep x0 only if x1 may need a gradient.
  const Saved saved{(x1.requires_grad() ? 1u : 0u) | 2u, 0};
  return detail::binary("div2", x0, x1, Binary::Div, saved, [](const Ctx& c) {
    Variable gx0, gx1;
    if (c.needs(0)) gx0 = sum_to(div2(c.gy(), c.in(1)), c.in_shape(0));
    if (c.needs(1))
      gx1 = sum_to(mul_scalar(div2(mul2(c.gy(), c.in(0)), pow_scalar(c.in(1), 2.0)), -1.0), c.in_shape(1));
    return grads(gx0, gx1);
  });
}

// pow2: y = x0 ^ x1; gx0 = sum_to(gy * x1 * x0^(x1-1)), gx1 = sum_to(gy * y * log x0).
// At base 0 the limits are taken, as PyTorch: the x1 term uses log of a safe
// base (1 where x0 = 0, so y * log = 0 and no 0 * inf reaches any order), and
// x0^(x1-1) becomes x0^0 where x1 = 0 (so x1 * x0^(x1-1) = 0, not 0 * inf).
Variable pow2(const Variable& x0, const Variable& x1) {
  return detail::binary("pow2", x0, x1, Binary::Pow, kSavesInputs | kSavesOutput, [](const Ctx& c) {
    const Variable &x0 = c.in(0), &x1 = c.in(1);
    Variable gx0, gx1;
    if (c.needs(0)) {
      Variable exponent = add2(add_scalar(x1, -1.0), equal_scalar(x1, 0.0));
      gx0 = sum_to(mul2(c.gy(), mul2(x1, pow2(x0, exponent))), c.in_shape(0));
    }
    if (c.needs(1)) {
      Variable safe_base = add2(x0, equal_scalar(x0, 0.0));
      gx1 = sum_to(mul2(c.gy(), mul2(c.out(), log(safe_base))), c.in_shape(1));
    }
    return grads(gx0, gx1);
  });
}

// add_scalar: y = x + val; gx = gy
Variable add_scalar(const Variable& x, double val) {
  if (auto lean = detail::lean_affine(x, 1.0, val)) return *lean;
  return detail::with_scalar("add_scalar", x, val, WithScalar::Add, kSavesNothing,
                             [](const Ctx& c) { return grads(c.gy()); });
}

// mul_scalar: y = val * x; gx = val * gy
Variable mul_scalar(const Variable& x, double val) {
  if (auto lean = detail::lean_affine(x, val, 0.0)) return *lean;
  return detail::with_scalar("mul_scalar", x, val, WithScalar::Mul, kSavesNothing,
                             [val](const Ctx& c) { return grads(mul_scalar(c.gy(), val)); });
}

// pow_scalar: y = x ^ val; gx = gy * val * x^(val-1)   (val = 0: gx = 0 * gy, avoiding 0 * x^-1 = NaN at 0;
// val = 1 still goes through x^0 so that higher orders stay connected to x and end in a real zero)
Variable pow_scalar(const Variable& x, double val) {
  if (auto lean = detail::lean_power(x, val)) return *lean;
  return detail::with_scalar("pow_scalar", x, val, WithScalar::Pow, saves_input(0), [val](const Ctx& c) {
    if (val == 0.0) return grads(mul_scalar(c.gy(), 0.0));
    return grads(mul2(c.gy(), mul_scalar(pow_scalar(c.in(0), val - 1.0), val)));
  });
}

// r_sub_scalar: y = val - x; gx = -gy
Variable r_sub_scalar(const Variable& x, double val) {
  if (auto lean = detail::lean_affine(x, -1.0, val)) return *lean;
  return detail::with_scalar("r_sub_scalar", x, val, WithScalar::RSub, kSavesNothing,
                             [](const Ctx& c) { return grads(mul_scalar(c.gy(), -1.0)); });
}

// r_div_scalar: y = val / x; gx = -gy * y / x
Variable r_div_scalar(const Variable& x, double val) {
  return detail::with_scalar("r_div_scalar", x, val, WithScalar::RDiv, saves_input(0) | kSavesOutput, [](const Ctx& c) {
    return grads(mul_scalar(div2(mul2(c.gy(), c.out()), c.in(0)), -1.0));
  });
}

// r_pow_scalar: y = val ^ x; gx = gy * y * ln(val)   (val = 0: y is constant a.e., gx = 0, not 0 * -inf)
Variable r_pow_scalar(const Variable& x, double val) {
  return detail::with_scalar("r_pow_scalar", x, val, WithScalar::RPow, kSavesOutput, [val](const Ctx& c) {
    if (val == 0.0) return grads(mul_scalar(c.gy(), 0.0));
    return grads(mul_scalar(mul2(c.gy(), c.out()), std::log(val)));
  });
}

namespace {
// Checks the inputs of add_n / mul_n and brings them to one dtype (float64
// if any is, as the binary ops promote).
VariableList check_n_ary(const char* op, const VariableList& x) {
  if (x.empty()) throw ValueError(detail::cat(op, ": needs at least one input"));
  bool f64 = false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::string arg = detail::cat("x[", i, "]");
    check::floating(op, arg.c_str(), x[i]);
    check::same_shape(op, "x[0]", x[0], arg.c_str(), x[i]);
    f64 = f64 || x[i].dtype() == DType::Float64;
  }
  VariableList out;
  for (const Variable& v : x) out.push_back(f64 && v.dtype() != DType::Float64 ? cast(v, DType::Float64) : v);
  return out;
}
}  // namespace

// add_n: y = sum_i x_i; gx_i = gy
Variable add_n(const VariableList& inputs) {
  const VariableList x = check_n_ary("add_n", inputs);
  Tensor y = x[0].value();
  for (std::size_t i = 1; i < x.size(); ++i) y = kernels::binary(Binary::Add, y, x[i].value());
  if (x.size() == 1) y = kernels::unary(kernels::Unary::Copy, y);
  return record("add_n", x, y, kSavesNothing, [](const Ctx& c) { return VariableList(c.num_inputs(), c.gy()); });
}

// mul_n: y = prod_i x_i; gx_i = gy * prod_{j != i} x_j
Variable mul_n(const VariableList& inputs) {
  const VariableList x = check_n_ary("mul_n", inputs);
  Tensor y = x[0].value();
  for (std::size_t i = 1; i < x.size(); ++i) y = kernels::binary(Binary::Mul, y, x[i].value());
  if (x.size() == 1) y = kernels::unary(kernels::Unary::Copy, y);
  return record("mul_n", x, y, kSavesInputs, [](const Ctx& c) {
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

// add_: x += alpha * other in place
void add_(Variable& x, const Variable& other, double alpha) {
  check::floating("add_", "x", x);
  check::in_place_leaf("add_", x);
  check::floating("add_", "other", other);
  check::same_shape("add_", "x", x, "other", other);
  check::prepare_in_place("add_", "x", x);
  Tensor y = x.value();
  Tensor o = other.dtype() == x.dtype() ? other.value() : kernels::cast(other.value(), x.dtype());
  kernels::add_into(y, o, alpha);
}

// copy_: x = src in place (loading a state dict, initializers), any dtype but bool from or into others
void copy_(Variable& x, const Variable& src) {
  check::in_place_leaf("copy_", x);
  check::defined("copy_", "src", src);
  check::same_shape("copy_", "x", x, "src", src);
  if ((src.dtype() == DType::Bool) != (x.dtype() == DType::Bool))
    throw TypeError(detail::cat("copy_: src is ", dtype_name(src.dtype()), " but x is ", dtype_name(x.dtype()),
                                " (shape ", shape_str(x.shape()), "); only bool copies into bool"));
  Tensor o = src.dtype() == x.dtype() ? src.value() : kernels::cast(src.value(), x.dtype());
  if (o.storage() == x.value().storage()) return;  // x's own memory
  check::prepare_in_place("copy_", "x", x);
  if (x.numel() > 0)
    std::memcpy(x.value().raw_data(), o.raw_data(), static_cast<std::size_t>(x.numel()) * itemsize(x.dtype()));
}

Variable operator+(const Variable& a, const Variable& b) { return add2(a, b); }
Variable operator-(const Variable& a, const Variable& b) { return sub2(a, b); }
Variable operator*(const Variable& a, const Variable& b) { return mul2(a, b); }
Variable operator/(const Variable& a, const Variable& b) { return div2(a, b); }
Variable operator-(const Variable& a) {
  check::defined("neg", "x", a);
  if (a.dtype() == DType::Int64)  // integers negate too, as constants
    return record_nondiff(kernels::binary(Binary::Sub, Tensor::zeros({}, DType::Int64), a.value()));
  return mul_scalar(a, -1.0);
}
Variable operator+(const Variable& a, double b) { return add_scalar(a, b); }
Variable operator+(double a, const Variable& b) { return add_scalar(b, a); }
Variable operator-(const Variable& a, double b) { return add_scalar(a, -b); }
Variable operator-(double a, const Variable& b) { return r_sub_scalar(b, a); }
Variable operator*(const Variable& a, double b) { return mul_scalar(a, b); }
Variable operator*(double a, const Variable& b) { return mul_scalar(b, a); }
Variable operator/(const Variable& a, double b) { return div2(a, constant(b, {}, a.dtype())); }
Variable operator/(double a, const Variable& b) { return r_div_scalar(b, a); }

}  // namespace nthgrad
