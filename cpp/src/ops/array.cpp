// Array manipulation (technical note section 10).
#include "nthgrad/ops/array.h"

#include <numeric>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

// broadcast: y = x expanded to shape; gx = sum_to(gy, x.shape)   [adjoint: sum]
Variable broadcast(const Variable& x, const Shape& shape) {
  check::defined("broadcast", "x", x);
  for (int64_t d : shape)
    if (d < 0) throw ValueError(detail::cat("broadcast: negative dimension in shape ", shape_str(shape)));
  bool ok = x.ndim() <= static_cast<int64_t>(shape.size());
  for (int64_t i = 0; ok && i < x.ndim(); ++i) {
    int64_t d = x.shape()[i], t = shape[shape.size() - x.ndim() + i];
    ok = d == t || d == 1;
  }
  if (!ok)
    throw ValueError(detail::cat("broadcast: cannot broadcast x of shape ", shape_str(x.shape()), " to shape ",
                                 shape_str(shape)));
  if (x.shape() == shape && !x.requires_grad()) return x;
  return record("broadcast", {x}, kernels::broadcast_to(x.value(), shape),
                [](const Ctx& c) { return grads(sum_to(c.gy(), c.in(0).shape())); });
}

Variable sum_to(const Variable& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.ndim() - static_cast<int64_t>(shape.size());
  bool ok = lead >= 0;
  Axes axes;
  for (int64_t i = 0; ok && i < x.ndim(); ++i) {
    if (i < lead) {
      axes.push_back(i);
      continue;
    }
    int64_t t = shape[i - lead];
    if (t == 1 && x.shape()[i] != 1)
      axes.push_back(i);
    else
      ok = t == x.shape()[i];
  }
  if (!ok)
    throw ValueError(detail::cat("sum_to: cannot sum x of shape ", shape_str(x.shape()), " down to shape ",
                                 shape_str(shape)));
  Variable s = axes.empty() ? x : sum(x, axes, true);
  return reshape(s, shape);
}

// reshape: same data, new shape (one -1 is inferred); gx = reshape(gy, x.shape)
Variable reshape(const Variable& x, const Shape& shape) {
  check::defined("reshape", "x", x);
  Shape target = shape;
  int64_t infer = -1, known = 1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (infer >= 0) throw ValueError(detail::cat("reshape: only one -1 is allowed in shape ", shape_str(shape)));
      infer = static_cast<int64_t>(i);
    } else if (target[i] < 0) {
      throw ValueError(detail::cat("reshape: negative dimension in shape ", shape_str(shape)));
    } else {
      known = checked_mul(known, target[i], "reshape", shape);
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw ValueError(detail::cat("reshape: cannot reshape x of shape ", shape_str(x.shape()), " into shape ",
                                   shape_str(shape)));
    target[infer] = x.numel() / known;
  }
  if (numel(target) != x.numel())
    throw ValueError(detail::cat("reshape: cannot reshape x of shape ", shape_str(x.shape()), " (", x.numel(),
                                 " elements) into shape ", shape_str(shape)));
  if (target == x.shape() && !x.requires_grad()) return x;
  // The output shares x's storage: nthgrad never writes into a tensor.
  return record("reshape", {x}, x.value().reshape(target),
                [](const Ctx& c) { return grads(reshape(c.gy(), c.in(0).shape())); });
}

// transpose: y.shape[i] = x.shape[axes[i]]; gx = transpose(gy, inverse(axes))
Variable transpose(const Variable& x, const Axes& axes) {
  check::defined("transpose", "x", x);
  if (static_cast<int64_t>(axes.size()) != x.ndim())
    throw ValueError(detail::cat("transpose: axes ", axes_str(axes), " do not match x of shape ", shape_str(x.shape())));
  Axes perm(axes.size());
  std::vector<bool> seen(axes.size(), false);
  for (std::size_t i = 0; i < axes.size(); ++i) {
    perm[i] = normalize_axis("transpose", axes[i], x.ndim());
    if (seen[perm[i]])
      throw ValueError(detail::cat("transpose: axes ", axes_str(axes), " repeat an axis (x has shape ",
                                   shape_str(x.shape()), ")"));
    seen[perm[i]] = true;
  }
  Axes inverse(perm.size());
  for (std::size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
  return record("transpose", {x}, kernels::transpose(x.value(), perm),
                [inverse](const Ctx& c) { return grads(transpose(c.gy(), inverse)); });
}

}  // namespace nthgrad
