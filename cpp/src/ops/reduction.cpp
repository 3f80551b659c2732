// Reductions (technical note section 6). sum and broadcast are adjoints:
// each one's rule is the other.
#include "nthgrad/ops/reduction.h"

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
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
Variable spread_back(const Variable& gy, const Variable& x, const Axes& axes, double scale) {
  Variable g = broadcast(reshape(gy, kept_shape(x.shape(), axes)), x.shape());
  return scale == 1.0 ? g : mul_scalar(g, scale);
}
}  // namespace

// sum: y = sum over axis; gx = broadcast(gy)   [adjoint: broadcast]
Variable sum(const Variable& x, const Axes& axis, bool keepdims) {
  check::floating("sum", "x", x);
  Axes a = resolve("sum", x, axis);
  return record("sum", {x}, kernels::sum(x.value(), a, keepdims),
                [a](const Ctx& c) { return grads(spread_back(c.gy(), c.in(0), a, 1.0)); });
}

// mean: y = sum over axis / n; gx = broadcast(gy) / n
Variable mean(const Variable& x, const Axes& axis, bool keepdims) {
  check::floating("mean", "x", x);
  Axes a = resolve("mean", x, axis);
  int64_t n = 1;
  for (int64_t i : a) n = checked_mul(n, x.shape()[i], "mean", x.shape());
  const double scale = 1.0 / static_cast<double>(n);  // inf for an empty reduction: mean is NaN, as NumPy
  Tensor y = kernels::with_scalar(kernels::WithScalar::Mul, kernels::sum(x.value(), a, keepdims), scale);
  return record("mean", {x}, y, [a, scale](const Ctx& c) { return grads(spread_back(c.gy(), c.in(0), a, scale)); });
}

}  // namespace nthgrad
