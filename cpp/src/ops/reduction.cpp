// Reductions (technical note section 6). sum and broadcast are adjoints;
// max/min send the gradient through a constant mask of the chosen elements;
// prod and cumprod are built from exclusive running products and the linear
// recurrence, so their gradients are exact polynomials even with zeros.
#include "nthgrad/ops/reduction.h"

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {
// The shape of a reduction's result with keepdims=True.
Shape kept_shape(const Shape& shape, const Axes& axes) {
  Shape s = shape;
  for (int64_t a : axes) s[a] = 1;
  return s;
}

Axes resolve(const char* op, const Variable& x, const Axes& axis) {
  if (axis.empty()) {  // all axes
    Axes all(x.ndim());
    for (int64_t i = 0; i < x.ndim(); ++i) all[i] = i;
    return all;
  }
  return normalize_axes(op, axis, x.ndim());
}

// gx = broadcast(reshape(gy, kept_shape), x.shape) * scale
Variable spread_back(const Variable& gy, const Shape& x_shape, const Axes& axes, double scale) {
  Variable g = broadcast(reshape(gy, kept_shape(x_shape, axes)), x_shape);
  return scale == 1.0 ? g : mul_scalar(g, scale);
}

// max / min with the index of the chosen element; gx = spread_back(gy) * mask(index)
std::pair<Variable, Variable> extreme(const char* name, bool is_max, const Variable& x, const Axes& axis,
                                      bool keepdims) {
  check::floating(name, "x", x);
  Axes a = resolve(name, x, axis);
  for (int64_t d : a)
    if (x.shape()[d] == 0)
      throw ValueError(detail::cat(name, ": cannot reduce over axis ", d, " of size 0 (x of shape ",
                                   shape_str(x.shape()), "): the result has no identity"));
  auto [values, index] = kernels::max_min(is_max, x.value(), a, keepdims);
  VariableList out = record(name, {x}, {values, index}, saves_output(1), [a](const Ctx& c) {
    Variable mask = record_nondiff(kernels::index_mask(c.out(1).value(), c.in_shape(0), a, c.in_dtype(0)));
    return grads(mul2(spread_back(c.gy(0), c.in_shape(0), a, 1.0), mask));
  });
  return {out[0], out[1]};
}

void check_axis_op(const char* name, const Variable& x, int64_t& axis) {
  check::floating(name, "x", x);
  if (x.ndim() == 0) throw ValueError(detail::cat(name, ": x must have at least one dimension, got shape ()"));
  axis = normalize_axis(name, axis, x.ndim());
}
}  // namespace

// sum: y = sum over axis; gx = broadcast(gy)   [adjoint: broadcast]
Variable sum(const Variable& x, const Axes& axis, bool keepdims) {
  check::floating("sum", "x", x);
  Axes a = resolve("sum", x, axis);
  return record("sum", {x}, kernels::sum(x.value(), a, keepdims), kSavesNothing,
                [a](const Ctx& c) { return grads(spread_back(c.gy(), c.in_shape(0), a, 1.0)); });
}

// mean: y = sum over axis / n; gx = broadcast(gy) / n
Variable mean(const Variable& x, const Axes& axis, bool keepdims) {
  check::floating("mean", "x", x);
  Axes a = resolve("mean", x, axis);
  int64_t n = 1;
  for (int64_t i : a) n = checked_mul(n, x.shape()[i], "mean", x.shape());
  const double scale = 1.0 / static_cast<double>(n);  // inf for an empty reduction: mean is NaN, as NumPy
  return record("mean", {x}, kernels::mean(x.value(), a, keepdims), kSavesNothing,
                [a, scale](const Ctx& c) { return grads(spread_back(c.gy(), c.in_shape(0), a, scale)); });
}

// max: y = max over axis; gx = gy at the first maximum, 0 elsewhere
Variable max(const Variable& x, const Axes& axis, bool keepdims) { return extreme("max", true, x, axis, keepdims).first; }
Variable min(const Variable& x, const Axes& axis, bool keepdims) { return extreme("min", false, x, axis, keepdims).first; }
std::pair<Variable, Variable> max_with_index(const Variable& x, const Axes& axis, bool keepdims) {
  return extreme("max", true, x, axis, keepdims);
}
std::pair<Variable, Variable> min_with_index(const Variable& x, const Axes& axis, bool keepdims) {
  return extreme("min", false, x, axis, keepdims);
}

