// Pooling (technical note section 3). max_pooling is a kernel that also finds
// each window's argmax; its rule is a scatter-add at the argmax, whose rule is
// the gather at the argmax (the adjoint pair of ops/index.cpp), so every
// order follows. sum_pooling and average_pooling are a kernel op and its
// adjoint kernel op (the same weights spread over each window), each the
// other's rule, as interpolate / interpolate_backward. global_average_pooling
// (mean + reshape), unpooling (reshape + broadcast + reshape) and embed (a
// gather of rows) are compositions.
#include "nthgrad/ops/pooling.h"

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/array_internal.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

using kernels::PoolGeometry;
using kernels::PoolWeight;

// Kernel, stride and pad entries are below 2^31 (nnabla's int), so sizes such as L + 2p cannot overflow.
constexpr int64_t kMaxSize = (int64_t{1} << 31) - 1;

struct Pooling {
  PoolGeometry g;
  Shape y_shape;
};

// Checks the arguments of max / sum / average pooling and resolves the window
// geometry. `nonempty`: every window must hold an input element (max, and
// average without including_pad, have no value for an empty window).
Pooling pooling_geometry(const char* op, const Variable& x, const std::vector<int64_t>& kernel,
                         std::vector<int64_t> stride, bool ignore_border, std::vector<int64_t> pad, bool channel_last,
                         bool nonempty) {
  check::floating(op, "x", x);
  const auto n = static_cast<int64_t>(kernel.size());
  const std::string given = detail::cat("(x of shape ", shape_str(x.shape()), ", kernel ", shape_str(kernel), ")");
  if (n != 2 && n != 3)
    throw ValueError(detail::cat(op, ": kernel must have 2 or 3 entries (2-d or 3-d pooling), got ", n, " ", given));
  if (stride.empty()) stride = kernel;
  if (pad.empty()) pad.assign(kernel.size(), 0);
  if (static_cast<int64_t>(stride.size()) != n || static_cast<int64_t>(pad.size()) != n)
    throw ValueError(detail::cat(op, ": stride ", shape_str(stride), " and pad ", shape_str(pad),
                                 " must have one entry per kernel axis ", given));
  const int64_t ndim = x.ndim();
  const int64_t first = ndim - n - (channel_last ? 1 : 0);  // the first pooled axis
  if (first < 0)
    throw ValueError(detail::cat(op, ": x needs at least ", n + (channel_last ? 1 : 0), " axes for a ", n,
                                 "-d pooling", channel_last ? " with channel_last" : "", " ", given));
  Pooling p;
  p.y_shape = x.shape();
  for (int64_t a = 0; a < first; ++a) p.g.outer *= x.shape()[a];
  if (channel_last) p.g.inner = x.shape()[ndim - 1];
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = kernel[i], s = stride[i], pd = pad[i], L = x.shape()[first + i];
    if (k < 1 || s < 1 || pd < 0 || k > kMaxSize || s > kMaxSize || pd > kMaxSize)
      throw ValueError(detail::cat(op, ": kernel and stride must be in [1, 2^31) and pad in [0, 2^31), got kernel ",
                                   shape_str(kernel), ", stride ", shape_str(stride), ", pad ", shape_str(pad),
                                   " (x of shape ", shape_str(x.shape()), ")"));
    if (ignore_border && L + 2 * pd < k)
      throw ValueError(detail::cat(op, ": kernel ", k, " is larger than the padded input ", L + 2 * pd,
                                   " (size ", L, " + 2 * pad ", pd, ") along axis ", first + i, " ", given));
    // floor division: with ignore_border=False an empty axis and no pad give O = 0
    const int64_t O = ignore_border ? (L + 2 * pd - k) / s + 1 : (L + pd - 1 >= 0 ? (L + pd - 1) / s + 1 : 0);
    if (nonempty && O > 0 && (L == 0 || pd >= k))
      throw ValueError(detail::cat(op, ": some windows hold no input element (pad ", pd, " >= kernel ", k,
                                   " or an empty axis ", first + i, ") ", given));
    const int64_t d = i + 3 - n;  // 2-d pooling uses geometry axes 1 and 2
    p.g.in[d] = L;
    p.g.out[d] = O;
    p.g.kernel[d] = k;
    p.g.stride[d] = s;
    p.g.pad[d] = pd;
    p.y_shape[first + i] = O;
  }
  check::numel(op, "the output shape", p.y_shape);
  return p;
}

// The weighted window sum (sum / average pooling) and its adjoint: each is the other's rule.
struct WindowOp {
  const char* name;
  const char* backward_name;
  PoolWeight weight;
};

Variable window_pooling_backward(const Variable& gy, const WindowOp& op, const PoolGeometry& g, const Shape& x_shape);

Variable window_pooling(const Variable& x, const WindowOp& op, const Pooling& p) {
  const Shape x_shape = x.shape();
  return record(op.name, {x}, kernels::window_pooling(x.value(), p.g, op.weight, p.y_shape), kSavesNothing,
                [op, g = p.g, x_shape](const Ctx& c) { return grads(window_pooling_backward(c.gy(), op, g, x_shape)); });
}

Variable window_pooling_backward(const Variable& gy, const WindowOp& op, const PoolGeometry& g, const Shape& x_shape) {
  const Pooling p{g, gy.shape()};
  return record(op.backward_name, {gy}, kernels::window_pooling_backward(gy.value(), g, op.weight, x_shape),
                kSavesNothing, [op, p](const Ctx& c) { return grads(window_pooling(c.gy(), op, p)); });
}

}  // namespace

