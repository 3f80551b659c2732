// Indexing and sorting (technical note section 10 and related): gather_nd /
// scatter_nd, gather / scatter_add, sort, top_k, one_hot, searchsorted.
//
// Every one reduces to two ops that are each other's adjoint:
//   gather_rows(x, rows):          y[i] = x_row[rows[i]]
//   scatter_rows_add(src, rows):   y = zeros, y_row[rows[i]] += src[i]
// The op computes the int64 row numbers (a constant of the graph, with the
// bounds checks that name the user's index and shape) and calls one of the
// two; so sort's backward is a scatter by index, gather_nd's a scatter_nd,
// and every order follows.
#include <limits>
#include <numeric>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/arithmetic.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/logical.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace detail {

Variable gather_rows(const char* name, const Variable& x, int64_t row_size, const Tensor& rows) {
  const int64_t num_rows = row_size ? x.numel() / row_size : 0;
  return record(name, {x}, kernels::gather_rows(x.value(), row_size, rows), kSavesNothing,
                [rows, num_rows, row_size](const Ctx& c) {
                  return grads(reshape(scatter_rows_add("scatter_rows_add", c.gy(), rows, num_rows, row_size),
                                       c.in_shape(0)));
                });
}

Variable scatter_rows_add(const char* name, const Variable& src, const Tensor& rows, int64_t num_rows,
                          int64_t row_size) {
  return record(name, {src}, kernels::scatter_rows_add(src.value(), rows, num_rows, row_size), kSavesNothing,
                [rows, row_size](const Ctx& c) {
                  return grads(reshape(gather_rows("gather_rows", c.gy(), row_size, rows), c.in_shape(0)));
                });
}

Variable take_along(const Variable& x, int64_t axis, const std::vector<int64_t>& source) {
  Tensor index = Tensor::from_data(source.data(), {static_cast<int64_t>(source.size())}, DType::Int64);
  return gather(x, Variable(index), axis, 0);
}

}  // namespace detail

namespace {

void check_index(const char* op, const char* arg, const Variable& v) {
  check::defined(op, arg, v);
  if (v.dtype() != DType::Int64)
    throw TypeError(detail::cat(op, ": ", arg, " must be an int64 tensor of indices, got ", dtype_name(v.dtype()),
                                " (shape ", shape_str(v.shape()), ")"));
}

Shape sub_shape(const Shape& s, int64_t begin, int64_t end) { return Shape(s.begin() + begin, s.begin() + end); }

// int64 0, 1, .., n-1 laid along `axis` of a `ndim`-d tensor, broadcast to `shape`.
Tensor coordinate(int64_t n, int64_t axis, const Shape& shape) {
  Shape s(shape.size(), 1);
  s[axis] = n;
  return kernels::broadcast_to(kernels::arange(0, 1, n, DType::Int64).reshape(s), shape);
}

// Stacks int64 tensors of one shape along a new leading axis.
Tensor stack_coords(const std::vector<Tensor>& cs) {
  std::vector<Tensor> rows;
  for (const Tensor& c : cs) {
    Shape s = c.shape();
    s.insert(s.begin(), 1);
    rows.push_back(c.reshape(s));
  }
  return kernels::concatenate(rows, 0);
}

std::string axis_of(int64_t axis, const Shape& shape, const char* arg) {
  return detail::cat("axis ", axis, " (size ", shape[axis], ") of ", arg, " of shape ", shape_str(shape));
}

}  // namespace

// gather_nd: y[y...] = data[indices[0][y...], .., indices[M-1][y...], ...];
// gdata = scatter (adding duplicates) of gy   [adjoint: scatter_nd with add]
Variable gather_nd(const Variable& data, const Variable& indices) {
  check::defined("gather_nd", "data", data);
  check_index("gather_nd", "indices", indices);
  const int64_t m = indices.ndim() ? indices.shape()[0] : -1;
  if (m < 0 || m > data.ndim())
    throw ValueError(detail::cat("gather_nd: indices of shape ", shape_str(indices.shape()),
                                 " must be (M, ...) with M <= data.ndim for data of shape ", shape_str(data.shape())));
  std::vector<std::string> what;
  for (int64_t j = 0; j < m; ++j) what.push_back(axis_of(j, data.shape(), "data"));
  const Tensor rows = kernels::ravel_index(indices.value(), sub_shape(data.shape(), 0, m), "gather_nd", what);
  const Shape tail = sub_shape(data.shape(), m, data.ndim());
  Shape out = rows.shape();
  out.insert(out.end(), tail.begin(), tail.end());
  return reshape(detail::gather_rows("gather_nd", data, numel(tail), rows), out);
}

