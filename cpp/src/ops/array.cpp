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

// split: the size-1 slices along axis, axis dropped; gx = their gradients
// stacked back (zeros where an output got none)   [adjoint: stack]
VariableList split(const Variable& x, int64_t axis) {
  check::defined("split", "x", x);
  if (x.ndim() == 0) throw ValueError("split: x has shape (); it needs an axis to split along");
  const int64_t a = normalize_axis("split", axis, x.ndim());
  const int64_t n = x.shape()[a];
  Shape piece = x.shape(), kept = x.shape();
  piece[a] = 1;
  kept.erase(kept.begin() + a);
  std::vector<Tensor> outputs;
  std::vector<int64_t> start(x.ndim(), 0), step(x.ndim(), 1);
  for (int64_t i = 0; i < n; ++i) {
    start[a] = i;
    outputs.push_back(kernels::slice(x.value(), start, step, piece).reshape(kept));
  }
  if (n == 0) return {};
  return record("split", {x}, outputs, kSavesNothing, [a, n, piece, kept](const Ctx& c) {
    VariableList parts;
    for (int64_t i = 0; i < n; ++i) {
      const Variable& g = c.gy(i);
      parts.push_back(reshape(g.defined() ? g : Variable(Tensor::zeros(kept, c.in_dtype(0))), piece));
    }
    return grads(concatenate(parts, a));
  });
}

// stack: a new axis at `axis`, by reshape + concatenate (whose rule slices)
Variable stack(const VariableList& x, int64_t axis) {
  if (x.empty()) throw ValueError("stack: needs at least one input");
  for (std::size_t i = 0; i < x.size(); ++i) {
    check::defined("stack", detail::cat("x[", i, "]").c_str(), x[i]);
    if (x[i].shape() != x[0].shape())
      throw ValueError(detail::cat("stack: x[", i, "] of shape ", shape_str(x[i].shape()),
                                   " differs from x[0] of shape ", shape_str(x[0].shape()), "; all must be equal"));
  }
  const int64_t a = normalize_axis("stack", axis, x[0].ndim() + 1);
  Shape shape = x[0].shape();
  shape.insert(shape.begin() + a, 1);
  VariableList parts;
  for (const Variable& v : x) parts.push_back(reshape(v, shape));
  return concatenate(parts, a);
}

namespace {
// The source position along an axis of length n for output position p
// (p may lie outside [0, n)): clamped, or mirrored with or without the edge.
int64_t border_source(int64_t p, int64_t n, bool mirror, bool repeat_edge) {
  if (!mirror || n == 1) return std::clamp<int64_t>(p, 0, n - 1);
  const int64_t period = repeat_edge ? 2 * n : 2 * (n - 1);
  int64_t q = ((p % period) + period) % period;
  if (q >= n) q = repeat_edge ? period - 1 - q : period - q;
  return q;
}
}  // namespace

// pad: constant mode is one op whose adjoint is the slice of gy; reflect and
// repeat gather along each padded axis (gx: scatter-add)
Variable pad(const Variable& x, const std::vector<int64_t>& pad_width, const std::string& mode, double constant_value) {
  check::defined("pad", "x", x);
  const int64_t pairs = static_cast<int64_t>(pad_width.size()) / 2;
  if (pad_width.size() % 2 != 0 || pairs > x.ndim())
    throw ValueError(detail::cat("pad: pad_width has ", pad_width.size(),
                                 " entries; it needs an even number, at most 2 * x.ndim, for x of shape ",
                                 shape_str(x.shape())));
  for (int64_t w : pad_width)
    if (w < 0) throw ValueError(detail::cat("pad: pad_width ", axes_str(pad_width), " has a negative width"));
  if (mode != "constant" && mode != "reflect" && mode != "repeat")
    throw ValueError(detail::cat("pad: mode must be 'constant', 'reflect' or 'repeat', got '", mode, "'"));
  const int64_t first = x.ndim() - pairs;
  // The padded shape, refused before anything is allocated when a size
  // overflows int64 (a wrapped size would make slice_backward write outside
  // its buffer) or the element count does.
  Shape out = x.shape();
  for (int64_t i = 0; i < pairs; ++i) {
    int64_t& d = out[first + i];
    if (__builtin_add_overflow(d, pad_width[2 * i], &d) || __builtin_add_overflow(d, pad_width[2 * i + 1], &d))
      throw ValueError(detail::cat("pad: pad_width ", axes_str(pad_width), " is too large for x of shape ",
                                   shape_str(x.shape()), ": a padded size overflows 64-bit integers"));
  }
  check::numel("pad", detail::cat("pad_width ", axes_str(pad_width), " is too large for x of shape ",
                                  shape_str(x.shape())), out);
  if (mode == "constant") {
    std::vector<int64_t> start(x.ndim(), 0), step(x.ndim(), 1);
    for (int64_t i = 0; i < pairs; ++i) start[first + i] = pad_width[2 * i];
    Tensor y = kernels::slice_backward(x.value(), out, start, step);
    if (constant_value != 0) {
      Tensor inside = kernels::slice_backward(Tensor::ones(x.shape(), DType::Bool), out, start, step);
      y = kernels::where(inside, y, Tensor::full({}, constant_value, x.dtype()));
    }
    return record("pad", {x}, y, kSavesNothing, [start, step](const Ctx& c) {
      return grads(detail::slice_resolved(c.gy(), start, step, c.in_shape(0)));
    });
  }
  Variable y = x;
  for (int64_t i = 0; i < pairs; ++i) {
    const int64_t axis = first + i, n = x.shape()[axis], before = pad_width[2 * i], after = pad_width[2 * i + 1];
    if (before == 0 && after == 0) continue;
    if (n == 0)
      throw ValueError(detail::cat("pad: cannot pad axis ", axis, " of size 0 in mode '", mode, "' (x of shape ",
                                   shape_str(x.shape()), ")"));
    // The source positions, in a tensor (not a std::vector): a size too large
    // for memory is then a MemoryError naming the shape, from the allocator
    // every tensor uses (n + before + after fits: checked above).
    Tensor source;
    try {
      source = Tensor::empty({out[axis]}, DType::Int64);
    } catch (const MemoryError& e) {
      throw MemoryError(detail::cat("pad: axis ", axis, " padded to ", out[axis], " (x of shape ", shape_str(x.shape()),
                                    ", pad_width ", axes_str(pad_width), "): ", e.what()));
    }
    int64_t* ps = source.data<int64_t>();
    for (int64_t j = 0; j < out[axis]; ++j) ps[j] = border_source(j - before, n, mode == "reflect", false);
    y = gather(y, Variable(source), axis, 0);
  }
  return y;
}

