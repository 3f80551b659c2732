// Array manipulation (technical note section 10).
#include "nthgrad/ops/array.h"

#include <algorithm>
#include <numeric>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/array_internal.h"
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
  return record("broadcast", {x}, kernels::broadcast_to(x.value(), shape), kSavesNothing,
                [](const Ctx& c) { return grads(sum_to(c.gy(), c.in_shape(0))); });
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
  return record("reshape", {x}, x.value().reshape(target), kSavesNothing,
                [](const Ctx& c) { return grads(reshape(c.gy(), c.in_shape(0))); });
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
  return record("transpose", {x}, kernels::transpose(x.value(), perm), kSavesNothing,
                [inverse](const Ctx& c) { return grads(transpose(c.gy(), inverse)); });
}

namespace detail {

// slice with resolved per-axis start and step and the result's shape;
// gx = slice_backward(gy)
Variable slice_resolved(const Variable& x, const std::vector<int64_t>& start, const std::vector<int64_t>& step,
                        const Shape& out_shape) {
  return record("slice", {x}, kernels::slice(x.value(), start, step, out_shape), kSavesNothing,
                [start, step](const Ctx& c) { return grads(slice_backward(c.gy(), c.in_shape(0), start, step)); });
}

// slice_backward: zeros of x_shape with gy written where the slice read;
// its gradient is the slice again   [adjoint of slice]
Variable slice_backward(const Variable& gy, const Shape& x_shape, const std::vector<int64_t>& start,
                        const std::vector<int64_t>& step) {
  return record("slice_backward", {gy}, kernels::slice_backward(gy.value(), x_shape, start, step), kSavesNothing,
                [start, step](const Ctx& c) { return grads(slice_resolved(c.gy(), start, step, c.in_shape(0))); });
}

Variable shift_with_zeros(const Variable& x, int64_t axis, int64_t k) {
  const int64_t n = x.shape()[axis];
  std::vector<int64_t> from(x.ndim(), 0), to(x.ndim(), 0), step(x.ndim(), 1);
  Shape kept = x.shape();
  kept[axis] = std::max<int64_t>(0, n - std::abs(k));
  if (k > 0) to[axis] = std::min(k, n); else from[axis] = std::min(-k, n);
  if (kept[axis] == 0) return record_nondiff(Tensor::zeros(x.shape(), x.dtype()));
  return slice_backward(slice_resolved(x, from, step, kept), x.shape(), to, step);
}

}  // namespace detail

// slice: Python's x[start:stop:step] on every axis (missing entries: the full range)
Variable slice(const Variable& x, const SliceIndex& start, const SliceIndex& stop, const SliceIndex& step) {
  check::defined("slice", "x", x);
  const int64_t nd = x.ndim();
  for (const SliceIndex* list : {&start, &stop, &step})
    if (static_cast<int64_t>(list->size()) > nd)
      throw ValueError(detail::cat("slice: got ", list->size(), " indices for x of shape ", shape_str(x.shape())));
  std::vector<int64_t> first(nd), stride(nd);
  Shape out(nd);
  for (int64_t d = 0; d < nd; ++d) {
    auto pick = [d](const SliceIndex& l) { return d < static_cast<int64_t>(l.size()) ? l[d] : std::nullopt; };
    const int64_t n = x.shape()[d];
    const int64_t s = pick(step).value_or(1);
    if (s == 0) throw ValueError(detail::cat("slice: step of axis ", d, " is zero"));
    // Python's slice.indices(n)
    auto resolve = [n, s](std::optional<int64_t> v, int64_t fallback) {
      if (!v) return fallback;
      int64_t i = *v < 0 ? *v + n : *v;
      return s > 0 ? std::clamp<int64_t>(i, 0, n) : std::clamp<int64_t>(i, -1, n - 1);
    };
    const int64_t b = resolve(pick(start), s > 0 ? 0 : n - 1);
    const int64_t e = resolve(pick(stop), s > 0 ? n : -1);
    // (written so that no step, not even -2^63, overflows)
    const uint64_t magnitude = s > 0 ? static_cast<uint64_t>(s) : 0 - static_cast<uint64_t>(s);
    const int64_t span = s > 0 ? e - b : b - e;
    const int64_t count = span > 0 ? static_cast<int64_t>(1 + static_cast<uint64_t>(span - 1) / magnitude) : 0;
    first[d] = count > 0 ? b : 0;
    stride[d] = s;
    out[d] = count;
  }
  return detail::slice_resolved(x, first, stride, out);
}

// concatenate: join along axis; gx_i = the slice of gy at x_i's place
Variable concatenate(const VariableList& x, int64_t axis) {
  if (x.empty()) throw ValueError("concatenate: needs at least one input");
  for (std::size_t i = 0; i < x.size(); ++i) check::defined("concatenate", detail::cat("x[", i, "]").c_str(), x[i]);
  const int64_t nd = x[0].ndim();
  if (nd == 0) throw ValueError("concatenate: x[0] has shape (); a 0-d tensor cannot be concatenated");
  const int64_t a = normalize_axis("concatenate", axis, nd);
  // One dtype for all: float64 if any input is, else float32 if any is, else the (common) integer dtype.
  bool f64 = false, f32 = false;
  for (const Variable& v : x) {
    f64 = f64 || v.dtype() == DType::Float64;
    f32 = f32 || v.dtype() == DType::Float32;
  }
  const DType dtype = f64 ? DType::Float64 : f32 ? DType::Float32 : x[0].dtype();
  for (std::size_t i = 0; i < x.size(); ++i) {
    Shape si = x[i].shape(), s0 = x[0].shape();
    bool ok = x[i].ndim() == nd;
    if (ok) si[a] = s0[a] = 0;
    if (!ok || si != s0)
      throw ValueError(detail::cat("concatenate: x[", i, "] of shape ", shape_str(x[i].shape()),
                                   " does not match x[0] of shape ", shape_str(x[0].shape()), " except along axis ", a));
    if (!is_floating(dtype) && x[i].dtype() != dtype)
      throw TypeError(detail::cat("concatenate: x[", i, "] is ", dtype_name(x[i].dtype()), " but x[0] is ",
                                  dtype_name(x[0].dtype())));
  }
  VariableList inputs;
  std::vector<Tensor> values;
  for (const Variable& v : x) {
    inputs.push_back(v.dtype() == dtype ? v : cast(v, dtype));
    values.push_back(inputs.back().value());
  }
  return record("concatenate", inputs, kernels::concatenate(values, a), kSavesNothing, [a](const Ctx& c) {
    VariableList g(c.num_inputs());
    int64_t offset = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
      const Shape& shape = c.in_shape(i);
      if (c.needs(i)) {
        std::vector<int64_t> start(shape.size(), 0), step(shape.size(), 1);
        start[a] = offset;
        g[i] = detail::slice_resolved(c.gy(), start, step, shape);
      }
      offset += shape[a];
    }
    return g;
  });
}

}  // namespace nthgrad