// scatter_nd: zeros(shape) with y[indices[:, i]] = data[i] (add: +=). Without
// add, a row named twice keeps the last write, and only that one gets a
// gradient. gdata = gather of gy (times the surviving-write mask)
Variable scatter_nd(const Variable& data, const Variable& indices, const Shape& shape, bool add) {
  check::floating("scatter_nd", "data", data);
  check_index("scatter_nd", "indices", indices);
  const int64_t m = indices.ndim() ? indices.shape()[0] : -1;
  if (m < 0 || m > static_cast<int64_t>(shape.size()))
    throw ValueError(detail::cat("scatter_nd: indices of shape ", shape_str(indices.shape()),
                                 " must be (M, ...) with M <= len(shape) for shape ", shape_str(shape)));
  check::numel("scatter_nd", "shape", shape);
  const Shape head = sub_shape(shape, 0, m), tail = sub_shape(shape, m, shape.size());
  Shape expect = sub_shape(indices.shape(), 1, indices.ndim());
  expect.insert(expect.end(), tail.begin(), tail.end());
  if (data.shape() != expect)
    throw ValueError(detail::cat("scatter_nd: data of shape ", shape_str(data.shape()), " does not fit indices of shape ",
                                 shape_str(indices.shape()), " and shape ", shape_str(shape), " (expected ",
                                 shape_str(expect), ")"));
  std::vector<std::string> what;
  for (int64_t j = 0; j < m; ++j) what.push_back(axis_of(j, shape, "the output"));
  const Tensor rows = kernels::ravel_index(indices.value(), head, "scatter_nd", what);
  const int64_t k = rows.numel(), row_size = numel(tail);
  const int64_t num_rows = numel(head);
  const Variable src = reshape(data, {k, row_size});
  if (add) return reshape(detail::scatter_rows_add("scatter_nd", src, rows, num_rows, row_size), shape);
  bool unique = true;
  Tensor y = kernels::scatter_rows_set(src.value(), rows, num_rows, row_size, &unique);
  // gdata = gy gathered at the rows; a write that a later one overwrote gets
  // none (where, not a product with a mask: NaN * 0 is NaN). The mask is
  // only computed when a row repeats and a gradient is asked for.
  Variable out = record("scatter_nd", {src}, y, kSavesNothing, [rows, unique, num_rows, row_size, k](const Ctx& c) {
    Variable g = detail::gather_rows("gather_rows", c.gy(), row_size, rows);
    if (!unique) {
      Tensor last = kernels::last_occurrence(rows, num_rows, c.in_dtype(0));
      g = where(record_nondiff(last.reshape({k, 1})), reshape(g, {k, row_size}),
                record_nondiff(Tensor::zeros({}, c.in_dtype(0))));
    }
    return grads(reshape(g, c.in_shape(0)));
  });
  return reshape(out, shape);
}

// gather: x.shape[:axis] + indices.shape[batch_dims:] + x.shape[axis+1:],
// taking along `axis` (the first batch_dims axes of x and indices are
// matched); gx = scatter-add of gy along axis
Variable gather(const Variable& x, const Variable& indices, int64_t axis, int64_t batch_dims) {
  check::defined("gather", "x", x);
  check_index("gather", "indices", indices);
  if (x.ndim() == 0) throw ValueError("gather: x has shape (); it needs an axis to gather along");
  const int64_t a = normalize_axis("gather", axis, x.ndim());
  const int64_t bd = batch_dims < 0 ? batch_dims + indices.ndim() : batch_dims;
  if (bd < 0 || bd > a || bd > indices.ndim() || sub_shape(x.shape(), 0, bd) != sub_shape(indices.shape(), 0, bd))
    throw ValueError(detail::cat("gather: batch_dims=", batch_dims, " does not fit x of shape ", shape_str(x.shape()),
                                 ", indices of shape ", shape_str(indices.shape()), " and axis=", axis,
                                 " (the first batch_dims axes of both must match, and batch_dims <= axis)"));
  const Shape& xs = x.shape();
  const int64_t b = numel(sub_shape(xs, 0, bd)), n = xs[a];
  const int64_t between = numel(sub_shape(xs, bd, a));
  const int64_t row_size = numel(sub_shape(xs, a + 1, xs.size()));
  const Shape ishape = sub_shape(indices.shape(), bd, indices.ndim());
  const int64_t ni = numel(ishape);
  const Shape grid{b, between, ni};
  Tensor idx = kernels::broadcast_to(indices.value().reshape({b, 1, ni}), grid);
  const Tensor rows = kernels::ravel_index(
      stack_coords({coordinate(b, 0, grid), coordinate(between, 1, grid), idx}), {b, between, n}, "gather",
      {"", "", axis_of(a, xs, "x")});
  Shape out = sub_shape(xs, 0, a);
  out.insert(out.end(), ishape.begin(), ishape.end());
  out.insert(out.end(), xs.begin() + a + 1, xs.end());
  return reshape(detail::gather_rows("gather", x, row_size, rows), out);
}