// tile: x as (1, s0, 1, s1, ...), broadcast to (r0, s0, r1, s1, ...), merged;
// so gx = the sum over the tiles (broadcast's adjoint)
Variable tile(const Variable& x, const std::vector<int64_t>& reps) {
  check::defined("tile", "x", x);
  for (int64_t r : reps)
    if (r < 0) throw ValueError(detail::cat("tile: reps ", axes_str(reps), " has a negative entry"));
  const std::size_t nd = std::max<std::size_t>(x.ndim(), reps.size());
  Shape shape(nd - x.ndim(), 1);
  shape.insert(shape.end(), x.shape().begin(), x.shape().end());
  std::vector<int64_t> r(nd - reps.size(), 1);
  r.insert(r.end(), reps.begin(), reps.end());
  Shape interleaved, expanded, out;
  for (std::size_t d = 0; d < nd; ++d) {
    interleaved.insert(interleaved.end(), {1, shape[d]});
    expanded.insert(expanded.end(), {r[d], shape[d]});
    out.push_back(checked_mul(r[d], shape[d], "tile", x.shape()));
  }
  check::numel("tile", detail::cat("reps ", axes_str(reps), " make x of shape ", shape_str(x.shape()), " too large"),
               expanded);
  return reshape(broadcast(reshape(x, interleaved), expanded), out);
}

// flip: slice with step -1 along each axis
Variable flip(const Variable& x, const Axes& axes) {
  check::defined("flip", "x", x);
  SliceIndex start(x.ndim()), stop(x.ndim()), step(x.ndim());
  // A repeated axis is refused (as numpy.flip) rather than flipped once.
  for (int64_t axis : normalize_axes("flip", axes, x.ndim())) step[axis] = -1;
  return slice(x, start, stop, step);
}

// shift: a gather along each shifted axis with clamped or mirrored sources
Variable shift(const Variable& x, const std::vector<int64_t>& shifts, const std::string& border_mode) {
  check::defined("shift", "x", x);
  if (static_cast<int64_t>(shifts.size()) > x.ndim())
    throw ValueError(detail::cat("shift: ", shifts.size(), " shifts for x of shape ", shape_str(x.shape())));
  if (border_mode != "nearest" && border_mode != "reflect")
    throw ValueError(detail::cat("shift: border_mode must be 'nearest' or 'reflect', got '", border_mode, "'"));
  const int64_t first = x.ndim() - static_cast<int64_t>(shifts.size());
  Variable y = x;
  for (std::size_t i = 0; i < shifts.size(); ++i) {
    const int64_t axis = first + static_cast<int64_t>(i), n = x.shape()[axis];
    if (shifts[i] == 0 || n == 0) continue;
    // j - shift must not overflow: a shift past the edge is clamped ('nearest'
    // reads the edge for any |shift| >= n), or reduced modulo the mirror
    // period 2n ('reflect'); both give the same sources as the exact shift.
    const int64_t s = border_mode == "reflect" ? shifts[i] % (2 * n) : std::clamp(shifts[i], -n, n);
    std::vector<int64_t> source(n);
    for (int64_t j = 0; j < n; ++j) source[j] = border_source(j - s, n, border_mode == "reflect", true);
    y = detail::take_along(y, axis, source);
  }
  return y;
}

// meshgrid: x_i reshaped along its own axis and broadcast to the grid
VariableList meshgrid(const VariableList& x, bool ij_indexing) {
  Shape grid;
  for (std::size_t i = 0; i < x.size(); ++i) {
    check::defined("meshgrid", detail::cat("x[", i, "]").c_str(), x[i]);
    if (x[i].ndim() != 1)
      throw ValueError(detail::cat("meshgrid: x[", i, "] of shape ", shape_str(x[i].shape()), " must be 1-D"));
    grid.push_back(x[i].shape()[0]);
  }
  const bool xy = !ij_indexing && x.size() >= 2;
  if (xy) std::swap(grid[0], grid[1]);
  VariableList out;
  for (std::size_t i = 0; i < x.size(); ++i) {
    std::size_t at = xy && i < 2 ? 1 - i : i;
    Shape s(x.size(), 1);
    s[at] = x[i].shape()[0];
    out.push_back(broadcast(reshape(x[i], s), grid));
  }
  return out;
}

}  // namespace nthgrad