// max_pooling: y = the max of each window; gx = gy scatter-added at the argmax.
Variable max_pooling(const Variable& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                     bool ignore_border, const std::vector<int64_t>& pad, bool channel_last) {
  const Pooling p = pooling_geometry("max_pooling", x, kernel, stride, ignore_border, pad, channel_last, true);
  Tensor argmax;
  Tensor y = kernels::max_pooling(x.value(), p.g, p.y_shape, argmax);
  const Shape x_shape = x.shape();
  return record("max_pooling", {x}, std::move(y), kSavesNothing, [argmax, x_shape](const Ctx& c) {
    const Variable gy = reshape(c.gy(), {argmax.numel(), 1});
    return grads(
        reshape(detail::scatter_rows_add("max_pooling_backward", gy, argmax, numel(x_shape), 1), x_shape));
  });
}

// average_pooling: y_o = (sum of window o) / divisor_o; gx = average_pooling_backward(gy)
Variable average_pooling(const Variable& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                         bool ignore_border, const std::vector<int64_t>& pad, bool channel_last, bool including_pad) {
  const Pooling p =
      pooling_geometry("average_pooling", x, kernel, stride, ignore_border, pad, channel_last, !including_pad);
  const WindowOp op{"average_pooling", "average_pooling_backward",
                    including_pad ? PoolWeight::AverageIncludingPad : PoolWeight::AverageValid};
  return window_pooling(x, op, p);
}

// sum_pooling: y_o = sum of window o; gx = sum_pooling_backward(gy)
Variable sum_pooling(const Variable& x, const std::vector<int64_t>& kernel, const std::vector<int64_t>& stride,
                     bool ignore_border, const std::vector<int64_t>& pad, bool channel_last) {
  const Pooling p = pooling_geometry("sum_pooling", x, kernel, stride, ignore_border, pad, channel_last, false);
  return window_pooling(x, {"sum_pooling", "sum_pooling_backward", PoolWeight::Sum}, p);
}

// global_average_pooling: mean over the axes after 1, as (N, C, 1, 1).
Variable global_average_pooling(const Variable& x) {
  check::floating("global_average_pooling", "x", x);
  if (x.ndim() < 2)
    throw ValueError(detail::cat("global_average_pooling: x must have at least 2 axes (N, C, ...), got shape ",
                                 shape_str(x.shape())));
  const Shape out{x.shape()[0], x.shape()[1], 1, 1};
  if (x.ndim() == 2) return reshape(x, out);
  Axes spatial;
  for (int64_t a = 2; a < x.ndim(); ++a) spatial.push_back(a);
  return reshape(mean(x, spatial), out);
}

// unpooling: x (..., L_1..L_n[, C]) -> (..., L_1 k_1, .., L_n k_n[, C]), each
// element repeated over a k block: x seen as (.., L_i, 1, ..) broadcast to
// (.., L_i, k_i, ..). gx = the block sums (broadcast's rule).
Variable unpooling(const Variable& x, const std::vector<int64_t>& kernel, bool channel_last) {
  check::floating("unpooling", "x", x);
  const auto n = static_cast<int64_t>(kernel.size());
  const int64_t first = x.ndim() - n - (channel_last ? 1 : 0);
  if (n < 1 || first < 0)
    throw ValueError(detail::cat("unpooling: kernel ", shape_str(kernel), " needs 1 to ",
                                 x.ndim() - (channel_last ? 1 : 0), " entries for x of shape ", shape_str(x.shape()),
                                 channel_last ? " (channel_last)" : ""));
  for (int64_t k : kernel)
    if (k < 1 || k > kMaxSize)
      throw ValueError(detail::cat("unpooling: kernel entries must be in [1, 2^31), got ", shape_str(kernel),
                                   " (x of shape ", shape_str(x.shape()), ")"));
  Shape split, blocks, out;
  for (int64_t a = 0; a < x.ndim(); ++a) {
    const int64_t L = x.shape()[a];
    const bool pooled = a >= first && a < first + n;
    const int64_t k = pooled ? kernel[a - first] : 1;
    split.push_back(L);
    blocks.push_back(L);
    if (pooled) {
      split.push_back(1);
      blocks.push_back(k);
    }
    out.push_back(L * k);
  }
  check::numel("unpooling", "the output shape", out);
  return reshape(broadcast(reshape(x, split), blocks), out);
}

// embed: y = w[x0] (rows of w); gw = gy scatter-added at x0.
Variable embed(const Variable& x0, const Variable& w) {
  check::defined("embed", "x0", x0);
  if (x0.dtype() != DType::Int64)
    throw TypeError(detail::cat("embed: x0 must be an int64 tensor of indices, got ", dtype_name(x0.dtype()),
                                " (shape ", shape_str(x0.shape()), ")"));
  check::floating("embed", "w", w);
  if (w.ndim() < 1)
    throw ValueError(detail::cat("embed: w must have at least one axis (rows), got shape ", shape_str(w.shape())));
  const int64_t rows = w.shape()[0];
  const Tensor& index = x0.value();
  const int64_t* pi = index.data<int64_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    if (pi[i] < 0 || pi[i] >= rows)
      throw IndexError(detail::cat("embed: index ", pi[i], " is out of range for w of shape ", shape_str(w.shape()),
                                   rows > 0 ? detail::cat(" (valid: 0 to ", rows - 1, ")") : std::string(" (no rows)")));
  const Shape w_tail(w.shape().begin() + 1, w.shape().end());
  Shape out = x0.shape();
  out.insert(out.end(), w_tail.begin(), w_tail.end());
  return reshape(detail::gather_rows("embed", w, numel(w_tail), index), out);
}

}  // namespace nthgrad