// scatter_add: a copy of x0 with x1[i] added at x0[i with i[axis] = indices[i]]
// (torch's scatter_add); gx0 = gy, gx1 = gy taken at those places
Variable scatter_add(const Variable& x0, const Variable& indices, const Variable& x1, int64_t axis) {
  check::floating("scatter_add", "x0", x0);
  check::floating("scatter_add", "x1", x1);
  check_index("scatter_add", "indices", indices);
  const int64_t nd = x0.ndim();
  if (nd == 0) throw ValueError("scatter_add: x0 has shape (); it needs an axis to scatter along");
  const int64_t a = normalize_axis("scatter_add", axis, nd);
  bool ok = indices.ndim() == nd && x1.ndim() == nd;
  for (int64_t d = 0; ok && d < nd; ++d)
    ok = indices.shape()[d] <= x1.shape()[d] && (d == a || indices.shape()[d] <= x0.shape()[d]);
  if (!ok)
    throw ValueError(detail::cat("scatter_add: indices of shape ", shape_str(indices.shape()),
                                 " must have the rank of x0 ", shape_str(x0.shape()), " and x1 ",
                                 shape_str(x1.shape()), ", be no larger than x1, and no larger than x0 except along axis ",
                                 a));
  const Tensor offsets =
      kernels::along_axis_offsets(indices.value(), x0.shape(), a, "scatter_add", axis_of(a, x0.shape(), "x0"));
  Variable src = x1;
  if (x1.shape() != indices.shape()) {
    std::vector<int64_t> zero(nd, 0), one(nd, 1);
    src = detail::slice_resolved(x1, zero, one, indices.shape());
  }
  auto [base, extra] = check::promote("scatter_add", x0, src);
  Variable added =
      detail::scatter_rows_add("scatter_add", reshape(extra, {offsets.numel(), 1}), offsets, x0.numel(), 1);
  return add2(base, reshape(added, x0.shape()));
}

// sort: the values along axis in (stable) order and their int64 positions;
// gx = gy scattered back to where each value came from
std::pair<Variable, Variable> sort(const Variable& x, int64_t axis, bool reverse) {
  check::defined("sort", "x", x);
  if (x.dtype() == DType::Bool) throw TypeError("sort: x must be float32, float64 or int64, got bool");
  if (x.ndim() == 0) return {x, Variable(Tensor::zeros({}, DType::Int64))};
  const int64_t a = normalize_axis("sort", axis, x.ndim());
  if (x.shape()[a] > std::numeric_limits<uint32_t>::max())
    throw ValueError(detail::cat("sort: axis ", a, " of x of shape ", shape_str(x.shape()), " is too long (>= 2^32)"));
  Tensor positions = kernels::argsort(x.value(), a, reverse);
  const Tensor offsets = kernels::along_axis_offsets(positions, x.shape(), a, "sort", "x");
  Variable values = reshape(detail::gather_rows("sort", x, 1, offsets), x.shape());
  return {values, Variable(positions)};
}