// prod: y = prod over axis; gx_k = gy * (prod of x_j before k) * (prod of x_j after k), the
// reduced axes flattened into one: exclusive cumprods from both ends, no division
Variable prod(const Variable& x, const Axes& axis, bool keepdims) {
  check::floating("prod", "x", x);
  Axes a = resolve("prod", x, axis);
  return record("prod", {x}, kernels::prod(x.value(), a, keepdims), saves_input(0), [a](const Ctx& c) {
    const Variable& x = c.in(0);
    // x as (kept..., n) with the reduced axes flattened last
    Axes perm, inverse(x.ndim());
    Shape flat;
    int64_t n = 1;
    std::vector<bool> reduced(x.ndim(), false);
    for (int64_t d : a) reduced[d] = true;
    for (int64_t d = 0; d < x.ndim(); ++d)
      if (!reduced[d]) {
        perm.push_back(d);
        flat.push_back(x.shape()[d]);
      }
    for (int64_t d : a) {
      perm.push_back(d);
      n *= x.shape()[d];
    }
    flat.push_back(n);
    bool moved = false;
    for (std::size_t i = 0; i < perm.size(); ++i) {
      inverse[perm[i]] = static_cast<int64_t>(i);
      moved = moved || perm[i] != static_cast<int64_t>(i);
    }
    Variable xt = reshape(moved ? transpose(x, perm) : x, flat);
    const int64_t last = static_cast<int64_t>(flat.size()) - 1;
    Variable others = mul2(cumprod(xt, last, true, false), cumprod(xt, last, true, true));
    Shape gy_shape = flat;
    gy_shape[last] = 1;
    Variable g = mul2(others, reshape(c.gy(), gy_shape));
    Shape permuted;
    for (int64_t d : perm) permuted.push_back(x.shape()[d]);
    g = reshape(g, permuted);
    return grads(moved ? transpose(g, inverse) : g);
  });
}

// cumsum: y_t = sum of x up to t (exclusive: before t; reverse: from the end); gx = the opposite cumsum of gy
Variable cumsum(const Variable& x, int64_t axis, bool exclusive, bool reverse) {
  check_axis_op("cumsum", x, axis);
  return record("cumsum", {x}, kernels::cumulative(kernels::Cumulative::Sum, x.value(), axis, exclusive, reverse),
                kSavesNothing,
                [axis, exclusive, reverse](const Ctx& c) { return grads(cumsum(c.gy(), axis, exclusive, !reverse)); });
}

// cumprod: y_t = prod of x up to t. Forward inclusive: gx_k = E_k R_k with E = cumprod(x, exclusive)
// and R_k = sum_{i >= k} gy_i prod_{j=k+1..i} x_j = linear_recurrence(x, gy, reverse). The other
// variants shift gy (exclusive) or the multipliers (reverse) by one; all exact with zeros.
Variable cumprod(const Variable& x, int64_t axis, bool exclusive, bool reverse) {
  check_axis_op("cumprod", x, axis);
  return record("cumprod", {x}, kernels::cumulative(kernels::Cumulative::Prod, x.value(), axis, exclusive, reverse),
                saves_input(0), [axis, exclusive, reverse](const Ctx& c) {
                  const Variable& x = c.in(0);
                  // the products of x on the far side of k (exclusive, in the running direction)
                  Variable before = cumprod(x, axis, true, reverse);
                  Variable gy = exclusive ? detail::shift_with_zeros(c.gy(), axis, reverse ? 1 : -1) : c.gy();
                  Variable r = reverse ? linear_recurrence(detail::shift_with_zeros(x, axis, 1), gy, axis, false)
                                       : linear_recurrence(x, gy, axis, true);
                  return grads(mul2(before, r));
                });
}

// linear_recurrence: y_t = a_t y_{t-1} + b_t (reverse: y_t = a_{t+1} y_{t+1} + b_t).
// With lambda = linear_recurrence(a, gy, !reverse) (the adjoint): gb = lambda,
// ga = lambda * y shifted by one (forward) or lambda shifted by one * y (reverse).
Variable linear_recurrence(const Variable& a, const Variable& b, int64_t axis, bool reverse) {
  check::floating("linear_recurrence", "a", a);
  check::floating("linear_recurrence", "b", b);
  check::same_shape("linear_recurrence", "a", a, "b", b);
  if (a.dtype() != b.dtype())
    throw TypeError(detail::cat("linear_recurrence: a is ", dtype_name(a.dtype()), " but b is ", dtype_name(b.dtype())));
  check_axis_op("linear_recurrence", b, axis);
  return record("linear_recurrence", {a, b}, kernels::linear_recurrence(a.value(), b.value(), axis, reverse),
                saves_input(0) | kSavesOutput, [axis, reverse](const Ctx& c) {
                  Variable lambda = linear_recurrence(c.in(0), c.gy(), axis, !reverse);
                  Variable ga;
                  if (c.needs(0))
                    ga = reverse ? mul2(detail::shift_with_zeros(lambda, axis, 1), c.out())
                                 : mul2(lambda, detail::shift_with_zeros(c.out(), axis, 1));
                  return grads(ga, lambda);
                });
}

}  // namespace nthgrad
