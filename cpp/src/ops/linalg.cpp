// Matrix products (technical note sections 2 and 9). Their rules are again
// matrix products, so every order reuses the same GEMM.
#include "nthgrad/ops/linalg.h"

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {
std::string matmul_shapes(const Variable& a, const Variable& b, bool ta, bool tb) {
  return detail::cat("a of shape ", shape_str(a.shape()), ta ? " (transposed)" : "", " and b of shape ",
                     shape_str(b.shape()), tb ? " (transposed)" : "");
}

void check_matmul(const char* op, const Variable& a, const Variable& b, bool ta, bool tb, int64_t min_rank) {
  check::floating(op, "a", a);
  check::floating(op, "b", b);
  if (a.dtype() != b.dtype())
    throw TypeError(detail::cat(op, ": a is ", dtype_name(a.dtype()), " but b is ", dtype_name(b.dtype())));
  if (a.ndim() < min_rank || b.ndim() < min_rank)
    throw ValueError(detail::cat(op, ": operands must have rank >= ", min_rank, "; got ", matmul_shapes(a, b, ta, tb)));
  const int64_t qa = a.shape()[a.ndim() - (ta ? 2 : 1)];
  const int64_t qb = b.shape()[b.ndim() - (tb ? 1 : 2)];
  if (qa != qb)
    throw ValueError(detail::cat(op, ": inner dimensions differ (", qa, " vs ", qb, ") for ",
                                 matmul_shapes(a, b, ta, tb)));
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  broadcast_shapes(op, "the batch axes of a", ba, "the batch axes of b", bb);
}

Variable matmul_op(const char* name, const Variable& a, const Variable& b, bool ta, bool tb) {
  // ga = gy·op(b)^T (transposed back if ta), gb = op(a)^T·gy (transposed back if tb)
  return record(name, {a, b}, kernels::matmul(a.value(), b.value(), ta, tb), [ta, tb](const Ctx& c) {
    const Variable &a = c.in(0), &b = c.in(1), &gy = c.gy();
    Variable ga, gb;
    if (c.needs(0)) ga = sum_to(ta ? matmul(b, gy, tb, true) : matmul(gy, b, false, !tb), a.shape());
    if (c.needs(1)) gb = sum_to(tb ? matmul(gy, a, true, ta) : matmul(a, gy, !ta, false), b.shape());
    return grads(ga, gb);
  });
}
}  // namespace

Variable matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  check_matmul("matmul", a, b, transpose_a, transpose_b, 2);
  return matmul_op("matmul", a, b, transpose_a, transpose_b);
}

Variable batch_matmul(const Variable& a, const Variable& b, bool transpose_a, bool transpose_b) {
  check_matmul("batch_matmul", a, b, transpose_a, transpose_b, 3);
  if (a.ndim() != b.ndim())
    throw ValueError(detail::cat("batch_matmul: a and b must have equal rank; got ",
                                 matmul_shapes(a, b, transpose_a, transpose_b)));
  return matmul_op("batch_matmul", a, b, transpose_a, transpose_b);
}

// affine: y = x2·w2 + b with x2 = x as (M, D), w2 = weight as (D, L);
// gx = gy2·w2^T, gw = x2^T·gy2, gb = sum of gy2 over rows   [all matmul / sum]
Variable affine(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis) {
  check::floating("affine", "x", x);
  check::floating("affine", "weight", weight);
  if (base_axis < 0 || base_axis > x.ndim())
    throw IndexError(detail::cat("affine: base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  const Shape& xs = x.shape();
  int64_t m = 1, d = 1;
  for (int64_t i = 0; i < x.ndim(); ++i) {
    int64_t& n = i < base_axis ? m : d;
    n = checked_mul(n, xs[i], "affine", xs);
  }
  if (weight.ndim() < 1 || weight.shape()[0] != d)
    throw ValueError(detail::cat("affine: weight of shape ", shape_str(weight.shape()), " does not fit x of shape ",
                                 shape_str(xs), " with base_axis=", base_axis, " (weight.shape[0] must be ", d, ")"));
  if (weight.dtype() != x.dtype())
    throw TypeError(detail::cat("affine: x is ", dtype_name(x.dtype()), " but weight is ", dtype_name(weight.dtype())));
  Shape out_tail(weight.shape().begin() + 1, weight.shape().end());
  const int64_t l = numel(out_tail);
  if (bias.defined()) {
    check::floating("affine", "bias", bias);
    if (bias.shape() != out_tail)
      throw ValueError(detail::cat("affine: bias of shape ", shape_str(bias.shape()), " does not match weight of shape ",
                                   shape_str(weight.shape()), " (expected ", shape_str(out_tail), ")"));
    if (bias.dtype() != x.dtype())
      throw TypeError(detail::cat("affine: x is ", dtype_name(x.dtype()), " but bias is ", dtype_name(bias.dtype())));
  }
  Shape y_shape(xs.begin(), xs.begin() + base_axis);
  y_shape.insert(y_shape.end(), out_tail.begin(), out_tail.end());
  Tensor y = kernels::affine(x.value().reshape({m, d}), weight.value().reshape({d, l}),
                             bias.defined() ? bias.value().reshape({l}) : Tensor());
  VariableList inputs{x, weight};
  if (bias.defined()) inputs.push_back(bias);
  return record("affine", inputs, y.reshape(y_shape), [m, d, l](const Ctx& c) {
    const Variable gy = reshape(c.gy(), {m, l});
    VariableList g(c.num_inputs());
    if (c.needs(0)) g[0] = reshape(matmul(gy, reshape(c.in(1), {d, l}), false, true), c.in(0).shape());
    if (c.needs(1)) g[1] = reshape(matmul(reshape(c.in(0), {m, d}), gy, true, false), c.in(1).shape());
    if (c.num_inputs() > 2 && c.needs(2)) g[2] = reshape(sum(gy, {0}), c.in(2).shape());
    return g;
  });
}

}  // namespace nthgrad