// top_k_data: per sample (axes from base_axis on, flattened), the k largest
// (smallest; of |x| with abs) values in rank order (reduce) or x with the
// others zeroed (not reduce); gx = gy at the chosen places
std::pair<Variable, Variable> top_k_data(const Variable& x, int64_t k, bool abs, bool reduce, int64_t base_axis,
                                         bool largest) {
  check::floating("top_k_data", "x", x);
  if (base_axis < 0 || base_axis > x.ndim())
    throw IndexError(detail::cat("top_k_data: base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  const Shape lead = sub_shape(x.shape(), 0, base_axis);
  const int64_t samples = numel(lead), f = numel(sub_shape(x.shape(), base_axis, x.ndim()));
  if (k < 1 || k > f)
    throw IndexError(detail::cat("top_k_data: k=", k, " is out of range for samples of ", f,
                                 " elements (x of shape ", shape_str(x.shape()), ", base_axis=", base_axis, ")"));
  const Tensor index = kernels::top_k_indices(x.value().reshape({samples, f}), k, abs, largest);
  const Shape grid{samples, k};
  const Tensor rows = kernels::ravel_index(stack_coords({coordinate(samples, 0, grid), index}), {samples, f},
                                           "top_k_data", {"", "x"});
  Shape out = lead;
  out.push_back(k);
  Variable values;
  if (reduce) {
    values = reshape(detail::gather_rows("top_k_data", x, 1, rows), out);
  } else {
    Tensor mask = kernels::scatter_rows_add(Tensor::ones({rows.numel(), 1}, x.dtype()), rows, x.numel(), 1);
    // (where, not x * mask: an inf among the entries set to 0 would give NaN)
    values = where(record_nondiff(mask.reshape(x.shape())), x, record_nondiff(Tensor::zeros({}, x.dtype())));
  }
  return {values, Variable(index.reshape(out))};
}

// top_k_grad: y = x; gx = gy with all but its k largest (|gy| with abs)
// entries per sample zeroed
Variable top_k_grad(const Variable& x, int64_t k, bool abs, int64_t base_axis) {
  check::floating("top_k_grad", "x", x);
  if (base_axis < 0 || base_axis > x.ndim())
    throw IndexError(detail::cat("top_k_grad: base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  const int64_t f = numel(sub_shape(x.shape(), base_axis, x.ndim()));
  if (k < 1 || k > f)
    throw IndexError(detail::cat("top_k_grad: k=", k, " is out of range for samples of ", f,
                                 " elements (x of shape ", shape_str(x.shape()), ", base_axis=", base_axis, ")"));
  return record("top_k_grad", {x}, x.value(), kSavesNothing, [k, abs, base_axis](const Ctx& c) {
    return grads(top_k_data(c.gy(), k, abs, false, base_axis, true).first);
  });
}

// one_hot: x int64 (..., len(shape)) -> float32 (..., *shape), 1 at the
// position x names (negative indices count from the end); no gradient
Variable one_hot(const Variable& x, const Shape& shape) {
  check_index("one_hot", "x", x);
  const int64_t l = static_cast<int64_t>(shape.size());
  if (x.ndim() == 0 || x.shape().back() != l || l == 0)
    throw ValueError(detail::cat("one_hot: the last axis of x (shape ", shape_str(x.shape()),
                                 ") must have length len(shape) = ", l, " (shape ", shape_str(shape), ")"));
  for (int64_t d : shape)
    if (d <= 0) throw ValueError(detail::cat("one_hot: shape ", shape_str(shape), " must be positive"));
  const Shape lead = sub_shape(x.shape(), 0, x.ndim() - 1);
  Shape out = lead;
  out.insert(out.end(), shape.begin(), shape.end());
  const std::string what_out = detail::cat("shape ", shape_str(shape), " for x of shape ", shape_str(x.shape()));
  check::numel("one_hot", what_out, {check::numel("one_hot", what_out, out), 4});  // and its float32 bytes
  const int64_t n = numel(lead), p = numel(shape);
  // coords (1 + l, n): the sample, then its l indices
  Tensor idx = kernels::transpose(x.value().reshape({n, l}), {1, 0});
  const Tensor coords = kernels::concatenate({kernels::arange(0, 1, n, DType::Int64).reshape({1, n}), idx}, 0);
  Shape dims{n};
  dims.insert(dims.end(), shape.begin(), shape.end());
  std::vector<std::string> what{""};
  for (int64_t j = 0; j < l; ++j) what.push_back(detail::cat("axis ", j, " of shape ", shape_str(shape)));
  const Tensor rows = kernels::ravel_index(coords, dims, "one_hot", what);
  Tensor y = kernels::scatter_rows_add(Tensor::ones({n, 1}, DType::Float32), rows, n * p, 1);
  return record_nondiff(y.reshape(out));
}

// searchsorted: per value, its insertion position in the innermost axis of
// sorted_sequence (the leading axes of both match); int64, no gradient
Variable searchsorted(const Variable& sorted_sequence, const Variable& values, bool right) {
  check::defined("searchsorted", "sorted_sequence", sorted_sequence);
  check::defined("searchsorted", "values", values);
  const Shape& ss = sorted_sequence.shape();
  const Shape& vs = values.shape();
  if (sorted_sequence.ndim() == 0 || values.ndim() == 0 || sub_shape(ss, 0, ss.size() - 1) != sub_shape(vs, 0, vs.size() - 1))
    throw ValueError(detail::cat("searchsorted: sorted_sequence of shape ", shape_str(ss), " and values of shape ",
                                 shape_str(vs), " must match on every axis but the last"));
  Variable s = sorted_sequence, v = values;
  if (s.dtype() != v.dtype()) std::tie(s, v) = check::promote("searchsorted", s, v);
  if (s.dtype() == DType::Bool) throw TypeError("searchsorted: bool tensors cannot be searched");
  const int64_t rows = numel(sub_shape(ss, 0, ss.size() - 1));
  Tensor y = kernels::searchsorted(s.value().reshape({rows, ss.back()}), v.value().reshape({rows, vs.back()}), right);
  return record_nondiff(y.reshape(vs));
}

}  // namespace nthgrad
