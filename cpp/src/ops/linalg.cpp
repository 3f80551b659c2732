// Matrix products (technical note sections 2 and 9). Their rules are again
// matrix products, so every order reuses the same GEMM.
#include "nthgrad/ops/linalg.h"

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/math.h"
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

Variable matmul_op(const char* name, const Variable& a0, const Variable& b0, bool ta, bool tb) {
  auto [a, b] = check::promote(name, a0, b0);
  // ga = gy·op(b)^T (transposed back if ta), gb = op(a)^T·gy (transposed back if tb)
  // ga reads b and gb reads a: keep each only if the other may need a gradient.
  const Saved saved{(b.requires_grad() ? 1u : 0u) | (a.requires_grad() ? 2u : 0u), 0};
  return record(name, {a, b}, kernels::matmul(a.value(), b.value(), ta, tb), saved, [ta, tb](const Ctx& c) {
    const Variable& gy = c.gy();
    Variable ga, gb;
    if (c.needs(0)) {
      const Variable& b = c.in(1);
      ga = sum_to(ta ? matmul(b, gy, tb, true) : matmul(gy, b, false, !tb), c.in_shape(0));
    }
    if (c.needs(1)) {
      const Variable& a = c.in(0);
      gb = sum_to(tb ? matmul(gy, a, true, ta) : matmul(a, gy, !ta, false), c.in_shape(1));
    }
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
  Shape out_tail(weight.shape().begin() + 1, weight.shape().end());
  const int64_t l = numel(out_tail);
  if (bias.defined()) {
    check::floating("affine", "bias", bias);
    if (bias.shape() != out_tail)
      throw ValueError(detail::cat("affine: bias of shape ", shape_str(bias.shape()), " does not match weight of shape ",
                                   shape_str(weight.shape()), " (expected ", shape_str(out_tail), ")"));
  }
  Shape y_shape(xs.begin(), xs.begin() + base_axis);
  y_shape.insert(y_shape.end(), out_tail.begin(), out_tail.end());
  // Mixed float32 / float64 operands promote to float64, as the binary ops do.
  const bool f64 = x.dtype() == DType::Float64 || weight.dtype() == DType::Float64 ||
                   (bias.defined() && bias.dtype() == DType::Float64);
  auto promoted = [f64](const Variable& v) {
    return !v.defined() || !f64 || v.dtype() == DType::Float64 ? v : cast(v, DType::Float64);
  };
  const Variable xp = promoted(x), wp = promoted(weight), bp = promoted(bias);
  Tensor y = kernels::affine(xp.value().reshape({m, d}), wp.value().reshape({d, l}),
                             bp.defined() ? bp.value().reshape({l}) : Tensor());
  VariableList inputs{xp, wp};
  if (bp.defined()) inputs.push_back(bp);
  // gx reads the weight and gw reads x: keep each only if the other may need a gradient.
  const Saved saved{(wp.requires_grad() ? 1u : 0u) | (xp.requires_grad() ? 2u : 0u), 0};
  return record("affine", inputs, y.reshape(y_shape), saved, [m, d, l](const Ctx& c) {
    const Variable gy = reshape(c.gy(), {m, l});
    VariableList g(c.num_inputs());
    if (c.needs(0)) g[0] = reshape(matmul(gy, reshape(c.in(1), {d, l}), false, true), c.in_shape(0));
    if (c.needs(1)) g[1] = reshape(matmul(reshape(c.in(0), {m, d}), gy, true, false), c.in_shape(1));
    if (c.num_inputs() > 2 && c.needs(2)) g[2] = reshape(sum(gy, {0}), c.in_shape(2));
    return g;
  });
}

// dot: NumPy's dot, by reshape / transpose / matmul (so its gradients are theirs)
Variable dot(const Variable& a, const Variable& b) {
  check::floating("dot", "a", a);
  check::floating("dot", "b", b);
  if (a.ndim() == 0 || b.ndim() == 0) return mul2(a, b);
  const int64_t k = a.shape().back();
  const int64_t kb = b.ndim() == 1 ? b.shape()[0] : b.shape()[b.ndim() - 2];
  if (k != kb)
    throw ValueError(detail::cat("dot: shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
                                 " are not aligned: ", k, " (last axis of a) != ", kb,
                                 b.ndim() == 1 ? " (b)" : " (second-to-last axis of b)"));
  Shape out(a.shape().begin(), a.shape().end() - 1);
  Variable a2 = reshape(a, {numel(out), k});
  if (b.ndim() == 1) return reshape(matmul(a2, reshape(b, {k, 1})), out);
  // b (..., k, n) -> (k, ... * n): move axis -2 to the front
  Axes perm{b.ndim() - 2};
  for (int64_t d = 0; d < b.ndim(); ++d)
    if (d != b.ndim() - 2) perm.push_back(d);
  Variable b2 = reshape(transpose(b, perm), {k, -1});
  for (int64_t d = 0; d < b.ndim(); ++d)
    if (d != b.ndim() - 2) out.push_back(b.shape()[d]);
  return reshape(matmul(a2, b2), out);
}

}  // namespace nthgrad
