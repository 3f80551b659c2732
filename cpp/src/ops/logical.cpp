// Logical and comparison ops (technical note section 8): sign, the minimum /
// maximum family, comparisons, logical ops, where, and the NaN/inf masks.
// Comparisons and logical ops are constants of the graph (record_nondiff):
// their output never requires grad, as nnabla's have no gradient.
#include "nthgrad/ops/logical.h"

#include "nthgrad/ops/array.h"
#include "nthgrad/ops/math.h"
#include "ops/detail/elementwise.h"

namespace nthgrad {

using kernels::Binary;
using kernels::Unary;
using kernels::WithScalar;

namespace {

// The float dtype a comparison of these dtypes answers in.
DType answer_dtype(DType a, DType b) {
  if (is_floating(a) && is_floating(b)) return a == DType::Float64 || b == DType::Float64 ? DType::Float64 : DType::Float32;
  if (is_floating(a)) return a;
  if (is_floating(b)) return b;
  return DType::Float32;
}

// x0 (op) x1 -> 0/1, inputs of any dtype, broadcast.
Variable compare(const char* name, const Variable& x0, const Variable& x1, Binary op) {
  check::defined(name, "x0", x0);
  check::defined(name, "x1", x1);
  broadcast_shapes(name, "x0", x0.shape(), "x1", x1.shape());
  const DType out = answer_dtype(x0.dtype(), x1.dtype());
  Tensor a = x0.value(), b = x1.value();
  if (a.dtype() != b.dtype()) {  // compare in one dtype: the float one, or int64 for int64 with bool
    const DType common = is_floating(a.dtype()) || is_floating(b.dtype()) ? out : DType::Int64;
    if (a.dtype() != common) a = kernels::cast(a, common);
    if (b.dtype() != common) b = kernels::cast(b, common);
  }
  return record_nondiff(kernels::compare(op, a, b, out));
}

// x0 as a float tensor for the scalar kernels: itself, or (ints, bools) as
// float64 so that large integers compare exactly.
Tensor as_float(const Variable& x0) {
  return is_floating(x0.dtype()) ? x0.value() : kernels::cast(x0.value(), DType::Float64);
}

// x0 (op) val -> 0/1 in x0's float dtype (float32 for ints and bools).
Variable compare_scalar(const char* name, const Variable& x0, double val, WithScalar op) {
  check::defined(name, "x0", x0);
  Tensor y = kernels::with_scalar(op, as_float(x0), val);
  if (!is_floating(x0.dtype())) y = kernels::cast(y, DType::Float32);
  return record_nondiff(y);
}

// A 0/1 (or replacement) function of one input, no gradient.
Variable mask(const char* name, const Variable& x0, Unary op) {
  check::defined(name, "x0", x0);
  Tensor y = kernels::unary(op, as_float(x0));
  if (!is_floating(x0.dtype())) y = kernels::cast(y, DType::Float32);
  return record_nondiff(y);
}

}  // namespace

// sign: y = 1 / -1 / alpha at 0; gx = gy (straight-through, nnabla) or nothing (ste = false)
Variable sign(const Variable& x, double alpha, bool ste) {
  check::floating("sign", "x", x);
  Tensor y = kernels::unary(Unary::Sign, x.value(), alpha);
  if (!ste) return record_nondiff(y);
  return record("sign", {x}, y, kSavesNothing, [](const Ctx& c) { return grads(c.gy()); });
}

namespace {
// maximum2 / minimum2: gx0 = gy [x0 wins], gx1 = gy [x1 wins or ties]   (ties -> x1, nnabla)
Variable extremum2(const char* name, const Variable& x0, const Variable& x1, kernels::Binary kernel,
                   Variable (*x0_wins)(const Variable&, const Variable&),
                   Variable (*x1_wins)(const Variable&, const Variable&)) {
  return detail::binary(name, x0, x1, kernel, kSavesInputs, [x0_wins, x1_wins](const Ctx& c) {
    Variable ga, gb;
    if (c.needs(0)) ga = sum_to(mul2(c.gy(), x0_wins(c.in(0), c.in(1))), c.in_shape(0));
    if (c.needs(1)) gb = sum_to(mul2(c.gy(), x1_wins(c.in(0), c.in(1))), c.in_shape(1));
    return grads(ga, gb);
  });
}
}  // namespace

// maximum2: y = max(x0, x1); gx0 = gy [x0 > x1], gx1 = gy [x0 <= x1]
Variable maximum2(const Variable& x0, const Variable& x1) {
  return extremum2("maximum2", x0, x1, Binary::Maximum, greater, less_equal);
}

// minimum2: y = min(x0, x1); gx0 = gy [x0 < x1], gx1 = gy [x0 >= x1]
Variable minimum2(const Variable& x0, const Variable& x1) {
  return extremum2("minimum2", x0, x1, Binary::Minimum, less, greater_equal);
}

// maximum_scalar: y = max(x, val); gx = gy [x > val]   (0 at the tie, nnabla)
Variable maximum_scalar(const Variable& x, double val) {
  return detail::with_scalar("maximum_scalar", x, val, WithScalar::Maximum, saves_input(0), [val](const Ctx& c) {
    return grads(mul2(c.gy(), greater_scalar(c.in(0), val)));
  });
}

// minimum_scalar: y = min(x, val); gx = gy [x < val]   (0 at the tie, nnabla)
Variable minimum_scalar(const Variable& x, double val) {
  return detail::with_scalar("minimum_scalar", x, val, WithScalar::Minimum, saves_input(0), [val](const Ctx& c) {
    return grads(mul2(c.gy(), less_scalar(c.in(0), val)));
  });
}

Variable logical_and(const Variable& x0, const Variable& x1) { return compare("logical_and", x0, x1, Binary::LogicalAnd); }
Variable logical_or(const Variable& x0, const Variable& x1) { return compare("logical_or", x0, x1, Binary::LogicalOr); }
Variable logical_xor(const Variable& x0, const Variable& x1) { return compare("logical_xor", x0, x1, Binary::LogicalXor); }
Variable equal(const Variable& x0, const Variable& x1) { return compare("equal", x0, x1, Binary::Equal); }
Variable not_equal(const Variable& x0, const Variable& x1) { return compare("not_equal", x0, x1, Binary::NotEqual); }
Variable greater_equal(const Variable& x0, const Variable& x1) {
  return compare("greater_equal", x0, x1, Binary::GreaterEqual);
}
Variable greater(const Variable& x0, const Variable& x1) { return compare("greater", x0, x1, Binary::Greater); }
Variable less_equal(const Variable& x0, const Variable& x1) { return compare("less_equal", x0, x1, Binary::LessEqual); }
Variable less(const Variable& x0, const Variable& x1) { return compare("less", x0, x1, Binary::Less); }

Variable logical_and_scalar(const Variable& x0, bool val) {
  return compare_scalar("logical_and_scalar", x0, val, WithScalar::LogicalAnd);
}
Variable logical_or_scalar(const Variable& x0, bool val) {
  return compare_scalar("logical_or_scalar", x0, val, WithScalar::LogicalOr);
}
Variable logical_xor_scalar(const Variable& x0, bool val) {
  return compare_scalar("logical_xor_scalar", x0, val, WithScalar::LogicalXor);
}
Variable greater_scalar(const Variable& x0, double val) {
  return compare_scalar("greater_scalar", x0, val, WithScalar::Greater);
}
Variable greater_equal_scalar(const Variable& x0, double val) {
  return compare_scalar("greater_equal_scalar", x0, val, WithScalar::GreaterEqual);
}
Variable less_scalar(const Variable& x0, double val) { return compare_scalar("less_scalar", x0, val, WithScalar::Less); }
Variable less_equal_scalar(const Variable& x0, double val) {
  return compare_scalar("less_equal_scalar", x0, val, WithScalar::LessEqual);
}
Variable equal_scalar(const Variable& x0, double val) { return compare_scalar("equal_scalar", x0, val, WithScalar::Equal); }
Variable not_equal_scalar(const Variable& x0, double val) {
  return compare_scalar("not_equal_scalar", x0, val, WithScalar::NotEqual);
}
Variable logical_not(const Variable& x0) { return mask("logical_not", x0, Unary::LogicalNot); }
Variable isnan(const Variable& x0) { return mask("isnan", x0, Unary::IsNan); }
Variable isinf(const Variable& x0) { return mask("isinf", x0, Unary::IsInf); }

namespace {
// reset_nan / reset_inf: y = x where kept, val elsewhere; gx = gy on the kept entries
Variable reset(const char* name, const Variable& x0, double val, Unary op, Unary which) {
  check::floating(name, "x0", x0);
  return record(name, {x0}, kernels::unary(op, x0.value(), val), saves_input(0), [which](const Ctx& c) {
    Variable replaced = record_nondiff(kernels::unary(which, c.in(0).value()));
    return grads(mul2(c.gy(), logical_not(replaced)));
  });
}
}  // namespace

Variable reset_nan(const Variable& x0, double val) { return reset("reset_nan", x0, val, Unary::ResetNan, Unary::IsNan); }
Variable reset_inf(const Variable& x0, double val) { return reset("reset_inf", x0, val, Unary::ResetInf, Unary::IsInf); }

// where: y = condition ? x_true : x_false (broadcast); g_true = gy where condition, g_false = gy elsewhere
Variable where(const Variable& condition, const Variable& x_true, const Variable& x_false) {
  check::defined("where", "condition", condition);
  check::defined("where", "x_true", x_true);
  check::defined("where", "x_false", x_false);
  Shape shape = broadcast_shapes("where", "x_true", x_true.shape(), "x_false", x_false.shape());
  broadcast_shapes("where", "condition", condition.shape(), "x_true/x_false", shape);
  if (!is_floating(x_true.dtype()) && x_true.dtype() == x_false.dtype())
    return record_nondiff(kernels::where(condition.value(), x_true.value(), x_false.value()));
  auto [a, b] = check::promote("where", x_true, x_false);
  return record("where", {condition, a, b}, kernels::where(condition.value(), a.value(), b.value()), saves_input(0),
                [](const Ctx& c) {
                  const Variable& cond = c.in(0);
                  Variable zero = record_nondiff(Tensor::zeros({}, c.gy().dtype()));
                  Variable ga, gb;
                  if (c.needs(1)) ga = sum_to(where(cond, c.gy(), zero), c.in_shape(1));
                  if (c.needs(2)) gb = sum_to(where(cond, zero, c.gy()), c.in_shape(2));
                  return grads(Variable(), ga, gb);
                });
}

}  // namespace nthgrad
